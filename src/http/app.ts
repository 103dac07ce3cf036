/**
 * The HTTP application: routes, access log and the error map, built from injected dependencies so
 * tests can drive it in-process or behind a real listener.
 */
import { Hono } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import { errorCode, type Clock, type Logger, type Metrics } from '../base/index.js'
import type { Mirror } from '../mirror/index.js'
import { frontDoor } from './front-door.js'
import { hotPages, type HotPath } from './hot-pages.js'
import { createRequestLog } from './request-log.js'
import { errorResponse } from './error-response.js'
import { fileRoutes } from './routes/files.js'
import { opsRoutes } from './routes/ops.js'
import { simpleRoutes } from './routes/simple.js'
import { tufRoutes } from './routes/tuf.js'
import { buildStatusReport, type About, type StatusReport } from './status-report.js'
import { TrafficWindow } from './traffic.js'

/**
 * `served` is what the access log reports for a response hono sends: reading those back from
 * the Response's headers would make @hono/node-server build a full Headers object per request.
 * `status` is set by a handler that wrote its whole answer to Node's response itself (a page):
 * it is logged at once, as a hono response is.
 */
export type AppEnv = { Bindings: HttpBindings; Variables: { served: { status?: number; cache?: string; reason?: string; bytes?: number | undefined } } }

export interface AppDeps {
  readonly mirror: Mirror
  readonly metrics: Metrics
  readonly logger: Logger
  readonly clock: Clock
  /** what the status page says about the running process */
  readonly about?: About
  /**
   * With several worker processes, the whole server's /metrics text and /status JSON (gathered
   * from every worker by the primary); without, each answers with this process's own.
   */
  readonly whole?: { metrics(): Promise<string>; status(): Promise<unknown> }
}

/** The hono app, and the hot path that answers fresh cached pages before it (see hot-pages.ts). */
export function createApp(deps: AppDeps): { app: Hono<AppEnv>; hotPath: HotPath; statusReport: () => StatusReport } {
  const app = new Hono<AppEnv>({ strict: true })
  const traffic = new TrafficWindow(deps.clock.nowMs())
  const requestLog = createRequestLog({ ...deps, traffic })
  // One middleware, not two: each hono middleware costs a few microseconds per request.
  app.use(frontDoor({ ...deps, requestLog }))
  simpleRoutes(app, deps.mirror.pages)
  fileRoutes(app, deps.mirror)
  tufRoutes(app, deps.mirror)
  const statusDeps = { mirror: deps.mirror, metrics: deps.metrics, clock: deps.clock, traffic, about: deps.about ?? { version: 'unknown', startedAtMs: deps.clock.nowMs() } }
  opsRoutes(app, statusDeps, deps.whole)
  app.get('/', (c) => c.redirect('/simple/', 302))
  app.notFound((c) => c.json({ error: 'not_found', message: `nothing is served at ${new URL(c.req.url).pathname}` }, 404))
  app.onError((error, c) => {
    const response = errorResponse(error, deps.logger, c.req.path)
    c.set('served', { reason: errorCode(error) })
    return response
  })
  return { app, hotPath: hotPages({ pages: deps.mirror.pages, clock: deps.clock, requestLog }), statusReport: () => buildStatusReport(statusDeps) }
}
