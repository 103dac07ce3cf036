/**
 * The admin API under `/-/`, registered only when the operator gave a token (--admin-token-file):
 * `GET /-/cache` lists what is cached, `POST /-/refresh/<project>` revalidates a project page
 * now, `DELETE /-/cache/<project>` purges a project's pages and files. Every `/-/` request needs
 * `Authorization: Bearer <token>` (RFC 6750 §2.1); without it the answer is 401 whatever the path.
 *
 * With `sources:`, the listing names each project's owning source, a refresh asks the owner, and
 * a purge clears the project's pages of every source but keeps its owner, unless
 * `?forget-owner=1`: then the next request asks the sources again in order (how an operator
 * moves a project to another source, after a dependency-confusion collision say).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Hono } from 'hono'
import { describeError, errorCode, ProxyError, type Logger } from '../../base/index.js'
import { isValidProjectName, normalizeName } from '../../index/index.js'
import { projectReport, type CacheAdmin, type PageRefresh } from '../../mirror/index.js'
import type { AppEnv } from '../app.js'
import { BadRequestError, errorResponse, statusFor } from '../error-response.js'

export interface AdminApi {
  /** the bearer token, already read from its file and trimmed */
  readonly token: string
  readonly cache: CacheAdmin
  /** revalidates a project page now: the single upstream's, or with `sources:` its owner's (named; undefined without sources) */
  readonly refresh: (project: string) => Promise<{ readonly source: string | undefined; readonly refresh: PageRefresh }>
}

/** The request carries no token, or the wrong one. */
export class AdminTokenError extends ProxyError {
  readonly code: string
  readonly fault = 'unauthenticated'
  constructor(code: 'token_missing' | 'token_invalid', message: string) {
    super(message)
    this.code = code
  }
}

/** RFC 6750 §2.1: `Bearer` 1*SP b64token; the scheme name is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

export function adminRoutes(app: Hono<AppEnv>, deps: { admin: AdminApi; logger: Logger }): void {
  const { admin, logger } = deps
  // Both sides are hashed first, so the comparison is of equal lengths and takes the same time
  // whatever the token's length or how much of it a guess gets right.
  const expected = createHash('sha256').update(admin.token, 'utf8').digest()
  app.use('/-/*', async (c, next) => {
    const header = c.env.incoming.headers.authorization
    const given = header === undefined ? undefined : BEARER.exec(header)?.[1]
    const isMatch = timingSafeEqual(createHash('sha256').update(given ?? '', 'utf8').digest(), expected)
    if (given !== undefined && isMatch) return next()
    const error =
      header === undefined
        ? new AdminTokenError('token_missing', 'the admin API needs Authorization: Bearer <token> (the content of --admin-token-file)')
        : new AdminTokenError('token_invalid', 'the bearer token is not the admin token')
    const response = errorResponse(error, logger, c.req.path)
    // RFC 6750 §3: the challenge, with error="invalid_token" when a token was sent (§3.1).
    response.headers.set('www-authenticate', header === undefined ? 'Bearer realm="tuf-proxy admin"' : 'Bearer realm="tuf-proxy admin", error="invalid_token"')
    c.set('served', { reason: error.code })
    c.res = response
    return undefined
  })

  app.get('/-/cache', async (c) => {
    const listing = await admin.cache.list()
    const { count, bytes, maxBytes } = listing.blobs
    return c.json(
      { blobs: { count, bytes, maxBytes: Number.isFinite(maxBytes) ? maxBytes : null }, projects: listing.projects.map(projectReport) },
      200,
      { 'cache-control': 'no-store' },
    )
  })

  app.post('/-/refresh/:project{[^/]+}', async (c) => {
    const project = projectParam(c)
    const { source, refresh } = await admin.refresh(project)
    if (refresh.outcome !== 'failed') {
      logger.info('admin_refresh', { project, source, outcome: refresh.outcome, serial: refresh.serial })
      return c.json(
        { project, source: source ?? null, outcome: refresh.outcome, serial: refresh.serial ?? null, previousSerial: refresh.previousSerial ?? null, fetchedAt: new Date(refresh.fetchedAtMs).toISOString() },
        200,
        { 'cache-control': 'no-store' },
      )
    }
    const code = errorCode(refresh.error)
    const status = statusFor(refresh.error)
    logger.warn('admin_refresh', { project, source, outcome: 'failed', reason: code, detail: describeError(refresh.error) })
    c.set('served', { reason: code })
    const body = { project, source: source ?? null, outcome: 'failed', error: code, message: status === 500 ? 'internal error; see the proxy log' : describeError(refresh.error), lastGoodKept: refresh.isLastGoodKept }
    // The refresh failed for the reason a page request would have, so it answers that request's status.
    return new Response(`${JSON.stringify(body)}\n`, { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-tuf-proxy-reason': code } })
  })

  app.delete('/-/cache/:project{[^/]+}', async (c) => {
    const project = projectParam(c)
    const forgetOwner = c.req.query('forget-owner')
    if (forgetOwner !== undefined && forgetOwner !== '1' && forgetOwner !== '0') throw new BadRequestError(`forget-owner=${JSON.stringify(forgetOwner)}: write forget-owner=1 to forget the owning source, or leave it out`)
    const purged = await admin.cache.purge(project, { forgetOwner: forgetOwner === '1' })
    return c.json(purged, 200, { 'cache-control': 'no-store' })
  })
}

/**
 * The project named in the path, PEP 503 normalized.
 * @throws BadRequestError for a name no index could list (PEP 508)
 */
function projectParam(c: Context<AppEnv>): string {
  const name = c.req.param('project') ?? ''
  if (!isValidProjectName(name)) throw new BadRequestError(`${JSON.stringify(name)} is not a valid project name`)
  return normalizeName(name)
}
