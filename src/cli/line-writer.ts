/**
 * Writes log lines to a file descriptor (stdout) in few writes, and never loses a warning or an
 * error (drops among them) to a slow reader.
 *
 * Batching: routine lines are written at most FLUSH_DELAY_MS late, or as soon as FLUSH_BYTES are
 * pending; warnings and errors at once. On Linux a write to a pipe is a syscall on the hot path
 * (measured in bench/), hence the batching.
 *
 * Queued lines are kept as their UTF-8 bytes, copied into reused chunks the moment they are
 * written, not as strings: a string kept for a batch outlives the young generation's collections
 * (a 1 MiB semi-space, see cli.ts), so each was copied and then promoted, and the access log cost
 * several microseconds a line in garbage collection (measured in bench/, issue 9).
 *
 * Back-pressure: once Node has opened stdout as a stream the pipe is non-blocking, so a reader
 * that pauses makes writeSync fail with EAGAIN or write only part of the text. What was not
 * written stays queued (in order, never cut mid-line) and is retried after RETRY_DELAY_MS. While
 * the queue is over ROUTINE_MAX_BYTES, new routine lines (the access log) are shed; warnings and
 * errors are always queued, and when the queue is over PRIORITY_MAX_BYTES the writer blocks the
 * process until the reader has taken it, since a drop that was never logged is worse than a
 * pause. Every line that is not written is counted through `onLost`. Only a stdout that is gone
 * (EPIPE, EBADF) loses warnings and errors, and those are counted too.
 *
 * Several processes on one stdout (`--workers`): each write is then whole lines of at most
 * PIPE_BUF bytes, which POSIX makes atomic on a pipe (all of it or EAGAIN, never part), so another
 * process's write cannot land inside a line. A line longer than PIPE_BUF is written on its own and
 * may still be split by the kernel; access-log lines are a few hundred bytes.
 *
 * It deliberately does not own a stream: `process.stdout.write` buffers without bound in memory
 * and is lost when the process dies, which is what `flushSync` is for.
 */
import { writeSync } from 'node:fs'
import type { LogLevel } from '../base/index.js'

/** Routine lines are written when this much is buffered, or after FLUSH_DELAY_MS, whichever is first. */
const FLUSH_BYTES = 64 * 1024
const FLUSH_DELAY_MS = 50
/** How soon a write that found the pipe full is tried again. */
const RETRY_DELAY_MS = 10
/** The size of a chunk of queued bytes (a longer line gets a chunk of its own size). */
const CHUNK_BYTES = FLUSH_BYTES
/** POSIX PIPE_BUF on Linux: a pipe write of at most this many bytes is atomic. */
const PIPE_BUF = 4096
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_BYTES_PER_UNIT = 3

export type LostReason = 'shed' | 'closed'

export interface LineWriterOptions {
  readonly fd: number
  /** called once per line that will never be written, with why */
  readonly onLost?: (level: LogLevel, reason: LostReason) => void
  /** queued bytes past which routine (debug, info) lines are shed; default 1 MiB */
  readonly routineMaxBytes?: number
  /** queued bytes past which a warning or error blocks the process until written; default 16 MiB */
  readonly priorityMaxBytes?: number
  /** other processes write to the same fd: write whole lines, PIPE_BUF at a time (see above) */
  readonly isShared?: boolean
}

export interface LineWriter {
  write(line: string, level: LogLevel): void
  /** Writes what the pipe takes now; the rest is retried shortly. */
  flush(): void
  /**
   * Writes everything queued before returning, blocking while the pipe is full, for at most
   * `maxWaitMs`; for the last lines of a process that is about to exit. Returns whether the
   * queue is empty; lines left when the wait runs out are counted as lost.
   */
  flushSync(maxWaitMs: number): boolean
  /** queued bytes not yet written */
  readonly queuedBytes: number
}

/**
 * Queued lines: bytes[written, used) are not yet handed to the kernel. Line `i` (of `lines`)
 * ends at `ends[i]` and has level LEVELS[levels[i]], for counting the lines lost if the reader
 * goes; typed arrays, so that recording a line allocates nothing either.
 */
interface Chunk {
  readonly bytes: Buffer
  used: number
  written: number
  lines: number
  /** lines wholly written: ends[writtenLines] is the end of the first line not yet written */
  writtenLines: number
  ends: Uint32Array
  levels: Uint8Array
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
const LEVEL_CODES: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 }
/** Lines a chunk has room to record at first; room for more is made when they are shorter than ~64 bytes. */
const CHUNK_LINES = 1024

/** Wall-clock time for the blocking waits only; no other time is read here. */
const monotonicMs = (): number => performance.now()

const newChunk = (byteLength: number): Chunk => ({
  bytes: Buffer.allocUnsafeSlow(byteLength),
  used: 0,
  written: 0,
  lines: 0,
  writtenLines: 0,
  ends: new Uint32Array(CHUNK_LINES),
  levels: new Uint8Array(CHUNK_LINES),
})

const emptied = (chunk: Chunk): Chunk => {
  chunk.used = 0
  chunk.written = 0
  chunk.lines = 0
  chunk.writtenLines = 0
  return chunk
}

const record = (chunk: Chunk, level: LogLevel): void => {
  if (chunk.lines === chunk.ends.length) {
    const ends = new Uint32Array(chunk.lines * 2)
    ends.set(chunk.ends)
    chunk.ends = ends
    const levels = new Uint8Array(chunk.lines * 2)
    levels.set(chunk.levels)
    chunk.levels = levels
  }
  chunk.ends[chunk.lines] = chunk.used
  chunk.levels[chunk.lines] = LEVEL_CODES[level]
  chunk.lines += 1
}

