/**
 * The record of one served request: a JSON log line and the requests counter, written the same
 * way by the hono front door and by the hot path.
 */
import type { IncomingMessage } from 'node:http'
import type { Logger, Metrics } from '../base/index.js'

const REQUESTS_METRIC = 'tuf_proxy_http_requests_total'
const REQUESTS_HELP = 'HTTP requests by method and status class'

export interface RequestRecord extends Readonly<Record<string, unknown>> {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly cache?: unknown
  readonly reason?: unknown
  readonly bytes?: unknown
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

export function createRequestLog(deps: { logger: Logger; metrics: Metrics }): RequestLog {
  // Series handles by method, then by status class: Node's parser admits a fixed set of methods,
  // so this stays tiny, and a request finds its counter without building a key.
  const counters = new Map<string, Array<{ inc(): void } | undefined>>()
  return (record) => {
    const statusClass = Math.floor(record.status / 100)
    let byClass = counters.get(record.method)
    if (!byClass) {
      byClass = []
      if (counters.size < 64) counters.set(record.method, byClass)
    }
    let counter = byClass[statusClass]
    if (!counter) {
      counter = deps.metrics.counter(REQUESTS_METRIC, REQUESTS_HELP, { method: record.method, status: `${statusClass}xx` })
      byClass[statusClass] = counter
    }
    counter.inc()
    deps.logger.log(PROBE_PATHS.has(record.path) ? 'debug' : 'info', 'request', record)
  }
}
