/**
 * The HTTP application: routes, access log and the error map, built from injected dependencies so
 * tests can drive it in-process or behind a real listener.
 */
import { Hono } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import { errorCode, type Clock, type Logger, type Metrics, type MonotonicMs } from '../base/index.js'
import type { Mirror } from '../mirror/index.js'
import { frontDoor } from './front-door.js'
import { hotPages, type HotPath } from './hot-pages.js'
import { createRequestLog } from './request-log.js'
import { errorResponse, MethodNotAllowedError, NoRouteError } from './error-response.js'
import { adminRoutes, type AdminApi } from './routes/admin.js'
import { fileRoutes } from './routes/files.js'
import { opsRoutes } from './routes/ops.js'
import { simpleRoutes } from './routes/simple.js'
import { tufRoutes } from './routes/tuf.js'
import { buildStatusReport, type About, type StatusReport } from './status-report.js'
import { TrafficWindow } from './traffic.js'

/**
 * `served` is what the access log reports for a response hono sends: reading those back from
 * the Response's headers would make @hono/node-server build a full Headers object per request.
 * `status` is set by a handler that wrote its whole answer to Node's response itself (a page, a
 * file): it is logged at once, as a hono response is. `bytes` is the body bytes the socket took,
 * `complete` (files) whether that was the whole body.
 */
export type AppEnv = {
  Bindings: HttpBindings
  Variables: { served: { status?: number; cache?: string; reason?: string; bytes?: number | undefined; complete?: boolean } }
}

export interface AppDeps {
  readonly mirror: Mirror
  readonly metrics: Metrics
  readonly logger: Logger
  readonly clock: Clock
  /** for request durations (the log's `ms`, the latency histogram) */
  readonly monotonicMs: MonotonicMs
  /** what the status page says about the running process */
  readonly about?: About
  /** the admin API under `/-/`; absent, every `/-/` path is 404 */
  readonly admin?: AdminApi | undefined
  /** revalidate a project page upstream when the client sends `Cache-Control: no-cache` (client-revalidate.ts) */
  readonly honorClientRevalidate?: boolean
  /**
   * With several worker processes, the whole server's /metrics text and /status JSON (gathered
   * from every worker by the primary; the HTML status page renders it too); without, each
   * answers with this process's own.
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
  const honorClientRevalidate = deps.honorClientRevalidate ?? false
  if (deps.admin) adminRoutes(app, { admin: deps.admin, logger: deps.logger })
  simpleRoutes(app, deps.mirror.pages, { honorClientRevalidate })
  fileRoutes(app, deps.mirror)
  tufRoutes(app, deps.mirror)
  const statusDeps = { mirror: deps.mirror, metrics: deps.metrics, clock: deps.clock, traffic, about: deps.about ?? { version: 'unknown', startedAtMs: deps.clock.nowMs() } }
  opsRoutes(app, statusDeps, deps.whole)
  app.get('/', (c) => c.redirect('/simple/', 302))
  app.notFound((c) => {
    const path = c.req.path
    const allowed = allowedMethods(app, path)
    const error = allowed.length > 0 ? new MethodNotAllowedError(c.req.method, allowed) : new NoRouteError(`nothing is served at ${path}`)
    c.set('served', { reason: error.code })
    return errorResponse(error, deps.logger, path)
  })
  app.onError((error, c) => {
    const response = errorResponse(error, deps.logger, c.req.path)
    c.set('served', { reason: errorCode(error) })
    return response
  })
  return { app, hotPath: hotPages({ pages: deps.mirror.pages, monotonicMs: deps.monotonicMs, requestLog, honorClientRevalidate }), statusReport: () => buildStatusReport(statusDeps) }
}

/** Methods a route may be registered for; HEAD is answered wherever GET is (hono runs the GET route). */
const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/**
 * The methods some route answers at `path` (RFC 9110 §15.5.6: a 405 lists them in Allow); empty
 * when no route matches the path at all (a 404). Asks the router itself, so a route added later
 * is covered without a list to keep in step. Runs only for requests no route answered.
 */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const allowed = ROUTE_METHODS.filter((method) =>
    // Middleware (app.use) is registered under the method 'ALL' and matches every path.
    app.router.match(method, path)[0].some(([[, route]]) => route.method !== 'ALL'),
  )
  return allowed.includes('GET') ? ['GET', 'HEAD', ...allowed.filter((method) => method !== 'GET')] : [...allowed]
}
