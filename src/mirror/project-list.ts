/**
 * The project list's (`/simple/`) renderings as kept in the blob store (issue 9): PyPI's are ~38 MB
 * of HTML and ~20 MB of JSON, so they are committed blobs, not memory, and are served like a
 * cached file, a reader at a time (StoredBody). A page record names them, so a restart reopens
 * them instead of rendering the list again. How they are written as the upstream's list arrives
 * is project-list-intake.ts's.
 */
import type { IndexMeta, SimpleFormat } from '../index/index.js'
import type { BlobReader, BlobStore } from '../store/index.js'
import { PageBodyGoneError } from './errors.js'
import { representationEtag } from './page-etag.js'

/**
 * A rendered body kept in the blob store: its length, and a reader of it to stream. Opened before
 * the status line is sent, so an eviction after that does not cut the body short (BlobReader).
 */
export interface StoredBody {
  readonly byteLength: number
  readonly sha256: string
  /** @throws {PageBodyGoneError} when the blob was evicted (the page is rendered again on the next request); {StoreError} */
  open(): Promise<BlobReader>
}

export interface ProjectListRenderings {
  readonly meta: IndexMeta
  readonly rendered: Map<SimpleFormat, { body: StoredBody; etag: string }>
}

export function renderingsOf(meta: IndexMeta, html: StoredBody, json: StoredBody): ProjectListRenderings {
  return {
    meta,
    rendered: new Map<SimpleFormat, { body: StoredBody; etag: string }>([
      ['text-html', { body: html, etag: representationEtag('text-html', html.sha256) }],
      ['html-v1', { body: html, etag: representationEtag('html-v1', html.sha256) }],
      ['json-v1', { body: json, etag: representationEtag('json-v1', json.sha256) }],
    ]),
  }
}

/** What a page record keeps of the project list's renderings, so a restart need not parse it again. */
export interface StoredRenderings {
  readonly meta: IndexMeta
  readonly html: { readonly sha256: string; readonly size: number }
  readonly json: { readonly sha256: string; readonly size: number }
}

export function storedRenderingsOf(renderings: ReadonlyMap<SimpleFormat, { readonly body: StoredBody | Uint8Array }>): Omit<StoredRenderings, 'meta'> | undefined {
  const html = renderings.get('html-v1')?.body
  const json = renderings.get('json-v1')?.body
  if (!html || !json || html instanceof Uint8Array || json instanceof Uint8Array) return undefined
  return { html: { sha256: html.sha256, size: html.byteLength }, json: { sha256: json.sha256, size: json.byteLength } }
}

/**
 * The renderings a record names, when both blobs are still stored (else undefined: parse the
 * upstream's bytes again). A record is written only after both renderings were committed, and
 * blobs are named by their digest, so the pair is the one rendered from the recorded body.
 */
export function reopenRenderings(blobs: BlobStore, stored: StoredRenderings, onGone: () => void): ProjectListRenderings | undefined {
  const html = blobs.get(stored.html.sha256)
  const json = blobs.get(stored.json.sha256)
  if (!html || !json || html.size !== stored.html.size || json.size !== stored.json.size) return undefined
  return renderingsOf(stored.meta, storedBody(blobs, html, onGone), storedBody(blobs, json, onGone))
}

/** @param onGone told when the blob was found evicted, so the caller renders the list again */
export function storedBody(blobs: BlobStore, ref: { sha256: string; size: number }, onGone: () => void): StoredBody {
  return {
    byteLength: ref.size,
    sha256: ref.sha256,
    async open() {
      const reader = await blobs.openBlob(ref)
      if (reader) return reader
      onGone()
      throw new PageBodyGoneError(`the stored project list ${ref.sha256} was evicted; it is rendered again on the next request`)
    },
  }
}
