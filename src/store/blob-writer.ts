/**
 * Writing one blob: bytes go to a temp file under `${dir}/tmp/` while SHA-256 is computed
 * incrementally; commit hands the finished temp file to the store, which renames it into place.
 * A partial never has a name under `blobs/`, so no reader can see one. Owns the temp file's life
 * and readers of it; does not own where the blob ends up or eviction (the store does), though it
 * asks the store to make room when the disk is full.
 */
import { createHash, type Hash } from 'node:crypto'
import { readSync } from 'node:fs'
import { constants, open, rm, type FileHandle } from 'node:fs/promises'
import type { Clock } from '../base/index.js'
import { errnoCode, StoreFullError, toStoreError } from './errors.js'

export interface BlobRef {
  readonly sha256: string
  readonly size: number
}

/**
 * Positional reads of one blob (committed, or a temp blob being written). A reader keeps its bytes
 * when the blob is evicted, committed or aborted meanwhile (an open descriptor outlives unlink and
 * rename), so callers open a reader first and send headers after.
 */
export interface BlobReader {
  /**
   * Reads up to `length` bytes at `position` into the start of `buffer`.
   * @returns the number of bytes read; 0 at the end of what is stored (or written so far).
   * @throws {StoreError} on a disk error.
   */
  read(buffer: Uint8Array, position: number, length: number): Promise<number>
  /**
   * The same read on the calling thread, which blocks it until the bytes are there: microseconds
   * from the page cache, a disk's latency otherwise. For a sender that watches how long it took
   * (send-file.ts): a read handed to libuv's thread pool costs more CPU than the copy itself.
   * @throws {StoreError} on a disk error.
   */
  readSync(buffer: Uint8Array, position: number, length: number): number
  /** Releases the reader; idempotent. */
  close(): Promise<void>
}

export interface BlobWriter {
  /**
   * Appends a chunk, or several in order (one gathering write: a caller holding many received
   * chunks need not copy them into one buffer first). Await each call (that is the
   * backpressure); the chunks must not be modified until the promise settles.
   * @throws {StoreFullError} when the disk is full (the temp file is removed); {StoreError} otherwise.
   */
  write(chunks: Uint8Array | readonly Uint8Array[]): Promise<void>
  readonly size: number
  /**
   * A reader of the bytes written so far (those whose `write` has settled), to tail a download
   * while it is written. It stays valid after commit and after abort.
   * @throws {StoreError} when the temporary blob cannot be opened.
   */
  openReader(): Promise<BlobReader>
  /**
   * Makes the blob visible atomically and returns it; returns the existing blob when the same
   * content is already stored. Then evicts least recently used blobs (never this one) down to the
   * budget.
   * @throws {StoreFullError} / {StoreError}; the temp file is removed either way.
   */
  commit(): Promise<BlobRef>
  /** Removes the temp file. A no-op after commit or a previous abort. */
  abort(): Promise<void>
}

/**
 * The one fs call made per write: a gathering write of `chunks` at `position`, returning the bytes
 * written (possibly fewer than all). A seam so tests can make the disk "full" without a tiny filesystem.
 */
export type WriteChunk = (handle: FileHandle, chunks: readonly Uint8Array[], position: number) => Promise<number>

export const defaultWriteChunk: WriteChunk = async (handle, chunks, position) =>
  chunks.length === 1 && chunks[0]
    ? (await handle.write(chunks[0], 0, chunks[0].byteLength, position)).bytesWritten
    : (await handle.writev(chunks, position)).bytesWritten

/** What is left of `chunks` after a short write of `written` bytes. */
function unwritten(chunks: readonly Uint8Array[], written: number): Uint8Array[] {
  let skip = written
  let index = 0
  for (; index < chunks.length; index += 1) {
    const length = chunks[index]?.byteLength ?? 0
    if (skip < length) break
    skip -= length
  }
  const rest = chunks.slice(index)
  const first = rest[0]
  if (first && skip > 0) rest[0] = first.subarray(skip)
  return rest
}

/** Reads through a file descriptor, as the disk store's readers do. */
export class FileBlobReader implements BlobReader {
  #handle: FileHandle | undefined

  constructor(
    handle: FileHandle,
    private readonly path: string,
  ) {
    this.#handle = handle
  }

  /**
   * Opens `path` for reading without following a symlink there (a planted link must not make
   * the proxy serve another file); undefined when the file is absent or is a symlink (ELOOP).
   * @throws {StoreError}
   */
  static async open(path: string): Promise<FileBlobReader | undefined> {
    try {
      return new FileBlobReader(await open(path, constants.O_RDONLY | constants.O_NOFOLLOW), path)
    } catch (error) {
      const code = errnoCode(error)
      if (code === 'ENOENT' || code === 'ELOOP') return undefined
      throw toStoreError(error, `opening ${path}`)
    }
  }

