/**
 * The project list (`/simple/`) from upstream bytes to the three rendered representations and a
 * stored copy, without holding the event loop for more than a slice at a time (issue 7 item 16):
 * PyPI's list is ~44 MB of HTML, and parsing, rendering, hashing or writing it in one piece
 * stalled every other request for over a second. Parsing and rendering are index/'s
 * (project-list-stream.ts); this file adds the slicing of what the mirror itself does with the
 * bytes: hashing them and writing them to the blob store.
 */
import { createHasher } from '../base/index.js'
import { renderProjectListStream, type IndexMeta, type SimpleFormat } from '../index/index.js'
import type { BlobStore } from '../store/index.js'
import { representationEtag } from './page-etag.js'

/** Bytes hashed or written between two turns of the event loop (~1 ms of SHA-256 here). */
const SLICE_BYTES = 1024 * 1024

/** Lets the event loop run (timers, sockets) before the caller goes on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export interface ProjectListRenderings {
  readonly meta: IndexMeta
  readonly rendered: Map<SimpleFormat, { body: Uint8Array; etag: string }>
}

/**
 * Parses and renders an upstream project list in every format.
 * @throws {IndexFormatError} when the list is malformed
 */
export async function renderProjectList(body: Uint8Array, contentType: string, url: string): Promise<ProjectListRenderings> {
  const isJson = /^application\/vnd\.pypi\.simple\.(v1|latest)\+json/i.test(contentType.trim())
  const list = await renderProjectListStream(body, isJson ? 'json' : 'html', url, { pause: yieldToEventLoop })
  const html = { body: list.html.body, sha256: list.html.sha256 }
  return {
    meta: list.meta,
    rendered: new Map<SimpleFormat, { body: Uint8Array; etag: string }>([
      ['text-html', { body: html.body, etag: representationEtag('text-html', html.sha256) }],
      ['html-v1', { body: html.body, etag: representationEtag('html-v1', html.sha256) }],
      ['json-v1', { body: list.json.body, etag: representationEtag('json-v1', list.json.sha256) }],
    ]),
  }
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
