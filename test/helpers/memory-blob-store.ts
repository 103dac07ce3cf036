/**
 * An in-memory BlobStore for component tests of the download machinery: fast, and able to play a
 * disk of a given size (writes fail with an ENOSPC-coded error past `capacityBytes`, as the disk
 * store's writes do). It passes the same contract as the disk store
 * (test/contract/blob-store.test.ts), so it cannot drift from it.
 *
 * It lives in test/helpers, not src/store: nothing in the proxy runs without a disk cache, and
 * src/ carries no code without a production user. It shares the disk store's LRU index
 * (src/store/eviction.ts) so eviction order is the same by construction; storage, readers and
 * the write protocol (evict once and retry on a full disk, then StoreFullError) are its own.
 *
 * A "disk" (MemoryDisk) outlives the stores opened on it, so a second open is a restart.
 */
import { sha256Hex, systemClock, type Clock } from '../../src/base/index.js'
import { LruIndex } from '../../src/store/eviction.js'
import { CorruptBlobError, StoreError, StoreFullError, type BlobInfo, type BlobReader, type BlobRef, type BlobStore, type BlobWriter, type Flight } from '../../src/store/index.js'
import { enospc } from './full-disk.js'

interface StoredBlob {
  bytes: Uint8Array
  /** like a file's mtime: the last access persisted (at most once per touch interval) */
  mtimeMs: number
}

interface Partial {
  readonly chunks: Uint8Array[]
  size: number
}

export class MemoryDisk {
  readonly blobs = new Map<string, StoredBlob>()
  readonly partials = new Set<Partial>()
  /** Writes fail with ENOSPC once stored bytes plus the chunk would exceed this. */
  capacityBytes = Infinity
  /** Writes counted, for tests that assert nothing was cached. */
  writeCalls = 0

  get usedBytes(): number {
    let total = 0
    for (const blob of this.blobs.values()) total += blob.bytes.byteLength
    for (const partial of this.partials) total += partial.size
    return total
  }

  /** Flips one byte of a stored blob, as a damaged disk would. */
  corrupt(sha256: string): void {
    const blob = this.blobs.get(sha256)
    if (!blob || blob.bytes.byteLength === 0) throw new Error(`no blob ${sha256} to corrupt`)
    const bytes = Uint8Array.from(blob.bytes)
    bytes[0] = (bytes[0] ?? 0) ^ 0xff
    blob.bytes = bytes
  }
}

const DIGEST = /^[0-9a-f]{64}$/

function checkDigest(sha256: string): void {
  if (!DIGEST.test(sha256)) throw new TypeError(`not a lower-case hex SHA-256 digest: ${JSON.stringify(sha256).slice(0, 80)}`)
}

/** Reads from a list of chunks that may still grow (a partial) or never changes (a committed blob). */
class ChunksReader implements BlobReader {
  #isClosed = false
  constructor(private readonly chunks: () => readonly Uint8Array[]) {}

  async read(buffer: Uint8Array, position: number, length: number): Promise<number> {
    return this.readSync(buffer, position, length)
  }

  readSync(buffer: Uint8Array, position: number, length: number): number {
    if (this.#isClosed) throw new Error('BlobReader.read after close')
    let copied = 0
    let start = 0
    for (const chunk of this.chunks()) {
      const end = start + chunk.byteLength
      if (position + copied < end && copied < length) {
        const from = position + copied - start
        const part = chunk.subarray(from, Math.min(chunk.byteLength, from + length - copied))
        buffer.set(part, copied)
        copied += part.byteLength
      }
      start = end
      if (copied >= length) break
    }
    return copied
  }

  async close(): Promise<void> {
    this.#isClosed = true
  }
}

type State = 'open' | 'committing' | 'committed' | 'aborted'

class MemoryBlobWriter implements BlobWriter {
  readonly #partial: Partial = { chunks: [], size: 0 }
  #state: State = 'open'
  #failure: StoreError | undefined

