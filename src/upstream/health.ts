/**
 * Circuit breakers per upstream origin (nginx's max_fails / fail_timeout, one per server): after
 * `maxFails` failures with no success in between, the origin is considered down for
 * `failTimeoutMs`, so callers can answer at once (stale cache or 503) instead of waiting for
 * another timeout. After that window one trial is let through; success closes the breaker, failure
 * reopens it. It only keeps score: the caller reports outcomes and decides what "down" means for
 * its response.
 *
 * One bad URL is not an outage. Like envoy's outlier detection, which ejects one host of a cluster
 * rather than the cluster, the unit here is the origin (scheme, host, port): the index and each
 * file host have their own breaker. Within an origin, each URL counts at most once per run of
 * failures, so it takes `maxFails` *different* failing URLs with no success in between to open
 * the breaker: a client asking again and again for one file that answers 500 (or times out)
 * cannot take the origin offline for everyone, while an origin whose every URL fails is still
 * detected after `maxFails` different requests. Any success at the origin ends the run.
 * Deliberately not per URL: a URL-level breaker would never spare the clients of a dead origin
 * their timeouts, which is what the breaker is for.
 */
import { describeError, errorCode, maskUrl, type Clock } from '../base/index.js'
import type { UpstreamClient } from './client.js'
import { UpstreamHttpError, UpstreamOfflineError, UpstreamTimeoutError } from './errors.js'

export interface UpstreamHealthOptions {
  readonly maxFails: number
  readonly failTimeoutMs: number
  readonly clock: Clock
}

export type HealthState = 'up' | 'down' | 'trial'

/** What an operator sees of one upstream origin on /status and /health. */
export interface OriginReport {
  readonly origin: string
  readonly state: HealthState
  /** the last failure that said the origin is unwell; kept after a success, for the record */
  readonly lastError: { readonly code: string; readonly message: string; readonly atMs: number } | undefined
  readonly lastSuccessAtMs: number | undefined
  /** time to the response head of the last request that got one */
  readonly lastLatencyMs: number | undefined
}

export interface UpstreamHealth {
  /** False while the URL's origin is down: skip it. */
  isAvailable(url: string): boolean
  /** The breaker state of the URL's origin. */
  stateOf(url: string): HealthState
  recordSuccess(url: string, latencyMs?: number): void
  /** Counts only failures that say the upstream is unwell (see isUpstreamFailure); others are ignored. */
  recordFailure(url: string, error: unknown): void
  /** every origin asked since start, in the order first asked */
  reports(): readonly OriginReport[]
}

/** Unreachable, timed out, or a 5xx: the upstream is unwell. A 404 or a bad body says nothing about its health. */
export function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof UpstreamOfflineError || error instanceof UpstreamTimeoutError) return true
  return error instanceof UpstreamHttpError && error.status >= 500
}

interface OriginScore {
  /** the distinct URLs (without fragment) that failed since the origin's last success */
  readonly failedUrls: Set<string>
  downUntilMs: number
}

/** The breaker key: the origin, or the whole string when it is not a URL (it then shares nothing). */
function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

function withoutFragment(url: string): string {
  const hash = url.indexOf('#')
  return hash === -1 ? url : url.slice(0, hash)
}

/** @throws {TypeError} naming a bad option. */
export function createUpstreamHealth(options: UpstreamHealthOptions): UpstreamHealth {
  const { maxFails, failTimeoutMs, clock } = options
  if (!Number.isSafeInteger(maxFails) || maxFails < 1) throw new TypeError(`upstream health option "maxFails" must be a positive integer (got ${maxFails})`)
  if (!Number.isSafeInteger(failTimeoutMs) || failTimeoutMs < 0) {
    throw new TypeError(`upstream health option "failTimeoutMs" must be a non-negative integer (got ${failTimeoutMs})`)
  }
  // Only origins with failures since their last success are kept, so the map is bounded by the
  // origins failing now (and those by the host allowlist); each set holds at most maxFails URLs.
  const scores = new Map<string, OriginScore>()
  // Bounded by the allowlist: only allowed hosts are ever asked.
  const history = new Map<string, { lastError: OriginReport['lastError']; lastSuccessAtMs: number | undefined; lastLatencyMs: number | undefined }>()
  const historyOf = (origin: string) => {
    let entry = history.get(origin)
    if (!entry) history.set(origin, (entry = { lastError: undefined, lastSuccessAtMs: undefined, lastLatencyMs: undefined }))
    return entry
  }
  const stateOf = (url: string): HealthState => {
    const score = scores.get(originOf(url))
    if (!score || score.failedUrls.size < maxFails) return 'up'
    return clock.nowMs() < score.downUntilMs ? 'down' : 'trial'
  }
  return {
    isAvailable: (url) => stateOf(url) !== 'down',
    stateOf,
    recordSuccess(url, latencyMs) {
      const origin = originOf(url)
      scores.delete(origin)
      const entry = historyOf(origin)
      entry.lastSuccessAtMs = clock.nowMs()
      if (latencyMs !== undefined) entry.lastLatencyMs = latencyMs
    },
    recordFailure(url, error) {
      if (!isUpstreamFailure(error)) return
      const origin = originOf(url)
      historyOf(origin).lastError = { code: errorCode(error), message: describeError(error), atMs: clock.nowMs() }
      let score = scores.get(origin)
      if (!score) scores.set(origin, (score = { failedUrls: new Set(), downUntilMs: 0 }))
      const wasOpen = score.failedUrls.size >= maxFails
      if (!wasOpen) score.failedUrls.add(withoutFragment(url))
      // A failed trial reopens at once, whichever URL the trial was for.
      if (score.failedUrls.size >= maxFails) score.downUntilMs = clock.nowMs() + failTimeoutMs
    },
    reports: () => [...history].map(([origin, entry]) => ({ origin, state: stateOf(origin), ...entry })),
  }
}

/**
 * The client with the breakers in front: while a URL's origin is down, requests to it fail at once
 * with UpstreamOfflineError (callers then serve stale or answer 503) instead of each waiting for
 * its own timeout; every request's outcome is reported to that origin's breaker. A request is
 * scored against the origin it was made to; where redirects lead is the client's business.
 */
export function withHealthBreaker(client: UpstreamClient, health: UpstreamHealth, failTimeoutMs: number): UpstreamClient {
  const guard = async <T>(url: string, request: () => Promise<T>): Promise<T> => {
    if (!health.isAvailable(url)) {
      throw new UpstreamOfflineError(`upstream unreachable for ${maskUrl(url)}: its host failed repeatedly and is retried after ${Math.round(failTimeoutMs / 1000)} s`)
    }
    const startedMs = performance.now()
    try {
      const result = await request()
      health.recordSuccess(url, Math.round(performance.now() - startedMs))
      return result
    } catch (error) {
      health.recordFailure(url, error)
      throw error
    }
  }
  return {
    getBytes: (url, options) => guard(url, () => client.getBytes(url, options)),
    getStream: (url, options) => guard(url, () => client.getStream(url, options)),
    assertAllowed: (url) => client.assertAllowed(url),
    close: () => client.close(),
  }
}
