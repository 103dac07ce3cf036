/**
 * The hot path for cached index pages: a plain Node request handler that answers GET and HEAD for
 * `/simple/` and `/simple/<normalized name>/` straight from memory when the page is fresh there,
 * before hono builds a request context. Everything else (a query string, an unusual target, a
 * miss, a stale page, a redirect, any error) falls through to the hono app, which owns the rules.
 * Both answer through writePage(), so a page is the same bytes and headers on either path.
 *
 * Why: measured in bench/, hono's per-request context costs more than the rest of serving a
 * cached 13 KiB page, and cached pages are most of what pip asks for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describeError, errorCode, type MonotonicMs } from '../base/index.js'
import type { PageService } from '../mirror/index.js'
import { asksToRevalidate } from './client-revalidate.js'
import { statusFor } from './error-response.js'
import { negotiateAccept } from './negotiate-accept.js'
import { elapsedMs, userAgentOf, type RequestLog } from './request-log.js'
import { writePage } from './write-page.js'

/** The canonical URL of the project list or of a normalized project page, and nothing else. */
const HOT_TARGET = /^\/simple\/(?:([a-z0-9]+(?:-[a-z0-9]+)*)\/)?$/

/** `startMs`: when the server took the request, from monotonicMs() (listen.ts reads it once). */
export type HotPath = (req: IncomingMessage, res: ServerResponse, startMs: number) => boolean

/** `honorClientRevalidate`: a project page request that asks to revalidate falls through to the hono route, which asks the upstream. */
export function hotPages(deps: { pages: PageService; monotonicMs: MonotonicMs; requestLog: RequestLog; honorClientRevalidate: boolean }): HotPath {
  return (req, res, startMs) => {
    const method = req.method
    if (method !== 'GET' && method !== 'HEAD') return false
    const target = HOT_TARGET.exec(req.url ?? '')
    if (!target) return false
    if (target[1] !== undefined && deps.honorClientRevalidate && asksToRevalidate(req.headers)) return false
    const format = negotiateAccept(req.headers.accept)
    if (!format) return false
    const page = deps.pages.peekFresh(target[1] ?? '', format)
    if (!page) return false
    // Read before answering: a socket destroyed mid-answer no longer knows its peer.
    const client = req.socket.remoteAddress
    const log = (served: { status: number; bytes: number | undefined }) =>
      deps.requestLog({
        method,
        path: req.url ?? '',
        status: served.status,
        cache: page.cache,
        bytes: served.bytes,
        ms: elapsedMs(deps.monotonicMs, startMs),
        client,
        userAgent: userAgentOf(req),
      })
    const served = writePage(req, res, page)
    if (!(served instanceof Promise)) log(served)
    else served.then(log, (error: unknown) => log(answerError(res, error)))
    return true
  }
}

/**
 * A stored page body that could not be opened (evicted, disk error): nothing is sent yet, so the
 * answer is the error's, as hono's onError would give (error-response.ts); the next request
 * renders the page again.
 */
function answerError(res: ServerResponse, error: unknown): { status: number; bytes: undefined } {
  const status = statusFor(error)
  if (res.headersSent) {
    res.destroy()
    return { status, bytes: undefined }
  }
  const code = errorCode(error)
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-tuf-proxy-reason': code })
  res.end(`${JSON.stringify({ error: code, message: describeError(error) })}\n`)
  return { status, bytes: undefined }
}