  constructor(
    private readonly store: MemoryBlobStore,
    private readonly verifiedSha256: string | undefined,
  ) {
    store.disk.partials.add(this.#partial)
  }

  get size(): number {
    return this.#partial.size
  }

  async write(chunks: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#failure) throw this.#failure
    if (this.#state !== 'open') throw new Error(`BlobWriter.write after ${this.#state}`)
    const chunk = chunks instanceof Uint8Array ? chunks : Buffer.concat(chunks)
    const disk = this.store.disk
    disk.writeCalls += 1
    // Like the disk writer: on a full disk, evict once about the chunk's size and try again.
    for (let hasMadeRoom = false; disk.usedBytes + chunk.byteLength > disk.capacityBytes; hasMadeRoom = true) {
      if (hasMadeRoom || !(await this.store.makeRoom(chunk.byteLength))) {
        this.#failure = new StoreFullError('the cache disk is full (ENOSPC) while writing a blob to memory', { cause: enospc() })
        this.store.noteFull()
        this.#discard()
        throw this.#failure
      }
    }
    // Copied: the caller may reuse its buffer once the promise settles.
    this.#partial.chunks.push(Uint8Array.from(chunk))
    this.#partial.size += chunk.byteLength
  }

  async openReader(): Promise<BlobReader> {
    // Keeps the chunks after commit or abort, as an open descriptor keeps an unlinked file.
    const chunks = this.#partial.chunks
    return new ChunksReader(() => chunks)
  }

  async commit(): Promise<BlobRef> {
    if (this.#state !== 'open') throw new Error(`BlobWriter.commit after ${this.#state}`)
    if (this.#failure) throw this.#failure
    this.#state = 'committing'
    const bytes = Buffer.concat(this.#partial.chunks)
    this.store.disk.partials.delete(this.#partial)
    const ref = this.store.adopt(this.verifiedSha256 ?? sha256Hex(bytes), bytes)
    this.#state = 'committed'
    return ref
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return
    this.#discard()
  }

  #discard(): void {
    this.#state = 'aborted'
    this.store.disk.partials.delete(this.#partial)
  }
}

class MemoryBlobStore implements BlobStore {
  readonly #index = new LruIndex()
  #isFull = false
  fullEpisodes = 0

  constructor(
    readonly disk: MemoryDisk,
    readonly maxBytes: number,
    private readonly clock: Clock,
    private readonly touchIntervalMs: number,
  ) {
    // A restart: partials of the previous run are gone, the index is rebuilt oldest first.
    disk.partials.clear()
    const found = [...disk.blobs].sort(([a, x], [b, y]) => x.mtimeMs - y.mtimeMs || (a < b ? -1 : 1))
    for (const [sha256, blob] of found) this.#index.set(sha256, blob.bytes.byteLength, blob.mtimeMs)
    this.#evict(undefined)
  }

  get totalBytes(): number {
    return this.#index.totalBytes
  }

  get count(): number {
    return this.#index.count
  }

  get evictions(): { readonly count: number; readonly bytes: number } {
    return this.#index.evictions
  }

  get(sha256: string): BlobRef | undefined {
    checkDigest(sha256)
    const nowMs = this.clock.nowMs()
    const entry = this.#index.touch(sha256, nowMs)
    if (!entry) return undefined
    if (nowMs - entry.persistedAccessMs >= this.touchIntervalMs) {
      entry.persistedAccessMs = nowMs
      const blob = this.disk.blobs.get(sha256)
      if (blob) blob.mtimeMs = nowMs
    }
    return { sha256, size: entry.size }
  }

  has(sha256: string): boolean {
    checkDigest(sha256)
    return this.#index.has(sha256)
  }

  peek(sha256: string): BlobInfo | undefined {
    checkDigest(sha256)
    const entry = this.#index.peek(sha256)
    return entry && { sha256, size: entry.size, lastUsedMs: entry.lastAccessMs }
  }

  entries(): BlobInfo[] {
    return this.#index.entries().map(([sha256, entry]) => ({ sha256, size: entry.size, lastUsedMs: entry.lastAccessMs }))
  }

  async createWriter(options: { verifiedSha256?: string | undefined } = {}): Promise<BlobWriter> {
    if (options.verifiedSha256 !== undefined) checkDigest(options.verifiedSha256)
    return new MemoryBlobWriter(this, options.verifiedSha256)
  }

  async putBytes(bytes: Uint8Array): Promise<BlobRef> {
    const writer = await this.createWriter()
    try {
      await writer.write(bytes)
      return await writer.commit()
    } catch (error) {
      await writer.abort()
      throw error
    }
  }

  async readBytes(sha256: string): Promise<Uint8Array | undefined> {
    const ref = this.get(sha256)
    if (!ref) return undefined
    const blob = this.disk.blobs.get(sha256)
    if (!blob) {
      this.#index.delete(sha256)
      return undefined
    }
    if (blob.bytes.byteLength !== ref.size || sha256Hex(blob.bytes) !== sha256) {
      await this.delete(sha256)
      throw new CorruptBlobError(`cached blob ${sha256} does not match its digest and was removed; it will be fetched again`)
    }
    return blob.bytes
  }

  async openBlob(ref: BlobRef): Promise<BlobReader | undefined> {
    checkDigest(ref.sha256)
    const blob = this.disk.blobs.get(ref.sha256)
    if (!blob) {
      if (this.#index.peek(ref.sha256)?.size === ref.size) this.#index.delete(ref.sha256)
      return undefined
    }
    const chunks = [blob.bytes]
    return new ChunksReader(() => chunks)
  }

  async delete(sha256: string): Promise<void> {
    checkDigest(sha256)
    this.#index.delete(sha256)
    this.disk.blobs.delete(sha256)
  }

  /** Memory has no durability to add. */
  async syncBlobs(): Promise<void> {}

  async flush(): Promise<void> {}

  /** One process and no shared directory: nobody else downloads, so this process always leads. */
  async flight(): Promise<Flight> {
    return {
      isLeader: true,
      announce: async () => undefined,
      openLeaderReader: async () => undefined,
      leaderState: async () => 'ended',
      takeOver: async () => true,
      waitForLeader: async () => undefined,
      release: async () => undefined,
    }
  }

  adopt(sha256: string, bytes: Uint8Array): BlobRef {
    const nowMs = this.clock.nowMs()
    const existing = this.#index.touch(sha256, nowMs)
    if (existing) return { sha256, size: existing.size }
    this.disk.blobs.set(sha256, { bytes, mtimeMs: nowMs })
    this.#isFull = false
    this.#index.set(sha256, bytes.byteLength, nowMs)
    this.#evict(sha256)
    return { sha256, size: bytes.byteLength }
  }

  async makeRoom(bytes: number): Promise<boolean> {
    const victims = this.#index.evictAtLeast(bytes)
    for (const victim of victims) this.disk.blobs.delete(victim.key)
    return victims.length > 0
  }

  noteFull(): void {
    if (!this.#isFull) this.fullEpisodes += 1
    this.#isFull = true
  }

  #evict(keep: string | undefined): void {
    for (const victim of this.#index.evictOver(this.maxBytes, keep)) this.disk.blobs.delete(victim.key)
  }
}

export interface MemoryBlobStoreOptions {
  readonly disk?: MemoryDisk
  readonly maxBytes?: number
  readonly clock?: Clock
  readonly touchIntervalMs?: number
}

/** Opens an in-memory store on `disk` (a fresh one by default); opening again on the same disk is a restart. */
export function openMemoryBlobStore(options: MemoryBlobStoreOptions = {}): BlobStore & { readonly disk: MemoryDisk; readonly fullEpisodes: number } {
  const maxBytes = options.maxBytes ?? Infinity
  if (!(maxBytes === Infinity || (Number.isSafeInteger(maxBytes) && maxBytes > 0))) throw new TypeError(`blob store option "maxBytes" must be a positive integer or Infinity (got ${maxBytes})`)
  return new MemoryBlobStore(options.disk ?? new MemoryDisk(), maxBytes, options.clock ?? systemClock, options.touchIntervalMs ?? 60_000)
}
