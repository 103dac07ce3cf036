/**
 * The project list (`/simple/`) from the upstream's bytes to its stored renderings as the bytes
 * arrive (issue 9): PyPI's list (20 MB of JSON, ~44 MB of HTML) and its two renderings (~38 MB of
 * HTML, ~20 MB of JSON) are never whole in memory. The bytes are cut into slices of one turn of
 * the event loop, scanned and rendered by index/ (ProjectListRenderer), and each rendering is
 * appended to a blob writer, which hashes as it writes; the upstream's own bytes go to a third
 * blob, the one the page record names (a restart renders the list again from it when the
 * renderings were evicted). Nothing is committed, so nothing is servable, before the whole list
 * was read and found good; the caller checks the serial in between (end, then commit).
 *
 * Parsing and rendering are index/'s, whether to fetch and what to keep in memory simple-pages.ts's.
 */
import { createHasher } from '../base/index.js'
import { ProjectListRenderer, type IndexMeta, type ListFrame, type RenderedEntries } from '../index/index.js'
import { StoreError, type BlobRef, type BlobStore, type BlobWriter } from '../store/index.js'
import type { BodySink } from '../upstream/index.js'
import { renderingsOf, storedBody, type ProjectListRenderings } from './project-list.js'

/**
 * Upstream bytes scanned per turn of the event loop. Small enough that what one slice allocates
 * (decoded text, parsed entries, rendered lines) dies young in the proxy's 1 MiB semi-space
 * (cli.ts): PyPI's list rendered in 16 KiB slices took 0.7 s and peaked 20-25 MB of heap, in
 * 64 KiB slices 1.0-1.3 s and 32-43 MB, most of the difference being promotion and full GCs.
 */
const SLICE_BYTES = 16 * 1024
/** Bytes gathered before one write to a blob writer (and read per call when copying or re-reading one): fewer, larger system calls. */
const BATCH_BYTES = 1024 * 1024

/** Lets the event loop run (timers, sockets) before the caller goes on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** The upstream's list as its page source describes it. */
export interface ListPage {
  readonly contentType: string
  /** the list's URL, for error messages */
  readonly url: string
}

/**
 * Bytes on their way to one blob, copied into one buffer that is written when full and then
 * reused: what passes through is garbage at once, so the memory of a list is this buffer, not
 * the list (chunks kept until written would outlive the young generation and wait for a full GC).
 */
class BatchedBlob {
  #writer: BlobWriter | undefined
  #buffer: Buffer | undefined
  #filled = 0
  #isAborted = false

  constructor(private readonly blobs: BlobStore) {}

