/**
 * Where the bytes of an index page come from. The core mirror asks the upstream over HTTP with
 * conditional requests; verifying mode (tuf-pages.ts) substitutes a source that only yields bytes
 * TUF metadata vouches for. Either way the caller parses and caches the result.
 */
import { maskUrl } from '../base/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import { UpstreamHttpError } from '../upstream/index.js'
import { NotFoundError } from './errors.js'

export interface PageValidators {
  readonly etag?: string | undefined
  readonly lastModified?: string | undefined
}

export type PageFetch =
  | { readonly kind: 'not-modified'; readonly validUntilMs?: number; readonly trustGeneration?: number }
  | {
      readonly kind: 'page'
      /** where the bytes finally came from, after redirects: relative links resolve against it */
      readonly url: string
      readonly body: Uint8Array
      readonly contentType: string
      readonly validators: PageValidators
      /** `X-PyPI-Last-Serial`, when the upstream sent one */
      readonly serial: number | undefined
      /** verifying mode: the earliest expiry of the roles that vouch for the page; never served past it */
      readonly validUntilMs?: number
      /** verifying mode: the generation of the verified TUF state that vouched for the page */
      readonly trustGeneration?: number
    }

export interface PageSource {
  /**
   * @throws NotFoundError when the upstream has no such page; any UpstreamError or TrustError otherwise
   */
  fetch(url: string, previous: PageValidators | undefined): Promise<PageFetch>
}

/** PEP 691: ask for JSON first, as pip does, and accept HTML from older indexes. */
const UPSTREAM_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1'

function parseSerialHeader(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined
  return Number(value.trim())
}

export function httpPageSource(upstream: UpstreamClient, maxPageBytes: number): PageSource {
  return {
    async fetch(url, previous) {
      const headers: Record<string, string> = { accept: UPSTREAM_ACCEPT }
      if (previous?.etag) headers['if-none-match'] = previous.etag
      if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified
      try {
        const response = await upstream.getBytes(url, { maxBytes: maxPageBytes, headers })
        if (response.status === 304) return { kind: 'not-modified' }
        return {
          kind: 'page',
          url: response.url,
          body: response.body,
          contentType: response.headers['content-type'] ?? 'text/html',
          validators: { etag: response.headers.etag, lastModified: response.headers['last-modified'] },
          serial: parseSerialHeader(response.headers['x-pypi-last-serial']),
        }
      } catch (error) {
        if (error instanceof UpstreamHttpError && (error.status === 404 || error.status === 410)) {
          // The message reaches the client: an index URL's credentials must not.
          throw new NotFoundError(`the upstream has no page at ${maskUrl(url)}`, { cause: error })
        }
        throw error
      }
    },
  }
}
