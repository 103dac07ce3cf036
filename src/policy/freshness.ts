/**
 * Freshness decisions for project pages: time-to-live and serial ordering. Every function takes
 * `nowMs` and returns absolute times, as undici's `determineStaleAt` does, so callers store
 * numbers and never re-derive them.
 */
import { StaleUpstreamError } from './errors.js'

/** When a page fetched at `fetchedAtMs` stops being served without revalidation. */
export function staleAtMs(fetchedAtMs: number, ttlSeconds: number): number {
  return fetchedAtMs + ttlSeconds * 1000
}

export function isFresh(staleAtEpochMs: number, nowMs: number): boolean {
  return nowMs < staleAtEpochMs
}

/**
 * PyPI's serial (`X-PyPI-Last-Serial`, `meta._last-serial`) only grows for a project; a lower one
 * than already seen means a stale replica answered. A page without a serial after one with a
 * serial is not newer either: accepting it would forget the serial and let any older page back.
 * Once a received page passes, its serial is the highest seen.
 * @throws StaleUpstreamError when a serial is known and `receivedSerial` is missing or lower
 */
export function checkSerial(knownSerial: number | undefined, receivedSerial: number | undefined): void {
  if (knownSerial === undefined) return
  if (receivedSerial === undefined || receivedSerial < knownSerial) throw new StaleUpstreamError(knownSerial, receivedSerial)
}

/**
 * Until when a negative result is remembered (an upstream 404, or a page refused as malformed as
 * a whole), so a flood of requests for it does not hammer the upstream: the TTL, at most a minute.
 */
export function negativeStaleAtMs(nowMs: number, ttlSeconds: number): number {
  return nowMs + Math.min(ttlSeconds, 60) * 1000
}
