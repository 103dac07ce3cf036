/**
 * `/simple/` and `/simple/<project>/`: PEP 503 URLs, PEP 691 content negotiation, redirects of
 * non-normalized names, conditional requests against the rendered page's ETag.
 */
import type { Context, Hono } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { negotiate, normalizeName, isValidProjectName } from '../../index/index.js'
import type { PageService, RenderedPage } from '../../mirror/index.js'
import { asksToRevalidate } from '../client-revalidate.js'
import { BadRequestError } from '../error-response.js'
import { negotiateAccept } from '../negotiate-accept.js'
import { writePage } from '../write-page.js'
import type { AppEnv } from '../app.js'

/** `honorClientRevalidate`: a project page request with `Cache-Control: no-cache` is revalidated upstream first (client-revalidate.ts). */
export function simpleRoutes(app: Hono<AppEnv>, pages: PageService, options: { readonly honorClientRevalidate: boolean }): void {
  app.get('/simple', (c) => c.redirect(withQuery(c, '/simple/'), 301))
  app.get('/simple/', async (c) => {
    const format = negotiateOr406(c)
    if (!format) return notAcceptable(c)
    return await pageResponse(c, await pages.index(format))
  })
  app.get('/simple/:project{[^/]+}', (c) => c.redirect(withQuery(c, `/simple/${encodeURIComponent(c.req.param('project'))}/`), 301))
  app.get('/simple/:project{[^/]+}/', async (c) => {
    const name = c.req.param('project')
    if (!isValidProjectName(name)) throw new BadRequestError(`${JSON.stringify(name)} is not a valid project name`)
    const normalized = normalizeName(name)
    // PEP 503: the normalized URL is canonical; other spellings redirect to it.
    if (normalized !== name) return c.redirect(withQuery(c, `/simple/${normalized}/`), 301)
    const format = negotiateOr406(c)
    if (!format) return notAcceptable(c)
    const revalidate = options.honorClientRevalidate && asksToRevalidate(c.env.incoming.headers)
    return await pageResponse(c, await pages.project(normalized, format, { revalidate }))
  })
}

function withQuery(c: Context<AppEnv>, path: string): string {
  const query = new URL(c.req.url).search
  return `${path}${query}`
}

function negotiateOr406(c: Context<AppEnv>) {
  // Node's parsed headers: hono's c.req.header() would build a whole Headers object per request.
  const accept = c.env.incoming.headers.accept
  return c.env.incoming.url?.includes('?') ? negotiate(accept, c.req.query('format')) : negotiateAccept(accept)
}

function notAcceptable(c: Context<AppEnv>): Response {
  c.set('served', { reason: 'not_acceptable' })
  return new Response(
    `${JSON.stringify({ error: 'not_acceptable', message: 'no acceptable format: this index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html' })}\n`,
    { status: 406, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', vary: 'Accept', 'x-tuf-proxy-reason': 'not_acceptable' } },
  )
}

/** The same answer as the hot path's (write-page.ts), written to Node's response; hono sends nothing. */
async function pageResponse(c: Context<AppEnv>, page: RenderedPage): Promise<Response> {
  const { status, bytes } = await writePage(c.env.incoming, c.env.outgoing, page)
  c.set('served', { status, cache: page.cache, bytes })
  return RESPONSE_ALREADY_SENT
}
