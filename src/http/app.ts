/**
 * The HTTP application: routes, access log and the error map, built from injected dependencies so
 * tests can drive it in-process or behind a real listener.
 */
import { Hono } from 'hono'
import type { HttpBindings } from '@hono/node-server'
import type { Clock, Logger, Metrics } from '../base/index.js'
import type { Mirror } from '../mirror/index.js'
import { accessLog } from './access-log.js'
import { BadRequestError, errorResponse } from './error-response.js'
import { fileRoutes } from './routes/files.js'
import { opsRoutes } from './routes/ops.js'
import { simpleRoutes } from './routes/simple.js'
import { tufRoutes } from './routes/tuf.js'

export type AppEnv = { Bindings: HttpBindings }

export interface AppDeps {
  readonly mirror: Mirror
  readonly metrics: Metrics
  readonly logger: Logger
  readonly clock: Clock
}

/** Longest request target accepted; PEP 503 paths are short, and this bounds hostile input. */
const MAX_PATH_BYTES = 2048

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ strict: true })
  app.use(accessLog(deps))
  app.use(async (c, next) => {
    const raw = c.env.incoming.url ?? ''
    // Decoded NUL, backslashes and encoded separators never name anything here; refuse them early.
    if (raw.length > MAX_PATH_BYTES) throw new BadRequestError('request path too long')
    if (/%00|\\|%5c/i.test(raw) || raw.includes('\0')) throw new BadRequestError('request path contains a forbidden character')
    // Dot segments are resolved by URL parsing before routing; refuse them rather than let a
    // request silently mean another path.
    const rawPath = raw.split('?')[0] ?? ''
    if (rawPath.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) throw new BadRequestError('request path contains a dot segment')
    await next()
  })
  simpleRoutes(app, deps.mirror.pages)
  fileRoutes(app, deps.mirror)
  tufRoutes(app, deps.mirror)
  opsRoutes(app, deps.mirror, deps.metrics)
  app.get('/', (c) => c.redirect('/simple/', 302))
  app.notFound((c) => c.json({ error: 'not_found', message: `nothing is served at ${new URL(c.req.url).pathname}` }, 404))
  app.onError((error, c) => errorResponse(error, deps.logger, new URL(c.req.url).pathname))
  return app
}
