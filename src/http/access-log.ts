/**
 * One JSON log line per request, written when the response is finished (or the client went away),
 * so raw-streamed file responses are logged with their real status and duration.
 */
import type { MiddlewareHandler } from 'hono'
import type { Clock, Logger, Metrics } from '../base/index.js'
import type { AppEnv } from './app.js'

export function accessLog(deps: { logger: Logger; metrics: Metrics; clock: Clock }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const startMs = deps.clock.nowMs()
    const res = c.env.outgoing
    // Hono's own responses carry their headers on c.res; raw-streamed files set them on `res`.
    let hono: { cache: string | null; reason: string | null } | undefined
    res.once('close', () => {
      const status = res.statusCode
      deps.metrics.inc('tuf_proxy_http_requests_total', 'HTTP requests by method and status class', {
        method: c.req.method,
        status: `${Math.floor(status / 100)}xx`,
      })
      deps.logger.info('request', {
        method: c.req.method,
        path: c.req.path,
        status,
        cache: hono?.cache ?? res.getHeader('x-cache'),
        reason: hono?.reason ?? res.getHeader('x-tuf-proxy-reason'),
        bytes: res.getHeader('content-length'),
        ms: deps.clock.nowMs() - startMs,
        complete: res.writableFinished,
      })
    })
    await next()
    if (!c.res.headers.has('x-hono-already-sent')) hono = { cache: c.res.headers.get('x-cache'), reason: c.res.headers.get('x-tuf-proxy-reason') }
  }
}