  async read(buffer: Uint8Array, position: number, length: number): Promise<number> {
    if (!this.#handle) throw new Error('BlobReader.read after close')
    try {
      return (await this.#handle.read(buffer, 0, length, position)).bytesRead
    } catch (error) {
      throw toStoreError(error, `reading ${this.path}`)
    }
  }

  /** The file's length now. @throws {StoreError} */
  async byteLength(): Promise<number> {
    if (!this.#handle) throw new Error('BlobReader.byteLength after close')
    try {
      return (await this.#handle.stat()).size
    } catch (error) {
      throw toStoreError(error, `reading the length of ${this.path}`)
    }
  }

  readSync(buffer: Uint8Array, position: number, length: number): number {
    if (!this.#handle) throw new Error('BlobReader.readSync after close')
    try {
      return readSync(this.#handle.fd, buffer, 0, length, position)
    } catch (error) {
      throw toStoreError(error, `reading ${this.path}`)
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle
    this.#handle = undefined
    await handle?.close().catch(() => undefined)
  }
}

/** Whether a write failed because the filesystem is full or over quota. */
export function isDiskFull(error: unknown): boolean {
  const code = errnoCode(error)
  return error instanceof StoreFullError || code === 'ENOSPC' || code === 'EDQUOT'
}

export interface WriterDeps {
  readonly tmpPath: string
  readonly handle: FileHandle
  readonly writeChunk: WriteChunk
  readonly fsync: boolean
  readonly clock: Clock
  /** The caller's verified digest of exactly the bytes it writes; the writer then hashes nothing. */
  readonly verifiedSha256?: string | undefined
  /** Renames the finished temp file into the store (or drops it as a duplicate). */
  readonly adopt: (tmpPath: string, sha256: string, size: number) => Promise<BlobRef>
  /** Evicts blobs to free at least `bytes` after a full-disk error; false when nothing could be evicted. */
  readonly makeRoom: (bytes: number) => Promise<boolean>
  /** Told once when this writer gives up because the disk stays full after eviction. */
  readonly onFull: (error: StoreFullError) => void
}

type State = 'open' | 'committing' | 'committed' | 'aborted'

export class DiskBlobWriter implements BlobWriter {
  readonly #deps: WriterDeps
  /** absent when the caller vouches for the digest (see BlobWriterOptions.verifiedSha256) */
  readonly #hash: Hash | undefined
  readonly #inFlight = new Set<Promise<void>>()
  #state: State = 'open'
  #size = 0
  #failure: Error | undefined

  constructor(deps: WriterDeps) {
    this.#deps = deps
    this.#hash = deps.verifiedSha256 === undefined ? createHash('sha256') : undefined
  }

  get size(): number {
    return this.#size
  }

  async openReader(): Promise<BlobReader> {
    const reader = await FileBlobReader.open(this.#deps.tmpPath)
    if (!reader) throw toStoreError(new Error('the temporary file is gone'), `opening ${this.#deps.tmpPath}`)
    return reader
  }

  async write(chunks: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#failure) throw this.#failure
    if (this.#state !== 'open') throw new Error(`BlobWriter.write after ${this.#state}`)
    const list: readonly Uint8Array[] = chunks instanceof Uint8Array ? [chunks] : chunks
    // Each call has its own file position, so overlapping calls still land in order.
    const position = this.#size
    let bytes = 0
    for (const chunk of list) {
      bytes += chunk.byteLength
      this.#hash?.update(chunk)
    }
    this.#size += bytes
    const op = this.#writeAll(list, bytes, position)
    this.#inFlight.add(op)
    try {
      await op
    } catch (error) {
      if (!this.#failure) {
        this.#failure = toStoreError(error, `writing a blob to ${this.#deps.tmpPath}`)
        if (this.#failure instanceof StoreFullError) this.#deps.onFull(this.#failure)
      }
      await this.#discard()
      throw this.#failure
    } finally {
      this.#inFlight.delete(op)
    }
  }

  /** Writes all `bytes` of `chunks`; on a full disk, once, asks the store to evict as much and tries again. */
  async #writeAll(chunks: readonly Uint8Array[], bytes: number, position: number): Promise<void> {
    let rest = chunks
    let offset = 0
    let hasMadeRoom = false
    while (offset < bytes) {
      let written
      try {
        written = await this.#deps.writeChunk(this.#deps.handle, rest, position + offset)
      } catch (error) {
        if (hasMadeRoom || !isDiskFull(error) || !(await this.#deps.makeRoom(bytes - offset))) throw error
        hasMadeRoom = true
        continue
      }
      if (written <= 0) throw new Error('write made no progress')
      offset += written
      if (offset < bytes) rest = unwritten(rest, written)
    }
  }

  async commit(): Promise<BlobRef> {
    if (this.#state !== 'open') throw new Error(`BlobWriter.commit after ${this.#state}`)
    this.#state = 'committing'
    await Promise.allSettled(this.#inFlight)
    if (this.#failure) {
      await this.#discard()
      throw this.#failure
    }
    const { handle, tmpPath, clock } = this.#deps
    try {
      // Crash safety: without fsync a power loss after the rename can leave the blob's name on
      // a short or empty file, which would then be served under a digest it does not match.
      if (this.#deps.fsync) await handle.sync()
      // The mtime is the blob's last access time, which the LRU order is rebuilt from on restart.
      const nowSeconds = clock.nowMs() / 1000
      await handle.utimes(nowSeconds, nowSeconds)
      await handle.close()
    } catch (error) {
      await this.#discard()
      const failure = toStoreError(error, `finishing a blob in ${tmpPath}`)
      if (failure instanceof StoreFullError) this.#deps.onFull(failure)
      throw failure
    }
    try {
      const ref = await this.#deps.adopt(tmpPath, this.#hash?.digest('hex') ?? this.#deps.verifiedSha256 ?? '', this.#size)
      this.#state = 'committed'
      return ref
    } catch (error) {
      this.#state = 'aborted'
      await rm(tmpPath, { force: true }).catch(() => undefined)
      throw toStoreError(error, `storing a blob from ${tmpPath}`)
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return
    await this.#discard()
  }

  async #discard(): Promise<void> {
    if (this.#state === 'aborted') return
    this.#state = 'aborted'
    await Promise.allSettled(this.#inFlight)
    await this.#deps.handle.close().catch(() => undefined)
    await rm(this.#deps.tmpPath, { force: true })
  }
}
