/**
 * The record of one served request: a JSON log line and the requests counter, written the same
 * way by the hono front door and by the hot path.
 */
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
  readonly complete?: boolean
}

export type RequestLog = (record: RequestRecord) => void

export function createRequestLog(deps: { logger: Logger; metrics: Metrics }): RequestLog {
  // Series handles by "METHOD Nxx": the label set is small and fixed, so this map stays tiny.
  const counters = new Map<string, { inc(): void }>()
  return (record) => {
    const statusClass = `${Math.floor(record.status / 100)}xx`
    const key = `${record.method} ${statusClass}`
    let counter = counters.get(key)
    if (!counter) {
      counter = deps.metrics.counter(REQUESTS_METRIC, REQUESTS_HELP, { method: record.method, status: statusClass })
      if (counters.size < 64) counters.set(key, counter)
    }
    counter.inc()
    deps.logger.info('request', record)
  }
}
