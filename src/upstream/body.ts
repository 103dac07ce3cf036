/**
 * Bounded reading of one response body: counts bytes against the caller's maxBytes, checks the
 * total against Content-Length, and turns every early end into a typed error. A truncated body is
 * always an error, never a short success. Does not own the request or its status handling.
 */
import type { Readable } from 'node:stream'
import { maskUrl } from '../base/index.js'
import { mapBodyError, UpstreamProtocolError, UpstreamSlowError, UpstreamTooLargeError } from './errors.js'

export interface BodyLimits {
  readonly url: string
  readonly maxBytes: number
  readonly contentLength: number | undefined
  readonly signal: AbortSignal | undefined
  /** 0 = no floor; see UpstreamOptions.minBytesPerSecond */
  readonly minBytesPerSecond: number
  readonly rateWindowMs: number
}

/**
 * Destroys `body` with an UpstreamSlowError when a window of `rateWindowMs` passes with fewer
 * than `minBytesPerSecond` bytes per second received. A timer rather than a check per chunk, so
 * a drip of one byte a minute is ended after one window, not after its next byte.
 * @returns a function that counts received bytes, and one that stops the watch.
 */
function watchRate(body: Readable, limits: BodyLimits, url: string): { received(bytes: number): void; stop(): void } {
  if (limits.minBytesPerSecond === 0) return { received: () => undefined, stop: () => undefined }
  const floorBytes = Math.ceil((limits.minBytesPerSecond * limits.rateWindowMs) / 1000)
  let inWindow = 0
  const timer = setInterval(() => {
    if (inWindow < floorBytes) {
      const rate = Math.round((inWindow * 1000) / limits.rateWindowMs)
      body.destroy(new UpstreamSlowError(`upstream sent ${url} at ${rate} bytes/s over ${limits.rateWindowMs} ms, below the floor of ${limits.minBytesPerSecond} bytes/s (--upstream-min-rate)`))
    }
    inWindow = 0
  }, limits.rateWindowMs)
  timer.unref()
  return { received: (bytes) => void (inWindow += bytes), stop: () => clearInterval(timer) }
}

/**
 * Yields the body's chunks, destroying the connection as soon as it grows past maxBytes.
 * @throws {UpstreamTooLargeError} past maxBytes; {UpstreamTimeoutError} when the body stalls longer
 *   than bodyTimeoutMs; {UpstreamSlowError} below the rate floor; {UpstreamProtocolError} when it ends before Content-Length; the signal's
 *   reason when the caller's signal aborted; `isAborted()` turns a caller's abort into an AbortError.
 */
export async function* boundedChunks(body: Readable, limits: BodyLimits, isAborted: () => boolean): AsyncGenerator<Uint8Array, void, undefined> {
  let receivedBytes = 0
  const url = maskUrl(limits.url)
  const rate = watchRate(body, limits, url)
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      receivedBytes += chunk.byteLength
      rate.received(chunk.byteLength)
      if (receivedBytes > limits.maxBytes) throw new UpstreamTooLargeError(url, limits.maxBytes)
      yield chunk
    }
  } catch (error) {
    if (limits.signal?.aborted) throw limits.signal.reason
    if (isAborted()) throw new DOMException('the upstream stream was aborted by its reader', 'AbortError')
    throw mapBodyError(error, { url, receivedBytes, contentLength: limits.contentLength })
  } finally {
    rate.stop()
    // Leaving early (too large, a consumer's break) must not leave the socket streaming into nowhere.
    if (!body.readableEnded) body.destroy()
  }
  if (isAborted()) throw new DOMException('the upstream stream was aborted by its reader', 'AbortError')
  // RFC 9112 §6.3: a body shorter than its Content-Length is incomplete. undici usually reports it
  // itself; this check makes the guarantee independent of which path undici took.
  if (limits.contentLength !== undefined && receivedBytes !== limits.contentLength) {
    throw new UpstreamProtocolError(`upstream body for ${url} has ${receivedBytes} bytes, Content-Length said ${limits.contentLength}`)
  }
}
