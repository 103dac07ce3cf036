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
    return c.json(health, health.ready ? 200 : 503, { 'cache-control': 'no-store' })
  })
  app.get('/metrics', async (c) => c.body(await metrics.render(), 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }))
  app.get('/status', (c) => {
    const status = mirror.status()
    const accept = c.req.header('accept') ?? ''
    if (c.req.query('format') === 'html' || (accept.includes('text/html') && c.req.query('format') !== 'json')) {
      return c.html(renderStatusHtml(status), 200, { 'cache-control': 'no-store', vary: 'Accept' })
    }
    return c.json(status, 200, { 'cache-control': 'no-store', vary: 'Accept' })
  })
}
