/**
 * How a rendered page is answered, shared by the hono route and the hot path: PEP 691
 * negotiation of the Accept header (cached per distinct value), the response headers, and the
 * If-None-Match comparison.
 */
import { negotiate, type SimpleFormat } from '../index/index.js'
import type { RenderedPage } from '../mirror/index.js'

/** Negotiations by Accept header: clients send a handful of distinct headers, so this stays small. */
const negotiated = new Map<string, SimpleFormat | undefined>()
const NEGOTIATED_MAX_ENTRIES = 256

export function negotiateAccept(accept: string | undefined): SimpleFormat | undefined {
  const key = accept ?? ''
  const known = negotiated.get(key)
  if (known !== undefined || negotiated.has(key)) return known
  const format = negotiate(accept, undefined)
  if (negotiated.size < NEGOTIATED_MAX_ENTRIES) negotiated.set(key, format)
  return format
}

export function pageHeaders(page: RenderedPage): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': page.contentType,
    etag: page.etag,
    vary: 'Accept',
    'x-cache': page.cache,
    'cache-control': 'max-age=0, must-revalidate',
  }
  if (page.serial !== undefined) headers['x-pypi-last-serial'] = String(page.serial)
  return headers
}

/** RFC 9110 §13.1.2: weak comparison is enough for a GET; `*` matches any current page. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`
  })
}
