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
 * than already seen means a stale replica answered.
 * @throws StaleUpstreamError when `receivedSerial` is lower than `knownSerial`
 */
export function checkSerial(knownSerial: number | undefined, receivedSerial: number | undefined): void {
  if (knownSerial === undefined || receivedSerial === undefined) return
  if (receivedSerial < knownSerial) throw new StaleUpstreamError(knownSerial, receivedSerial)
}

/** How long an upstream 404 is remembered, so a flood of misses does not hammer the upstream. */
export function notFoundStaleAtMs(nowMs: number, ttlSeconds: number): number {
  return nowMs + Math.min(ttlSeconds, 60) * 1000
}
