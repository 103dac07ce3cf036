/**
 * Upstream metrics, by host: every request the client makes (outcome and latency), the failures by
 * cause (the error's `code`), the body bytes fetched, and whether each host's breaker lets
 * requests through. A wrapper around the client, so the client itself stays unaware of metrics.
 *
 * The `host` label is `host[:port]` of a URL the allowlist admitted, so the operator's list bounds
 * it; a URL it refused is counted under `not_allowed` (its host came from upstream data). Requests
 * the caller aborted (a client went away) count as `aborted`, not as upstream errors.
 */
import { errorCode, type CounterHandle, type Metrics } from '../base/index.js'
import type { GetOptions, UpstreamClient, UpstreamStream } from './client.js'
import { HostNotAllowedError } from './errors.js'
import type { UpstreamHealth } from './health.js'

const REQUESTS_METRIC = 'tuf_proxy_upstream_requests_total'
const REQUESTS_HELP = 'Requests made to upstreams, by host and outcome (ok, not_modified, error, aborted)'
const ERRORS_METRIC = 'tuf_proxy_upstream_errors_total'
const ERRORS_HELP = 'Upstream requests and bodies that failed, by host and cause (the error code, as in the log and X-Tuf-Proxy-Reason)'
const DURATION_METRIC = 'tuf_proxy_upstream_request_duration_seconds'
const DURATION_HELP = 'Upstream latency by host: to the whole body for pages and metadata, to the response head for streamed files'
const FETCHED_METRIC = 'tuf_proxy_fetched_bytes_total'
const FETCHED_HELP = 'Body bytes received from upstreams, by host'
const UP_METRIC = 'tuf_proxy_upstream_up'
const UP_HELP = "1 while an upstream host's breaker lets requests through (up or on trial), 0 while it is down"
const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const NOT_ALLOWED = 'not_allowed'

export interface RequestMetricsDeps {
  readonly metrics: Metrics
  readonly health: UpstreamHealth
  /** Upstreams reported by `tuf_proxy_upstream_up` from the start, before any request to them. */
  readonly knownUrls: readonly string[]
  /** Durations: milliseconds from an arbitrary origin (Clock.monotonicMs). */
  readonly monotonicMs: () => number
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return NOT_ALLOWED
  }
}

/** The client, counted. */
export function withRequestMetrics(client: UpstreamClient, deps: RequestMetricsDeps): UpstreamClient {
  const { metrics, health, monotonicMs } = deps
  const durations = metrics.histogram(DURATION_METRIC, DURATION_HELP, ['host'], DURATION_BUCKETS_SECONDS)
  metrics.declareCounter(REQUESTS_METRIC, REQUESTS_HELP)
  metrics.declareCounter(ERRORS_METRIC, ERRORS_HELP)
  metrics.declareCounter(FETCHED_METRIC, FETCHED_HELP)
  // One URL per host seen, for its breaker's state; bounded by the allowlist.
  const origins = new Map<string, string>()
  for (const url of deps.knownUrls) origins.set(hostOf(url), url)
  metrics.onCollect(() => {
    for (const [host, url] of origins) metrics.set(UP_METRIC, UP_HELP, health.stateOf(url) === 'down' ? 0 : 1, { host })
  })

  const failed = (host: string, error: unknown) => metrics.inc(ERRORS_METRIC, ERRORS_HELP, { host, cause: errorCode(error) })
  // Called per body chunk: one counter handle per host, so a chunk costs one addition.
  const fetchedByHost = new Map<string, CounterHandle>()
  const fetched = (host: string, bytes: number) => {
    let counter = fetchedByHost.get(host)
    if (!counter) fetchedByHost.set(host, (counter = metrics.counter(FETCHED_METRIC, FETCHED_HELP, { host })))
    counter.inc(bytes)
  }

  const measure = async <T extends { readonly status: number }>(url: string, opts: GetOptions, request: () => Promise<T>): Promise<{ result: T; host: string }> => {
    const startMs = monotonicMs()
    try {
      const result = await request()
      const host = hostOf(url)
      if (!origins.has(host)) origins.set(host, url)
      metrics.inc(REQUESTS_METRIC, REQUESTS_HELP, { host, outcome: result.status === 304 ? 'not_modified' : 'ok' })
      durations.observe({ host }, (monotonicMs() - startMs) / 1000)
      return { result, host }
    } catch (error) {
      const host = error instanceof HostNotAllowedError ? NOT_ALLOWED : hostOf(url)
      if (opts.signal?.aborted) {
        metrics.inc(REQUESTS_METRIC, REQUESTS_HELP, { host, outcome: 'aborted' })
      } else {
        metrics.inc(REQUESTS_METRIC, REQUESTS_HELP, { host, outcome: 'error' })
        failed(host, error)
        if (host !== NOT_ALLOWED) durations.observe({ host }, (monotonicMs() - startMs) / 1000)
      }
      throw error
    }
  }

  return {
    async getBytes(url, opts) {
      const { result, host } = await measure(url, opts, () => client.getBytes(url, opts))
      fetched(host, result.body.byteLength)
      return result
    },
    async getStream(url, opts) {
      const { result, host } = await measure(url, opts, () => client.getStream(url, opts))
      return countedStream(result, {
        onChunk: (bytes) => fetched(host, bytes),
        onError: (error, isAborted) => {
          if (!isAborted && !opts.signal?.aborted) failed(host, error)
        },
      })
    },
    assertAllowed: (url) => client.assertAllowed(url),
    close: () => client.close(),
  }
}

/** The stream with its body's chunks and failure reported; `abort()` marks what follows as ours. */
function countedStream(
  stream: UpstreamStream,
  report: { onChunk(bytes: number): void; onError(error: unknown, isAborted: boolean): void },
): UpstreamStream {
  let isAborted = false
  async function* body(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for await (const chunk of stream.body) {
        report.onChunk(chunk.byteLength)
        yield chunk
      }
    } catch (error) {
      report.onError(error, isAborted)
      throw error
    }
  }
  return {
    ...stream,
    body: body(),
    abort: () => {
      isAborted = true
      stream.abort()
    },
  }
}
