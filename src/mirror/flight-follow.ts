/**
 * The bytes of a file another process is downloading, as a stream shaped like an upstream
 * response: read from the leader's temporary blob as it grows (store/flights.ts). The Download
 * that consumes it verifies, stores and serves these bytes exactly as upstream bytes, so nothing
 * written by another process is served unchecked.
 *
 * When the leader ends short of the file (it gave up, or was killed and its lock went stale),
 * this process takes the lock over and goes on from the upstream, skipping the bytes it already
 * has, unless the file is committed by then (a leader releases the lock only after its commit);
 * if a third process was quicker, it follows that one from the same position.
 */
import type { BlobReader, Flight } from '../store/index.js'
import type { UpstreamStream } from '../upstream/index.js'

/** How often a follower looks for new bytes while the leader's temporary blob has none: a poll, as there is no cross-process wake-up. */
const POLL_MS = 20
const READ_BYTES = 256 * 1024

export interface FollowOptions {
  readonly flight: Flight
  /** the file's length from the evidence, if known */
  readonly expectedSize: number | undefined
  /** a reader of the committed blob, when the evidence names it and it is stored */
  readonly openCommitted: () => Promise<BlobReader | undefined>
  /** the committed blob's length, when the evidence names it and it is stored */
  readonly committedSize: () => number | undefined
  /** after a takeover: announce this process's writer and open the upstream */
  readonly lead: () => Promise<UpstreamStream>
}

/** What a download reads from an upstream response. */
export type ByteSource = Pick<UpstreamStream, 'body' | 'contentLength' | 'abort'>

export function followLeader(options: FollowOptions): ByteSource {
  const controller = new AbortController()
  let upstream: UpstreamStream | undefined
  return {
    contentLength: options.expectedSize,
    body: follow(options, controller.signal, (stream) => (upstream = stream)),
    abort() {
      controller.abort()
      upstream?.abort()
    },
  }
}

async function* follow(options: FollowOptions, signal: AbortSignal, onUpstream: (stream: UpstreamStream) => void): AsyncGenerator<Uint8Array> {
  const { flight } = options
  let position = 0
  let reader: BlobReader | undefined
  /** the reader is of the committed blob, whose end is the file's end */
  let isFinal = false
  try {
    for (;;) {
      signal.throwIfAborted()
      reader ??= await flight.openLeaderReader()
      if (!reader) {
        // The leader named no temporary blob yet, or it is gone: committed by now, perhaps.
        reader = await options.openCommitted()
        isFinal = reader !== undefined
      }
      if (reader) {
        const buffer = Buffer.allocUnsafe(READ_BYTES)
        const bytesRead = await reader.read(buffer, position, READ_BYTES)
        if (bytesRead > 0) {
          position += bytesRead
          yield buffer.subarray(0, bytesRead)
          continue
        }
        if (isFinal) return
        const state = await flight.leaderState()
        if (state === 'running') {
          await delay(POLL_MS, signal)
          continue
        }
        // The leader stopped writing: what it wrote before stopping is readable now.
        if ((await reader.read(buffer, position, 1)) > 0) continue
        if (state === 'ended' && (options.expectedSize ?? options.committedSize()) === position) return
        await reader.close()
        reader = undefined
      }
      if (await flight.takeOver()) {
        // The leader releases the lock after its commit (file-download.ts): a lock found free
        // may be one whose file is stored now, though it was not when this process last looked.
        const committed = await options.openCommitted()
        if (committed) {
          await flight.release()
          reader = committed
          isFinal = true
          continue
        }
        const stream = await options.lead()
        onUpstream(stream)
        yield* skip(stream.body, position)
        return
      }
      // A live leader is still connecting, or another follower leads now: follow it from here.
      await delay(POLL_MS, signal)
    }
  } finally {
    await reader?.close()
  }
}

async function* skip(body: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Uint8Array> {
  let toSkip = bytes
  for await (const chunk of body) {
    if (toSkip >= chunk.byteLength) {
      toSkip -= chunk.byteLength
      continue
    }
    yield toSkip > 0 ? chunk.subarray(toSkip) : chunk
    toSkip = 0
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
