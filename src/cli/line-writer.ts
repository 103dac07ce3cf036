/**
 * Writes log lines to a file descriptor (stdout) in few writes, and never loses a warning or an
 * error (drops among them) to a slow reader.
 *
 * Batching: routine lines are written at most FLUSH_DELAY_MS late, or as soon as FLUSH_BYTES are
 * pending; warnings and errors at once. On Linux a write to a pipe is a syscall on the hot path
 * (measured in bench/), hence the batching.
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

export type LostReason = 'shed' | 'closed'

export interface LineWriterOptions {
  readonly fd: number
  /** called once per line that will never be written, with why */
  readonly onLost?: (level: LogLevel, reason: LostReason) => void
  /** queued bytes past which routine (debug, info) lines are shed; default 1 MiB */
  readonly routineMaxBytes?: number
  /** queued bytes past which a warning or error blocks the process until written; default 16 MiB */
  readonly priorityMaxBytes?: number
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

/** Wall-clock time for the blocking waits only; no other time is read here. */
const monotonicMs = (): number => performance.now()

export function createLineWriter(options: LineWriterOptions): LineWriter {
  const { fd } = options
  const onLost = options.onLost ?? (() => undefined)
  const routineMaxBytes = options.routineMaxBytes ?? 1024 * 1024
  const priorityMaxBytes = options.priorityMaxBytes ?? 16 * 1024 * 1024
  // A line costs two array slots on the way in (the access log writes one per request); what each
  // line's bytes are is only worked out when lines are lost, which is rare.
  /** lines not yet handed to the kernel, in order, and their levels */
  let pendingLines: string[] = []
  let pendingLevels: LogLevel[] = []
  let pendingBytes = 0
  /** the unwritten tail of a partial write; always goes before the pending lines */
  let head: Buffer | undefined
  /** the batch `head` was cut from, and how many of its bytes were written */
  let headLines: string[] = []
  let headLevels: LogLevel[] = []
  let headWritten = 0
  let timer: NodeJS.Timeout | undefined
  let isClosed = false
  // Atomics.wait on a private cell is a sleep that blocks this thread without spinning.
  const sleepCell = new Int32Array(new SharedArrayBuffer(4))

  const queuedBytes = (): number => pendingBytes + (head?.byteLength ?? 0)

  const schedule = (delayMs: number): void => {
    if (timer) return
    timer = setTimeout(() => {
      timer = undefined
      attempt()
    }, delayMs)
    // A queued log line must not keep the process alive on its own; exits go through flushSync.
    timer.unref()
  }

  const loseEverything = (): void => {
    isClosed = true
    // A line partly written is lost too: its reader gets a broken line.
    if (head) {
      let end = 0
      headLines.forEach((line, i) => {
        end += Buffer.byteLength(line, 'utf8')
        if (end > headWritten) onLost(headLevels[i] ?? 'info', 'closed')
      })
    }
    for (const level of pendingLevels) onLost(level, 'closed')
    head = undefined
    headLines = []
    headLevels = []
    pendingLines = []
    pendingLevels = []
    pendingBytes = 0
  }

  /** Writes as much as the fd takes now; returns false when the pipe is full. */
  const writeNow = (): boolean => {
    for (;;) {
      if (!head) {
        if (pendingLines.length === 0) return true
        head = Buffer.from(pendingLines.join(''), 'utf8')
        headLines = pendingLines
        headLevels = pendingLevels
        headWritten = 0
        pendingLines = []
        pendingLevels = []
        pendingBytes = 0
      }
      let written: number
      try {
        written = writeSync(fd, head)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false
        if (code === 'EINTR') continue
        // EPIPE, EBADF, ...: no reader will ever see these lines.
        loseEverything()
        return true
      }
      headWritten += written
      if (written < head.byteLength) head = head.subarray(written)
      else {
        head = undefined
        headLines = []
        headLevels = []
      }
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
    return queuedBytes() === 0
  }

  return {
    write(line, level) {
      if (isClosed) return onLost(level, 'closed')
      const isPriority = level === 'warn' || level === 'error'
      if (!isPriority && queuedBytes() >= routineMaxBytes) return onLost(level, 'shed')
      pendingLines.push(line)
      pendingLevels.push(level)
      pendingBytes += line.length
      if (isPriority) {
        attempt()
        // Block rather than lose: the reader has fallen this far behind, the proxy waits for it.
        if (queuedBytes() >= priorityMaxBytes) flushSync(Number.POSITIVE_INFINITY)
      } else if (pendingBytes >= FLUSH_BYTES) attempt()
      else schedule(FLUSH_DELAY_MS)
    },
    flush: attempt,
    flushSync,
    get queuedBytes() {
      return queuedBytes()
    },
  }
}