  /**
   * Appends a copy of `bytes`.
   * @returns the copy (or `bytes` itself, when larger than the buffer), unchanged until the next call
   * @throws {StoreError}
   */
  async append(bytes: Uint8Array): Promise<Uint8Array> {
    const buffer = await this.#room(bytes.byteLength)
    if (buffer === undefined) {
      await (await this.#open()).write(bytes)
      return bytes
    }
    buffer.set(bytes, this.#filled)
    this.#filled += bytes.byteLength
    return buffer.subarray(this.#filled - bytes.byteLength, this.#filled)
  }

  /** Appends `text` encoded as UTF-8. @throws {StoreError} */
  async appendText(text: string): Promise<void> {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const buffer = await this.#room(text.length * 3)
    if (buffer === undefined) await (await this.#open()).write(Buffer.from(text, 'utf8'))
    else this.#filled += buffer.write(text, this.#filled, 'utf8')
  }

  /** Writes what was gathered. @throws {StoreError} */
  async flush(): Promise<BlobWriter> {
    const writer = await this.#open()
    if (this.#buffer !== undefined && this.#filled > 0) {
      const filled = this.#filled
      this.#filled = 0
      // Awaited before the buffer is filled again (BlobWriter.write).
      await writer.write(this.#buffer.subarray(0, filled))
    }
    return writer
  }

  /** @throws {StoreError} (the temp file is removed) */
  async commit(): Promise<BlobRef> {
    return (await this.flush()).commit()
  }

  async abort(): Promise<void> {
    this.#isAborted = true
    this.#buffer = undefined
    this.#filled = 0
    await this.#writer?.abort()
  }

  /** The buffer with room for `bytes` more, flushed first if need be; undefined when they would not fit in it at all. */
  async #room(bytes: number): Promise<Buffer | undefined> {
    if (this.#filled + bytes > BATCH_BYTES) await this.flush()
    if (bytes > BATCH_BYTES) return undefined
    this.#buffer ??= Buffer.allocUnsafe(BATCH_BYTES)
    return this.#buffer
  }

  async #open(): Promise<BlobWriter> {
    if (this.#isAborted) throw new Error('BatchedBlob used after abort')
    this.#writer ??= await this.blobs.createWriter()
    return this.#writer
  }
}

/** One rendering: its head, the entries as they come, its tail. */
class RenderingBlob {
  #blob: BatchedBlob
  #head: Buffer | undefined

  constructor(private readonly blobs: BlobStore) {
    this.#blob = new BatchedBlob(blobs)
  }

  /** Appends entries; the first ones start the rendering with `head()`, the head as far as the meta is known. @throws {StoreError} */
  async append(entries: string, head: () => Buffer): Promise<void> {
    if (entries.length === 0) return
    if (this.#head === undefined) {
      this.#head = head()
      await this.#blob.append(this.#head)
    }
    await this.#blob.appendText(entries)
  }

  /**
   * Closes the rendering with its frame. When it was begun with another head (the meta changed
   * after the first entries), the entries are copied behind the right head into a new blob, a
   * batch at a time: rare, and still bounded in memory.
   * @throws {StoreError}
   */
  async end(frame: ListFrame): Promise<void> {
    if (this.#head === undefined) {
      this.#head = frame.head
      await this.#blob.append(frame.head)
    } else if (!this.#head.equals(frame.head)) {
      await this.#rewrite(this.#head.byteLength, frame.head)
      this.#head = frame.head
    }
    await this.#blob.append(frame.tail)
  }

  commit(): Promise<BlobRef> {
    return this.#blob.commit()
  }

  abort(): Promise<void> {
    return this.#blob.abort()
  }

  async #rewrite(oldHeadBytes: number, head: Buffer): Promise<void> {
    const old = await this.#blob.flush()
    const fresh = new BatchedBlob(this.blobs)
    try {
      await fresh.append(head)
      const writer = await fresh.flush()
      const reader = await old.openReader()
      try {
        const buffer = Buffer.allocUnsafe(BATCH_BYTES)
        for (let position = oldHeadBytes; position < old.size; ) {
          const count = await reader.read(buffer, position, Math.min(buffer.byteLength, old.size - position))
          if (count === 0) throw new StoreError(`a project list rendering being written ends at ${position} of its ${old.size} bytes`)
          // Awaited before the buffer is read into again (BlobWriter.write).
          await writer.write(buffer.subarray(0, count))
          position += count
        }
      } finally {
        await reader.close()
      }
    } catch (error) {
      await fresh.abort()
      throw error
    }
    await this.#blob.abort()
    this.#blob = fresh
  }
}

/** Scans an upstream list a slice at a time and writes its two renderings; commits nothing until told. */
export class ProjectListIntake {
  readonly #renderer: ProjectListRenderer
  readonly #html: RenderingBlob
  readonly #json: RenderingBlob
  #heads: { readonly html: Buffer; readonly json: Buffer } | undefined

  constructor(
    private readonly blobs: BlobStore,
    private readonly page: ListPage,
  ) {
    const isJson = /^application\/vnd\.pypi\.simple\.(v1|latest)\+json/i.test(page.contentType.trim())
    this.#renderer = new ProjectListRenderer(isJson ? 'json' : 'html')
    this.#html = new RenderingBlob(blobs)
    this.#json = new RenderingBlob(blobs)
  }

  /**
   * Scans, renders and writes the next bytes of the list, a slice per turn of the event loop.
   * `bytes` may be reused once the promise settles.
   * @throws {IndexFormatError} when the list is already known to be malformed; {StoreError}
   */
  async write(bytes: Uint8Array): Promise<void> {
    for (let start = 0; start < bytes.byteLength; start += SLICE_BYTES) {
      await this.#append(this.#renderer.push(bytes.subarray(start, start + SLICE_BYTES)))
      await yieldToEventLoop()
    }
  }

  /**
   * The end of the list: both renderings written whole, not yet committed.
   * @returns the list's meta
   * @throws {IndexFormatError} when the list is malformed; {StoreError}
   */
  async end(): Promise<IndexMeta> {
    const end = this.#renderer.finish(this.page.url)
    await this.#append(end.entries)
    await this.#html.end(end.html)
    await this.#json.end(end.json)
    return end.meta
  }

  /**
   * Makes both renderings servable.
   * @param onGone told when a rendering's blob is later found evicted, so the caller renders the list again
   * @throws {StoreError}
   */
  async commit(meta: IndexMeta, onGone: () => void): Promise<ProjectListRenderings> {
    const html = await this.#html.commit()
    const json = await this.#json.commit()
    return renderingsOf(meta, storedBody(this.blobs, html, onGone), storedBody(this.blobs, json, onGone))
  }

  async abort(): Promise<void> {
    await Promise.all([this.#html.abort(), this.#json.abort()])
  }

  async #append(entries: RenderedEntries): Promise<void> {
    await this.#html.append(entries.html, () => this.#headsSoFar().html)
    await this.#json.append(entries.json, () => this.#headsSoFar().json)
  }

  #headsSoFar(): { readonly html: Buffer; readonly json: Buffer } {
    this.#heads ??= this.#renderer.headsSoFar()
    return this.#heads
  }
}

/**
 * The upstream's list as it arrives (the BodySink of PageSource.fetchInto): its bytes stored as a
 * blob and rendered by a ProjectListIntake. The sink never fails the download itself: its first
 * failure (a malformed list, a disk error) is kept, what was written is removed, and the rest of
 * the body is read and dropped, so the download ends as any page's does (complete, truncated, too
 * large, slow: the upstream's verdict is the same as for a list fetched whole); end() reports it.
 */
export class ProjectListDownload implements BodySink {
  readonly #intake: ProjectListIntake
  readonly #body: BatchedBlob
  #failure: { readonly error: unknown } | undefined

  constructor(blobs: BlobStore, page: ListPage) {
    this.#intake = new ProjectListIntake(blobs, page)
    this.#body = new BatchedBlob(blobs)
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#failure) return
    try {
      // Scanned from the copy, so the socket's chunk is garbage at once rather than kept through
      // the slices (and promoted, its memory then waiting for a full GC).
      await this.#intake.write(await this.#body.append(chunk))
    } catch (error) {
      this.#failure = { error }
      await this.abort()
    }
  }

  /**
   * The end of the list, once the whole body was received: written, not yet committed.
   * @returns the list's meta
   * @throws {IndexFormatError} when the list is malformed; {StoreError}
   */
  async end(): Promise<IndexMeta> {
    if (this.#failure) throw this.#failure.error
    try {
      await this.#body.flush()
      return await this.#intake.end()
    } catch (error) {
      await this.abort()
      throw error
    }
  }

  /**
   * Commits the renderings, then the upstream's bytes.
   * @returns the renderings, and the stored upstream body the page record names
   * @throws {StoreError}
   */
  async commit(meta: IndexMeta, onGone: () => void): Promise<{ readonly renderings: ProjectListRenderings; readonly body: BlobRef }> {
    try {
      const renderings = await this.#intake.commit(meta, onGone)
      return { renderings, body: await this.#body.commit() }
    } catch (error) {
      await this.abort()
      throw error
    }
  }

  async abort(): Promise<void> {
    await Promise.all([this.#intake.abort(), this.#body.abort()])
  }
}

/**
 * Renders the list again from the upstream's bytes kept in the store (its renderings were evicted),
 * read and hashed a batch at a time; the renderings are committed only when the bytes match their
 * digest, and a blob that does not is removed.
 * @returns undefined when the bytes are gone, damaged or not a good list, or cannot be read or rendered
 */
export async function renderStoredList(blobs: BlobStore, sha256: string, page: ListPage, onGone: () => void): Promise<ProjectListRenderings | undefined> {
  const ref = blobs.get(sha256)
  const reader = ref && (await blobs.openBlob(ref).catch(() => undefined))
  if (!ref || !reader) return undefined
  const intake = new ProjectListIntake(blobs, page)
  const hasher = createHasher('sha256')
  let renderFailure: { readonly error: unknown } | undefined
  let length = 0
  try {
    const buffer = Buffer.allocUnsafe(BATCH_BYTES)
    // Up to one byte more than recorded, so a file that grew is caught too.
    for (let count = -1; count !== 0 && length <= ref.size; length += count) {
      count = await reader.read(buffer, length, Math.min(buffer.byteLength, ref.size + 1 - length))
      const bytes = buffer.subarray(0, count)
      hasher.update(bytes)
      // A list that turns out malformed is still read to its end: damaged bytes are removed.
      if (renderFailure === undefined) await intake.write(bytes).catch((error: unknown) => (renderFailure = { error }))
    }
    if (length !== ref.size || hasher.digestHex() !== sha256) {
      await blobs.delete(sha256)
      renderFailure ??= { error: new StoreError(`cached blob ${sha256} does not match its digest and was removed`) }
    }
    if (renderFailure !== undefined) throw renderFailure.error
    return await intake.commit(await intake.end(), onGone)
  } catch {
    await intake.abort()
    return undefined
  } finally {
    await reader.close()
  }
}
