/**
 * Operational endpoints: `/health` for load balancers and the Docker HEALTHCHECK, `/metrics` in
 * the Prometheus text format, `/status` with the trust state and recent drops.
 */
import type { Hono } from 'hono'
import type { Metrics } from '../../base/index.js'
import type { Mirror } from '../../mirror/index.js'
import type { AppEnv } from '../app.js'
import { renderStatusHtml } from '../status-page.js'

export function opsRoutes(app: Hono<AppEnv>, mirror: Mirror, metrics: Metrics): void {
  app.get('/health', (c) => {
    const health = mirror.health()
    if (health.ready) return c.json(health, 200, { 'cache-control': 'no-store' })
    // Like every error answer: the reason in the body and in X-Tuf-Proxy-Reason.
    c.set('served', { reason: 'not_ready' })
    const message = 'verifying mode holds no verified TUF metadata yet; see /status for the last refresh'
    return c.json({ ...health, error: 'not_ready', message }, 503, { 'cache-control': 'no-store', 'x-tuf-proxy-reason': 'not_ready' })
  })
  app.get('/metrics', (c) =>
    c.body(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' }),
  )
  app.get('/status', (c) => {
    const status = mirror.status()
    const accept = c.req.header('accept') ?? ''
    if (c.req.query('format') === 'html' || (accept.includes('text/html') && c.req.query('format') !== 'json')) {
      return c.html(renderStatusHtml(status), 200, { 'cache-control': 'no-store', vary: 'Accept' })
    }
    return c.json(status, 200, { 'cache-control': 'no-store', vary: 'Accept' })
  })
}
