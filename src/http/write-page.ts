/**
 * The one way a rendered index page is answered, by the hot path (hot-pages.ts) and by the hono
 * route (routes/simple.ts) alike: 200 with the body, 304 when If-None-Match names the page's
 * ETag, and HEAD as a 200 without the body. Written straight to Node's response, so both paths
 * send the same status, headers and bytes.
 *
 * The headers of each answer are prepared once per representation (the mirror returns the same
 * RenderedPage object for the same rendering and cache status) and reused for every request.
 * A body kept as a blob (the project list) is streamed like a cached file (send-file.ts): the
 * reader is opened before the status line, so an eviction meanwhile fails cleanly (the caller
 * then answers the error) rather than cutting the body short.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { RenderedPage } from '../mirror/index.js'
import { streamBlob } from './send-file.js'

/** What the request log reports for a page answer. */
export interface PageServed {
  readonly status: 200 | 304
  /** body bytes sent; undefined for a 304 */
  readonly bytes: number | undefined
}

interface PreparedAnswer {
  readonly ok: OutgoingHttpHeaders
  /** RFC 9110 §15.4.5: a 304 carries the headers a 200 would, less the body's length */
  readonly notModified: OutgoingHttpHeaders
  readonly okServed: PageServed
}

const prepared = new WeakMap<RenderedPage, PreparedAnswer>()
const NOT_MODIFIED: PageServed = { status: 304, bytes: undefined }

function prepare(page: RenderedPage): PreparedAnswer {
  const notModified: Record<string, string> = {
    'content-type': page.contentType,
    etag: page.etag,
    vary: 'Accept',
    'x-cache': page.cache,
    'cache-control': 'max-age=0, must-revalidate',
  }
  if (page.serial !== undefined) notModified['x-pypi-last-serial'] = String(page.serial)
  const ok = Object.freeze({ ...notModified, 'content-length': String(page.body.byteLength) })
  return { ok, notModified: Object.freeze(notModified), okServed: { status: 200, bytes: page.body.byteLength } }
}

/**
 * Synchronous for a body in memory, for a 304 and for a HEAD; a promise when a stored body is sent,
 * settled once it is (rejected, with nothing sent, when the blob cannot be opened).
 */
export function writePage(req: IncomingMessage, res: ServerResponse, page: RenderedPage): PageServed | Promise<PageServed> {
  let answer = prepared.get(page)
  if (!answer) {
    answer = prepare(page)
    prepared.set(page, answer)
  }
  if (matchesIfNoneMatch(req.headers['if-none-match'], page.etag)) {
    res.writeHead(304, answer.notModified).end()
    return NOT_MODIFIED
  }
  const { body } = page
  if (req.method !== 'HEAD' && !(body instanceof Uint8Array)) return writeStored(res, body, answer)
  res.writeHead(200, answer.ok)
  if (req.method === 'HEAD') res.end()
  else res.end(body)
  return answer.okServed
}

async function writeStored(res: ServerResponse, body: Exclude<RenderedPage['body'], Uint8Array>, answer: PreparedAnswer): Promise<PageServed> {
  const file = await body.open()
  res.writeHead(200, answer.ok)
  const sent = await streamBlob(res, file, { sha256: body.sha256, size: body.byteLength })
  return sent.complete ? answer.okServed : { status: 200, bytes: sent.bytes }
}

/** RFC 9110 §13.1.2: weak comparison is enough for a GET; `*` matches any current page. */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`
  })
}
