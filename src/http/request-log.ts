/**
 * The record of one served request: a JSON log line, the requests counter and the status page's
 * traffic window, written the same way by the hono front door and by the hot path.
 */
import type { Clock, Logger, Metrics } from '../base/index.js'
import type { TrafficWindow } from './traffic.js'

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

export function createRequestLog(deps: { logger: Logger; metrics: Metrics; clock: Clock; traffic: TrafficWindow }): RequestLog {
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
    deps.traffic.record(record.status, deps.clock.nowMs())
    deps.logger.info('request', record)
  }
}