/**
 * How many of the chunk's unwritten bytes one write may take when the fd is shared: the whole
 * lines that fit in PIPE_BUF, or the first line alone when it is longer.
 */
function sharedWriteLength(chunk: Chunk): number {
  while (chunk.writtenLines < chunk.lines && (chunk.ends[chunk.writtenLines] ?? 0) <= chunk.written) chunk.writtenLines += 1
  let end = chunk.ends[chunk.writtenLines] ?? chunk.used
  for (let i = chunk.writtenLines + 1; i < chunk.lines; i++) {
    const next = chunk.ends[i] ?? chunk.used
    if (next - chunk.written > PIPE_BUF) break
    end = next
  }
  return end - chunk.written
}

export function createLineWriter(options: LineWriterOptions): LineWriter {
  const { fd } = options
  const isShared = options.isShared ?? false
  const onLost = options.onLost ?? (() => undefined)
  const routineMaxBytes = options.routineMaxBytes ?? 1024 * 1024
  const priorityMaxBytes = options.priorityMaxBytes ?? 16 * 1024 * 1024
  /** in order; only the first may be partly written, only the last has room for more */
  let chunks: Chunk[] = []
  /** a written chunk kept for the next lines, so a steady log allocates no buffers */
  let spare: Chunk | undefined
  let queuedBytes = 0
  /** queued since the last try: a pipe found full is tried again on a timer, not for every line */
  let sinceTryBytes = 0
  let timer: NodeJS.Timeout | undefined
  let isClosed = false
  // Atomics.wait on a private cell is a sleep that blocks this thread without spinning.
  const sleepCell = new Int32Array(new SharedArrayBuffer(4))

  const schedule = (delayMs: number): void => {
    if (timer) return
    timer = setTimeout(() => {
      timer = undefined
      attempt()
    }, delayMs)
    // A queued log line must not keep the process alive on its own; exits go through flushSync.
    timer.unref()
  }

  /** The chunk to copy a line of `line.length` code units into. */
  const tailFor = (line: string): Chunk => {
    const tail = chunks[chunks.length - 1]
    if (tail && tail.bytes.byteLength - tail.used >= line.length * MAX_UTF8_BYTES_PER_UNIT) return tail
    const byteLength = Buffer.byteLength(line, 'utf8')
    if (tail && tail.bytes.byteLength - tail.used >= byteLength) return tail
    const chunk = byteLength <= CHUNK_BYTES && spare ? emptied(spare) : newChunk(Math.max(CHUNK_BYTES, byteLength))
    if (chunk === spare) spare = undefined
    chunks.push(chunk)
    return chunk
  }

  const loseEverything = (): void => {
    isClosed = true
    for (const chunk of chunks) {
      // A line partly written is lost too: its reader gets a broken line.
      for (let i = 0; i < chunk.lines; i++) {
        if ((chunk.ends[i] ?? 0) > chunk.written) onLost(LEVELS[chunk.levels[i] ?? 1] ?? 'info', 'closed')
      }
    }
    chunks = []
    spare = undefined
    queuedBytes = 0
  }

  /** Writes as much as the fd takes now; returns false when the pipe is full. */
  const writeNow = (): boolean => {
    sinceTryBytes = 0
    for (;;) {
      const head = chunks[0]
      if (!head) return true
      if (head.written === head.used) {
        chunks.shift()
        if (head.bytes.byteLength === CHUNK_BYTES) spare = head
        continue
      }
      let written: number
      try {
        written = writeSync(fd, head.bytes, head.written, isShared ? sharedWriteLength(head) : head.used - head.written)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false
        if (code === 'EINTR') continue
        // EPIPE, EBADF, ...: no reader will ever see these lines.
        loseEverything()
        return true
      }
      head.written += written
      queuedBytes -= written
    }
  }

  const attempt = (): void => {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (isClosed) return
    if (!writeNow()) schedule(RETRY_DELAY_MS)
  }

  const flushSync = (maxWaitMs: number): boolean => {
    if (timer) clearTimeout(timer)
    timer = undefined
    const deadline = monotonicMs() + maxWaitMs
    while (!isClosed && !writeNow()) {
      const leftMs = deadline - monotonicMs()
      if (leftMs <= 0) {
        loseEverything()
        return false
      }
      Atomics.wait(sleepCell, 0, 0, Math.min(RETRY_DELAY_MS, leftMs))
    }
    return queuedBytes === 0
  }

  return {
    write(line, level) {
      if (isClosed) return onLost(level, 'closed')
      const isPriority = level === 'warn' || level === 'error'
      if (!isPriority && queuedBytes >= routineMaxBytes) return onLost(level, 'shed')
      const chunk = tailFor(line)
      const byteLength = chunk.bytes.write(line, chunk.used)
      chunk.used += byteLength
      record(chunk, level)
      queuedBytes += byteLength
      sinceTryBytes += byteLength
      if (isPriority) {
        attempt()
        // Block rather than lose: the reader has fallen this far behind, the proxy waits for it.
        if (queuedBytes >= priorityMaxBytes) flushSync(Number.POSITIVE_INFINITY)
      } else if (sinceTryBytes >= FLUSH_BYTES) attempt()
      else schedule(FLUSH_DELAY_MS)
    },
    flush: attempt,
    flushSync,
    get queuedBytes() {
      return queuedBytes
    },
  }
}
