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
import { describeError, errorCode, maskUrl, silentLogger, type Clock, type Logger } from '../base/index.js'
import type { UpstreamClient } from './client.js'
import { failureCauseOf, UpstreamHttpError, UpstreamOfflineError, UpstreamTimeoutError, type FailureCause } from './errors.js'

export interface UpstreamHealthOptions {
  readonly maxFails: number
  readonly failTimeoutMs: number
  readonly clock: Clock
  /** receives `upstream_down` and `upstream_recovered` at warn, once per change of an origin's state */
  readonly logger?: Logger
}

export type HealthState = 'up' | 'down' | 'trial'

/** What an operator sees of one upstream origin on /status and /health. */
export interface OriginReport {
  readonly origin: string
  /**
   * `down` from the failure that shows the whole origin unwell until its next success: at once when
   * the origin cannot be reached at all (any UpstreamOfflineError: DNS, refused, TLS, proxy, ...)
   * or a start check fails, else once the breaker opens (a 5xx or a slow answer may be one URL's
   * problem); `trial` while the open breaker lets one request through.
   */
  readonly state: HealthState
  /** the last failure that said the origin is unwell, and why (see FailureCause); kept after a success, for the record */
  readonly lastError: { readonly code: string; readonly cause: FailureCause | undefined; readonly message: string; readonly atMs: number } | undefined
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
  /**
   * Counts only failures that say the upstream is unwell (see isUpstreamFailure); others are ignored.
   * `check`: the failure of a deliberate check of the origin (the start check), which speaks for the
   * whole origin whatever its cause.
   */
  recordFailure(url: string, error: unknown, options?: { readonly check?: boolean }): void
  /** every origin asked since start, in the order first asked */
  reports(): readonly OriginReport[]
  /** the URL's origin's report; `up` with no history when it was never asked */
  report(url: string): OriginReport
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
  const logger = options.logger ?? silentLogger
  if (!Number.isSafeInteger(maxFails) || maxFails < 1) throw new TypeError(`upstream health option "maxFails" must be a positive integer (got ${maxFails})`)
  if (!Number.isSafeInteger(failTimeoutMs) || failTimeoutMs < 0) {
    throw new TypeError(`upstream health option "failTimeoutMs" must be a non-negative integer (got ${failTimeoutMs})`)
  }
  // Only origins with failures since their last success are kept, so the map is bounded by the
  // origins failing now (and those by the host allowlist); each set holds at most maxFails URLs.
  const scores = new Map<string, OriginScore>()
  // Bounded by the allowlist: only allowed hosts are ever asked.
  // downSinceMs: set by the first failure after a success (or since start), cleared by the next success.
  interface History {
    lastError: OriginReport['lastError']
    lastSuccessAtMs: number | undefined
    lastLatencyMs: number | undefined
    downSinceMs: number | undefined
  }
  const history = new Map<string, History>()
  const historyOf = (origin: string) => {
    let entry = history.get(origin)
    if (!entry) history.set(origin, (entry = { lastError: undefined, lastSuccessAtMs: undefined, lastLatencyMs: undefined, downSinceMs: undefined }))
    return entry
  }
  const stateOf = (url: string): HealthState => {
    const score = scores.get(originOf(url))
    if (!score || score.failedUrls.size < maxFails) return 'up'
    return clock.nowMs() < score.downUntilMs ? 'down' : 'trial'
  }
  const reportOf = (origin: string, entry: History | undefined): OriginReport => {
    const breaker = stateOf(origin)
    const { lastError, lastSuccessAtMs, lastLatencyMs } = entry ?? { lastError: undefined, lastSuccessAtMs: undefined, lastLatencyMs: undefined }
    return { origin, state: breaker === 'up' && entry?.downSinceMs !== undefined ? 'down' : breaker, lastError, lastSuccessAtMs, lastLatencyMs }
  }
  return {
    isAvailable: (url) => stateOf(url) !== 'down',
    stateOf,
    recordSuccess(url, latencyMs) {
      const origin = originOf(url)
      scores.delete(origin)
      const entry = historyOf(origin)
      const nowMs = clock.nowMs()
      if (entry.downSinceMs !== undefined) {
        const downMs = nowMs - entry.downSinceMs
        logger.warn('upstream_recovered', { origin: maskUrl(origin), downMs, detail: `recovered after ${formatDuration(downMs)} (last cause: ${entry.lastError?.cause ?? 'unknown'})` })
        entry.downSinceMs = undefined
      }
      entry.lastSuccessAtMs = nowMs
      if (latencyMs !== undefined) entry.lastLatencyMs = latencyMs
    },
    recordFailure(url, error, failureOptions) {
      if (!isUpstreamFailure(error)) return
      const origin = originOf(url)
      const entry = historyOf(origin)
      const nowMs = clock.nowMs()
      entry.lastError = { code: errorCode(error), cause: failureCauseOf(error), message: describeError(error), atMs: nowMs }
      let score = scores.get(origin)
      if (!score) scores.set(origin, (score = { failedUrls: new Set(), downUntilMs: 0 }))
      const wasOpen = score.failedUrls.size >= maxFails
      if (!wasOpen) score.failedUrls.add(withoutFragment(url))
      // A failed trial reopens at once, whichever URL the trial was for.
      if (score.failedUrls.size >= maxFails) score.downUntilMs = clock.nowMs() + failTimeoutMs
      const wholeOrigin = error instanceof UpstreamOfflineError || failureOptions?.check === true || score.failedUrls.size >= maxFails
      if (wholeOrigin && entry.downSinceMs === undefined) {
        entry.downSinceMs = nowMs
        logger.warn('upstream_down', { origin: maskUrl(origin), cause: entry.lastError.cause, code: entry.lastError.code, detail: entry.lastError.message })
      }
    },
    reports: () => [...history].map(([origin, entry]) => reportOf(origin, entry)),
    report(url) {
      const origin = originOf(url)
      return reportOf(origin, history.get(origin))
    },
  }
}

/** 42 s, 3 min 5 s, 2 h 10 min: for a log line a person reads. */
function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
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
      const cause = health.report(url).lastError?.cause
      throw new UpstreamOfflineError(
        `upstream unreachable for ${maskUrl(url)} (${cause ?? 'unknown cause'}): its host failed repeatedly and is retried after ${Math.round(failTimeoutMs / 1000)} s`,
        { failureCause: cause },
      )
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
    getInto: (url, options, open) => guard(url, () => client.getInto(url, options, open)),
    getStream: (url, options) => guard(url, () => client.getStream(url, options)),
    assertAllowed: (url) => client.assertAllowed(url),
    close: () => client.close(),
  }
}
