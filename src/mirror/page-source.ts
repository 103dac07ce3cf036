/**
 * Where the bytes of an index page come from. The core mirror asks the upstream over HTTP with
 * conditional requests; verifying mode (tuf-pages.ts) substitutes a source that only yields bytes
 * TUF metadata vouches for. Either way the caller parses and caches the result.
 */
import { maskUrl } from '../base/index.js'
import type { BodySink, UpstreamClient, UpstreamHead } from '../upstream/index.js'
import { UpstreamHttpError } from '../upstream/index.js'
import { NotFoundError } from './errors.js'

export interface PageValidators {
  readonly etag?: string | undefined
  readonly lastModified?: string | undefined
}

/** A page's description, without its bytes. */
export interface PageHead {
  /** where the bytes finally came from, after redirects: relative links resolve against it */
  readonly url: string
  readonly contentType: string
  readonly validators: PageValidators
  /** `X-PyPI-Last-Serial`, when the upstream sent one */
  readonly serial: number | undefined
  /** verifying mode: the earliest expiry of the roles that vouch for the page; never served past it */
  readonly validUntilMs?: number
  /** verifying mode: the generation of the verified TUF state that vouched for the page */
  readonly trustGeneration?: number
}

export type NotModified = { readonly kind: 'not-modified'; readonly validUntilMs?: number; readonly trustGeneration?: number }

export type PageFetch = NotModified | ({ readonly kind: 'page'; readonly body: Uint8Array } & PageHead)

/** A page whose bytes went to a sink (PageSource.fetchInto). */
export type PageStreamFetch = NotModified | ({ readonly kind: 'page' } & PageHead)

export interface PageSource {
  /**
   * @throws NotFoundError when the upstream has no such page; any UpstreamError or TrustError otherwise
   */
  fetch(url: string, previous: PageValidators | undefined): Promise<PageFetch>
  /**
   * Like fetch, but the bytes go to the sink `open` returns for the page as they arrive, so a
   * large page (the project list) is never whole in memory. `open` is not called when the page
   * is not modified. Resolves once the sink has taken the last bytes.
   * @throws as fetch; and whatever `open` or the sink throws
   */
  fetchInto(url: string, previous: PageValidators | undefined, open: (head: PageHead) => BodySink): Promise<PageStreamFetch>
}

/**
 * A page fetched whole, handed to a sink as fetchInto would: for a source whose bytes must be
 * checked whole before any is used (a TUF target).
 */
export async function pourInto(fetched: PageFetch, open: (head: PageHead) => BodySink): Promise<PageStreamFetch> {
  if (fetched.kind === 'not-modified') return fetched
  const { body, ...head } = fetched
  await open(head).write(body)
  return head
}

/** PEP 691: ask for JSON first, as pip does, and accept HTML from older indexes. */
const UPSTREAM_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1'

function parseSerialHeader(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined
  return Number(value.trim())
}

export function httpPageSource(upstream: UpstreamClient, maxPageBytes: number): PageSource {
  const optionsFor = (previous: PageValidators | undefined) => {
    const headers: Record<string, string> = { accept: UPSTREAM_ACCEPT }
    if (previous?.etag) headers['if-none-match'] = previous.etag
    if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified
    return { maxBytes: maxPageBytes, headers }
  }
  const notFound = (url: string, error: unknown): unknown => {
    if (error instanceof UpstreamHttpError && (error.status === 404 || error.status === 410)) {
      // The message reaches the client: an index URL's credentials must not.
      return new NotFoundError(`the upstream has no page at ${maskUrl(url)}`, { cause: error })
    }
    return error
  }
  return {
    async fetch(url, previous) {
      try {
        const response = await upstream.getBytes(url, optionsFor(previous))
        if (response.status === 304) return { kind: 'not-modified' }
        return { kind: 'page', body: response.body, ...pageHeadOf(response) }
      } catch (error) {
        throw notFound(url, error)
      }
    },
    async fetchInto(url, previous, open) {
      try {
        const response = await upstream.getInto(url, optionsFor(previous), (head) => open(pageHeadOf(head)))
        if (response.status === 304) return { kind: 'not-modified' }
        return { kind: 'page', ...pageHeadOf(response) }
      } catch (error) {
        throw notFound(url, error)
      }
    },
  }
}

function pageHeadOf(response: UpstreamHead): PageHead {
  return {
    url: response.url,
    contentType: response.headers['content-type'] ?? 'text/html',
    validators: { etag: response.headers.etag, lastModified: response.headers['last-modified'] },
    serial: parseSerialHeader(response.headers['x-pypi-last-serial']),
  }
}
