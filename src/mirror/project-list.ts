/**
 * The project list (`/simple/`) from upstream bytes to the three rendered representations and a
 * stored copy, without holding the event loop for more than a slice at a time (issue 7 item 16):
 * PyPI's list is ~44 MB of HTML, and parsing, rendering, hashing or writing it in one piece
 * stalled every other request for over a second. Parsing and rendering are index/'s
 * (project-list-stream.ts); this file adds the slicing of what the mirror itself does with the
 * bytes: hashing them, writing them to the blob store and reading them back.
 *
 * The two renderings (~38 MB of HTML, ~20 MB of JSON for PyPI) are kept as committed blobs, not in
 * memory (issue 9): they are served like a cached file, a reader at a time (StoredBody).
 */
import { createHasher } from '../base/index.js'
import { renderProjectListStream, type IndexMeta, type SimpleFormat } from '../index/index.js'
import { CorruptBlobError, type BlobReader, type BlobStore } from '../store/index.js'
import { PageBodyGoneError } from './errors.js'
import { representationEtag } from './page-etag.js'

/** Bytes hashed or written between two turns of the event loop (~1 ms of SHA-256 here). */
const SLICE_BYTES = 1024 * 1024

/** Lets the event loop run (timers, sockets) before the caller goes on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

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

/**
 * Parses and renders an upstream project list in every format and stores each rendering as a
 * blob; the rendered bytes are dropped once stored.
 * @param onGone told when a rendering's blob was found evicted, so the caller renders again
 * @throws {IndexFormatError} when the list is malformed; {StoreError} when a rendering cannot be stored
 */
export async function renderProjectList(
  blobs: BlobStore,
  page: { body: Uint8Array; contentType: string; url: string },
  onGone: () => void,
): Promise<ProjectListRenderings> {
  const isJson = /^application\/vnd\.pypi\.simple\.(v1|latest)\+json/i.test(page.contentType.trim())
  const list = await renderProjectListStream(page.body, isJson ? 'json' : 'html', page.url, { pause: yieldToEventLoop })
  const stored = async (rendering: { body: Uint8Array; sha256: string }): Promise<StoredBody> => {
    await storeSliced(blobs, rendering.body, rendering.sha256)
    return storedBody(blobs, { sha256: rendering.sha256, size: rendering.body.byteLength }, onGone)
  }
  const html = await stored(list.html)
  const json = await stored(list.json)
  return renderingsOf(list.meta, html, json)
}

function renderingsOf(meta: IndexMeta, html: StoredBody, json: StoredBody): ProjectListRenderings {
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

function storedBody(blobs: BlobStore, ref: { sha256: string; size: number }, onGone: () => void): StoredBody {
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

/**
 * The blob `sha256`, read and hashed a slice per turn of the event loop (BlobStore.readBytes
 * hashes it in one piece, which held the loop ~30 ms for PyPI's list). A blob that does not
 * match its digest is removed.
 * @returns undefined when the blob is not stored
 * @throws {CorruptBlobError} on a mismatch; {StoreError} on a disk error
 */
export async function readSliced(blobs: BlobStore, sha256: string): Promise<Uint8Array | undefined> {
  const ref = blobs.get(sha256)
  if (!ref) return undefined
  const reader = await blobs.openBlob(ref)
  if (!reader) return undefined
  // One byte more than recorded, so a file that grew is caught too.
  const bytes = Buffer.allocUnsafe(ref.size + 1)
  const hasher = createHasher('sha256')
  let length = 0
  try {
    for (let read = -1; read !== 0 && length < bytes.byteLength; length += read) {
      read = await reader.read(bytes.subarray(length), length, Math.min(SLICE_BYTES, bytes.byteLength - length))
      hasher.update(bytes.subarray(length, length + read))
      await yieldToEventLoop()
    }
  } finally {
    await reader.close()
  }
  if (length !== ref.size || hasher.digestHex() !== sha256) {
    await blobs.delete(sha256)
    throw new CorruptBlobError(`cached blob ${sha256} does not match its digest and was removed; it will be fetched again`)
  }
  return bytes.subarray(0, length)
}

/** SHA-256 of `bytes`, a slice per turn of the event loop. */
export async function sha256Sliced(bytes: Uint8Array): Promise<string> {
  const hasher = createHasher('sha256')
  for (let start = 0; start < bytes.byteLength; start += SLICE_BYTES) {
    hasher.update(bytes.subarray(start, start + SLICE_BYTES))
    await yieldToEventLoop()
  }
  return hasher.digestHex()
}

/**
 * Stores `bytes` (whose digest the caller just computed) a slice per write, so the store neither
 * hashes them again nor takes them in one piece.
 * @throws {StoreError} as BlobStore.createWriter and BlobWriter.write do
 */
export async function storeSliced(blobs: BlobStore, bytes: Uint8Array, sha256: string): Promise<void> {
  if (blobs.get(sha256)) return
  const writer = await blobs.createWriter({ verifiedSha256: sha256 })
  try {
    for (let start = 0; start < bytes.byteLength; start += SLICE_BYTES) await writer.write(bytes.subarray(start, start + SLICE_BYTES))
    await writer.commit()
  } catch (error) {
    await writer.abort()
    throw error
  }
}
