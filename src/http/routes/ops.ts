/**
 * Operational endpoints: `/health` for load balancers and the Docker HEALTHCHECK, `/metrics` in
 * the Prometheus text format, `/status` as JSON (the source of truth) or, for a browser, as the
 * page an operator keeps open.
 */
import type { Hono } from 'hono'
import { describeError } from '../../base/index.js'
import type { AppEnv } from '../app.js'
import { renderStatusHtml } from '../status-page.js'
import { buildStatusReport, type StatusDeps } from '../status-report.js'
import { asServerStatus } from '../status-workers.js'

/** `whole`: with several workers, the whole server's reports (see AppDeps.whole), for the JSON and the HTML page alike. */
export function opsRoutes(app: Hono<AppEnv>, deps: StatusDeps, whole?: { metrics(): Promise<string>; status(): Promise<unknown> }): void {
  const { mirror, metrics } = deps
  app.get('/health', (c) => {
    const health = mirror.health()
    if (health.ready) return c.json(health, 200, { 'cache-control': 'no-store' })
    // Like every error answer: the reason in the body and in X-Tuf-Proxy-Reason.
    c.set('served', { reason: 'not_ready' })
    const message = 'verifying mode holds no verified TUF metadata yet; see /status for the last refresh'
    return c.json({ ...health, error: 'not_ready', message }, 503, { 'cache-control': 'no-store', 'x-tuf-proxy-reason': 'not_ready' })
  })
  app.get('/metrics', async (c) =>
    c.body(whole ? await whole.metrics() : await metrics.render(), 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }),
  )
  app.get('/status', async (c) => {
    const accept = c.req.header('accept') ?? ''
    const isHtml = c.req.query('format') === 'html' || (accept.includes('text/html') && c.req.query('format') !== 'json')
    const headers = { 'cache-control': 'no-store', vary: 'Accept' }
    if (!isHtml) return c.json(whole ? await whole.status() : buildStatusReport(deps), 200, headers)
    // The page must come up whatever part of the report fails: it is where an operator looks
    // when something is wrong. The renderer guards each section; this guards building the report.
    try {
      return c.html(renderStatusHtml(whole ? asServerStatus(await whole.status()) : buildStatusReport(deps)), 200, headers)
    } catch (error) {
      return c.html(renderStatusHtml({}, describeError(error)), 500, headers)
    }
  })
}
