/**
 * The record of one served request: a JSON log line, the requests counter, the latency histogram,
 * the served bytes and the status page's traffic window, written the same way by the hono front
 * door and by the hot path.
 *
 * The metrics' labels come from fixed sets (a route family from the path's prefix, the cache
 * outcome from the four the mirror reports), never from request input, so cardinality stays
 * bounded whatever clients send. Every handle is bound on first use and kept in an array indexed
 * by route and outcome: a request costs no label hashing and builds no label object.
 */
import type { IncomingMessage } from 'node:http'
import type { Clock, CounterHandle, HistogramHandle, Logger, Metrics, MonotonicMs } from '../base/index.js'
import type { TrafficWindow } from './traffic.js'

const REQUESTS_METRIC = 'tuf_proxy_http_requests_total'
const REQUESTS_HELP = 'HTTP requests by method and status class'
const DURATION_METRIC = 'tuf_proxy_http_request_duration_seconds'
const DURATION_HELP =
  'Time from taking a request to handing over its answer (to its last byte for a file streamed to the socket), by route and cache outcome'
const SERVED_METRIC = 'tuf_proxy_served_bytes_total'
const SERVED_HELP = 'Response body bytes sent to clients in full (not HEAD, not cut-off streams), by route'
/** From a cached page (well under a millisecond) to a large cold file (a minute and more). */
const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/** Route families, indexed by routeIndex(). */
const ROUTES = ['simple_index', 'simple', 'files', 'tuf', 'ops', 'other'] as const
/** Cache outcomes, indexed by cacheIndex(): the X-Cache values, `none` for answers without one. */
const CACHE_OUTCOMES = ['hit', 'miss', 'stale', 'none', 'other'] as const

function routeIndex(path: string): number {
  if (path.startsWith('/simple/')) return path.length === 8 ? 0 : 1
  if (path.startsWith('/files/')) return 2
  if (path.startsWith('/tuf/')) return 3
  if (path === '/health' || path === '/metrics' || path === '/status' || path.startsWith('/-/')) return 4
  return 5
}

function cacheIndex(cache: unknown): number {
  switch (cache) {
    case 'HIT':
      return 0
    case 'MISS':
      return 1
    case 'STALE':
      return 2
    case undefined:
      return 3
    default:
      return 4
  }
}

export interface RequestRecord extends Readonly<Record<string, unknown>> {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly cache?: unknown
  readonly reason?: unknown
  readonly bytes?: unknown
  /** from taking the request to the answer (see elapsedMs), with microsecond precision */
  readonly ms: number
  /** only for bodies streamed to the socket: whether the whole body went out */
  readonly complete?: boolean | undefined
  /** the peer address of the connection (a reverse proxy in front shows as itself) */
  readonly client: string | undefined
  readonly userAgent: string | undefined
}

/** Probes polled every few seconds by load balancers and Prometheus: their lines are `debug`. */
const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/metrics'])

/** Longest User-Agent logged; a client chooses it, and it should not make the log line huge. */
const USER_AGENT_MAX_CHARS = 256

export function userAgentOf(req: IncomingMessage): string | undefined {
  const userAgent = req.headers['user-agent']
  return userAgent !== undefined && userAgent.length > USER_AGENT_MAX_CHARS ? `${userAgent.slice(0, USER_AGENT_MAX_CHARS)}…` : userAgent
}

export type RequestLog = (record: RequestRecord) => void

/** Milliseconds since `startMs` (read from `monotonicMs`), rounded to the microsecond for the log. */
export function elapsedMs(monotonicMs: MonotonicMs, startMs: number): number {
  return Math.round((monotonicMs() - startMs) * 1000) / 1000
}

export function createRequestLog(deps: { logger: Logger; metrics: Metrics; clock: Clock; traffic: TrafficWindow }): RequestLog {
  const { metrics } = deps
  // Series handles by method, then by status class: Node's parser admits a fixed set of methods,
  // so this stays tiny, and a request finds its counter without building a key.
  const counters = new Map<string, Array<CounterHandle | undefined>>()
  const durations = metrics.histogram(DURATION_METRIC, DURATION_HELP, ['route', 'cache'], DURATION_BUCKETS_SECONDS)
  const durationHandles: Array<HistogramHandle | undefined> = []
  const served = ROUTES.map((route) => metrics.counter(SERVED_METRIC, SERVED_HELP, { route }))
  return (record) => {
    const statusClass = Math.floor(record.status / 100)
    let byClass = counters.get(record.method)
    if (!byClass) {
      byClass = []
      if (counters.size < 64) counters.set(record.method, byClass)
    }
    let counter = byClass[statusClass]
    if (!counter) {
      counter = metrics.counter(REQUESTS_METRIC, REQUESTS_HELP, { method: record.method, status: `${statusClass}xx` })
      byClass[statusClass] = counter
    }
    counter.inc()
    deps.traffic.record(record.status, deps.clock.nowMs())
    const route = routeIndex(record.path)
    const slot = route * CACHE_OUTCOMES.length + cacheIndex(record.cache)
    let duration = durationHandles[slot]
    if (!duration) {
      duration = durations.bind({ route: ROUTES[route] ?? 'other', cache: CACHE_OUTCOMES[slot % CACHE_OUTCOMES.length] ?? 'other' })
      durationHandles[slot] = duration
    }
    duration.observe(record.ms / 1000)
    const bytes = typeof record.bytes === 'string' ? Number(record.bytes) : record.bytes
    if (typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes > 0 && record.method !== 'HEAD' && record.complete !== false) served[route]?.inc(bytes)
    deps.logger.log(PROBE_PATHS.has(record.path) ? 'debug' : 'info', 'request', record)
  }
}
