/**
 * One upstream download of a file, shared by every client that asked for it while it runs.
 *
 * Bytes are hashed once as they arrive (the store is told the verified digest instead of hashing
 * again) and kept in memory until a background flusher has written them to a temporary blob, the
 * received chunks themselves in one gathering write per batch of about a megabyte, never copied
 * into a batch buffer; readers take bytes from memory or, once
 * flushed, from the store's reader of the temporary blob, each at its own pace, so a slow client
 * never slows the download and memory stays bounded by the flush window, per download and across
 * all of them (write-behind.ts). Every reader is held one
 * byte behind until the digest and length are verified: a client streams a cold file about as
 * fast as a direct download, yet no client ever receives the complete bytes of a file that fails
 * verification. On a mismatch responses are aborted short of their end and the temporary blob is
 * discarded, never committed to the cache.
 *
 * When the store refuses the bytes (a full disk after eviction, or a failing one), the download
 * goes on uncached: still verified and held one byte back, from memory only, paced by the
 * slowest reader so memory stays bounded. A client that would need bytes already let go of gets
 * a fresh download (see files.ts), or, if it asked in the instant the bytes went, the store's
 * error before any header (a clean 507).
 */
import { describeError, errorCode, maskUrl, type Logger } from '../base/index.js'
import { createDigestVerifier, type DigestEvidence } from '../policy/index.js'
import { StoreError, StoreFullError, type BlobReader, type BlobRef, type BlobStore, type BlobWriter, type Flight } from '../store/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import type { DropLog } from './drops.js'
import { type ByteSource, followLeader } from './flight-follow.js'
import { Signal } from './signal.js'
import type { WriteBehindBudget } from './write-behind.js'

/** Bytes read from the temporary blob per read call (only readers that fell behind the window read it). */
const READ_CHUNK_BYTES = 128 * 1024
/** Writes are batched to about this size: per-call overhead dominates small writes. */
const FLUSH_BATCH_BYTES = 1024 * 1024
/**
 * The write-behind budget shared by all downloads when the caller sets none (see
 * WriteBehindBudget): room for 16 downloads flushing in batches as usual, each holding a batch
 * being written and the next one filling.
 */
export const DEFAULT_WRITE_BEHIND_BYTES = 32 * 1024 * 1024
/** Over the shared budget, a download writes what it holds once it holds this much: no 64 KiB writes. */
const PRESSED_BATCH_BYTES = 256 * 1024
/**
 * The upstream is paused while more than this is received but not yet on disk (bounds memory per
 * download); uncached, while more than this is held for the slowest reader.
 */
const MAX_UNFLUSHED_BYTES = 4 * 1024 * 1024

export interface DownloadDeps {
  readonly upstream: UpstreamClient
  readonly blobs: BlobStore
  readonly logger: Logger
  readonly drops: DropLog
  /** what all downloads together may hold in memory */
  readonly writeBehind: WriteBehindBudget
}

export interface DownloadRequest {
  readonly url: string
  readonly evidence: DigestEvidence
  readonly maxBytes: number
  /** called with the committed blob, e.g. to record it */
  readonly onCommitted?: (ref: BlobRef) => Promise<void>
  /** this download's place among processes sharing the cache: lead it, or follow another's (flight-follow.ts) */
  readonly flight?: SharedFlight
}

export interface SharedFlight {
  readonly flight: Flight
  /** a reader of the committed blob, when the evidence names it and it is stored */
  readonly openCommitted: () => Promise<BlobReader | undefined>
  /** the committed blob's length, when the evidence names it and it is stored */
  readonly committedSize: () => number | undefined
}

type State = 'connecting' | 'running' | 'verified' | 'failed'

interface Pending {
  readonly start: number
  readonly bytes: Uint8Array
}

export class Download {
  #state: State = 'connecting'
  #error: unknown
  /** bytes received from the upstream */
  #received = 0
  /** bytes in the temporary blob; [#flushed, #received) are in #pending (uncached: from the first pending chunk) */
  #flushed = 0
  #pending: Pending[] = []
  /** bytes of #pending counted in the shared write-behind budget */
  #held = 0
  /** the shared reader of the temporary blob, while anyone uses it */
  #reader: BlobReader | undefined
  #users = 1
  /** why the bytes are not cached: set once the store refused them */
  #storeError: StoreError | undefined
  /** uncached only: bytes past the temporary blob were let go of, so no reader can start from 0 */
  #hasGap = false
  /** uncached only: positions of the readers streaming now, which pace the upstream */
  readonly #cursors = new Set<{ position: number }>()
  /** callers inside headway() now */
  #waiting = 0
  readonly #changed = new Signal()
  readonly #cursorMoved = new Signal()
  readonly #finished: Promise<BlobRef>
  /** the length clients are told: the evidence's size, else the upstream's Content-Length */
  size: number | undefined

  constructor(
    private readonly request: DownloadRequest,
    private readonly deps: DownloadDeps,
  ) {
    this.size = request.evidence.expectedSize
    this.#finished = this.#run()
    // Observed through headway()/finished()/chunks(); this keeps a rejection from being "unhandled".
    this.#finished.catch(() => undefined)
  }

  /** The SHA-256 the bytes are verified against, when the evidence names one (a client may be told it before they arrive). */
  get sha256(): string | undefined {
    return this.request.evidence.hashes.sha256?.toLowerCase()
  }

  /**
   * Whether a new client can be served this download from its first byte. False only when the
   * store refused the bytes and some were let go of; then start another download.
   */
  get canServeFromStart(): boolean {
    if (!this.#storeError) return this.#state !== 'failed'
    return !this.#hasGap && (this.#flushed === 0 || this.#reader !== undefined) && this.#state !== 'failed'
  }

  /**
   * Resolves once `minBytes` have arrived or the whole file is verified, whichever is first;
   * rejects if the download fails before that, or (with the store's error) if it can no longer
   * be served from the start. Waiting a little before sending headers lets small files fail
   * with a clean status instead of an aborted body.
   */
  async headway(minBytes: number): Promise<void> {
    this.#waiting += 1
    try {
      for (;;) {
        if (this.#state === 'failed') throw this.#error
        if (!this.canServeFromStart) throw this.#storeError
        if (this.#state === 'verified' || (this.#state === 'running' && this.#received >= minBytes)) return
        await this.#changed.wait()
      }
    } finally {
      this.#waiting -= 1
    }
  }

  /** Clients that depend on this download now: waiting in headway(), or streaming it as it arrives (a metric). */
  get waitingClients(): number {
    return this.#waiting + this.#cursors.size
  }

  /** The verified blob, once committed to the cache; rejects with a StoreError when it could not be cached. */
  finished(): Promise<BlobRef> {
    return this.#finished
  }

  async #run(): Promise<BlobRef> {
    const { url, evidence, maxBytes } = this.request
    let writer: BlobWriter | undefined
    let response: ByteSource | undefined
    let flusher: Promise<void> | undefined
    let flushError: { error: unknown } | undefined
    /** Drops the writer after the store refused the bytes; any other failure is rethrown. */
    const goUncached = (error: unknown): void => {
      if (!(error instanceof StoreError)) throw error
      this.#storeError ??= error
      writer = undefined
      flushError = undefined
      this.#notify()
    }
    const shared = this.request.flight
    /** Names the temporary blob in the flight's lock, so that other processes can follow it. */
    const announce = async () => {
      if (!writer || !shared) return
      await shared.flight.announce(writer).catch((error: unknown) => {
        this.deps.logger.warn('lock_failed', { url: maskUrl(url), detail: describeError(error), effect: 'other processes will download this file again' })
      })
    }
    try {
      response =
        shared && !shared.flight.isLeader
          ? followLeader({
              flight: shared.flight,
              expectedSize: evidence.expectedSize,
              openCommitted: shared.openCommitted,
              committedSize: shared.committedSize,
              lead: async () => {
                await announce()
                return this.deps.upstream.getStream(url, { maxBytes })
              },
            })
          : await this.deps.upstream.getStream(url, { maxBytes })
      if (this.size === undefined) this.size = response.contentLength
      writer = await this.#createWriter(evidence).catch((error: unknown) => void goUncached(error))
      if (shared?.flight.isLeader) await announce()
      this.#state = 'running'
      this.#notify()
      const verifier = createDigestVerifier(evidence)
      let flushing = false
      // The flusher runs beside the download; its failure is noted at once (before another flush
      // can start) and handled here, between chunks.
      const flush = async (target: BlobWriter) => {
        flushing = true
        try {
          while (this.#pending.length > 0 && writer === target) {
            const { chunks, bytes } = this.#nextBatch()
            await target.write(chunks)
            this.#flushed += bytes
            // Written chunks leave memory from the front; chunks received meanwhile stay behind them.
            this.#pending.splice(0, chunks.length)
            this.#hold(-bytes)
            this.#notify()
          }
        } catch (error) {
          flushError ??= { error }
        } finally {
          flushing = false
        }
      }
      for await (const chunk of response.body) {
        if (flushError) goUncached(flushError.error)
        verifier.update(chunk)
        this.#pending.push({ start: this.#received, bytes: chunk })
        this.#received += chunk.byteLength
        this.#hold(chunk.byteLength)
        this.#notify()
        if (writer) {
          // Over the shared budget, a download holding a small batch drains it to disk before it
          // takes another chunk; none waits on another download.
          const isPressed = this.deps.writeBehind.isOver && this.#held >= PRESSED_BATCH_BYTES
          if (!flushing && (isPressed || this.#held >= FLUSH_BATCH_BYTES)) flusher = flush(writer)
          if (isPressed || this.#held > MAX_UNFLUSHED_BYTES) await flusher
        } else {
          await this.#paceUncached()
        }
      }
      verifier.finish()
      this.size = this.#received
      this.#state = 'verified'
      this.#notify()
      await flusher
      if (writer && !flushError) await flush(writer)
      if (flushError) goUncached(flushError.error)
      const committing: BlobWriter | undefined = writer
      if (!committing) throw this.#storeError ?? new Error('download finished without a writer')
      const ref = await committing.commit()
      await this.request.onCommitted?.(ref)
      return ref
    } catch (error) {
      const verified = this.#state === 'verified'
      if (!verified) {
        this.#error = error
        this.#state = 'failed'
      }
      response?.abort()
      await flusher
      await writer?.abort().catch(() => undefined)
      if (!this.deps.drops.recordRefusal(error, { what: 'file', url }) && !(error instanceof StoreFullError)) {
        // A full disk is logged once per episode by the store, not once per file. After
        // verification only caching can fail: clients got good bytes.
        this.deps.logger.warn(verified ? 'cache_write_failed' : 'download_failed', { url: maskUrl(url), code: errorCode(error), detail: describeError(error) })
      }
      throw error
    } finally {
      // After the commit: a follower that sees the lock go finds the committed blob.
      await shared?.flight.release().catch(() => undefined)
      this.#notify()
      this.#release()
    }
  }

  /** A writer and the shared reader of its temporary blob. @throws {StoreError} when the store refuses. */
  async #createWriter(evidence: DigestEvidence): Promise<BlobWriter> {
    // The verifier hashes SHA-256 anyway when the evidence lists it; the store need not again.
    const verifiedSha256 = evidence.hashes.sha256?.toLowerCase()
    const writer = await this.deps.blobs.createWriter(verifiedSha256 && /^[0-9a-f]{64}$/.test(verifiedSha256) ? { verifiedSha256 } : {})
    try {
      this.#reader = await writer.openReader()
    } catch (error) {
      await writer.abort().catch(() => undefined)
      throw error
    }
    return writer
  }

  /**
   * Uncached, memory holds what some reader may still need: bytes every streaming reader has
   * passed are let go of once more than the window is held (or the downloads together are over
   * their budget), and the upstream waits for a reader behind the window. With no reader left and bytes let go of, nobody can be served: stop.
   */
  async #paceUncached(): Promise<void> {
    const budget = this.deps.writeBehind
    // Over the shared budget, wait for readers to pass every chunk but the newest: they are held one
    // byte behind, so the newest chunk is one they can never pass before the next arrives. Only
    // with readers: without one yet (they join after headway), letting bytes go would leave nobody
    // able to serve the file.
    const mustWait = () => this.#held > MAX_UNFLUSHED_BYTES || (budget.isOver && this.#pending.length > 1 && this.#cursors.size > 0)
    for (;;) {
      if (!mustWait()) return
      let slowest = this.#received
      for (const cursor of this.#cursors) slowest = Math.min(slowest, cursor.position)
      let passed = 0
      let passedBytes = 0
      for (const chunk of this.#pending) {
        if (chunk.start + chunk.bytes.byteLength > slowest) break
        passed += 1
        passedBytes += chunk.bytes.byteLength
      }
      if (passed > 0) {
        this.#pending.splice(0, passed)
        this.#hold(-passedBytes)
        this.#hasGap = true
        this.#notify()
      }
      if (this.#hasGap && this.#cursors.size === 0) throw this.#storeError ?? new Error('uncached download without readers')
      if (!mustWait()) return
      // A reader moving on lets bytes go; so does any download giving bytes back to the budget.
      await (this.#held > MAX_UNFLUSHED_BYTES ? this.#cursorMoved.wait() : Promise.race([this.#cursorMoved.wait(), budget.released()]))
    }
  }

  /**
   * The first pending chunks, about FLUSH_BATCH_BYTES of them, for one gathering write. While
   * cached, #pending holds exactly the unflushed bytes and whole chunks are written, so the first
   * pending chunk always starts at #flushed.
   */
  #nextBatch(): { chunks: Uint8Array[]; bytes: number } {
    const chunks: Uint8Array[] = []
    let bytes = 0
    for (const chunk of this.#pending) {
      chunks.push(chunk.bytes)
      bytes += chunk.bytes.byteLength
      if (bytes >= FLUSH_BATCH_BYTES) break
    }
    return { chunks, bytes }
  }

  /** Counts bytes this download holds in memory, here and in the shared budget. */
  #hold(bytes: number): void {
    this.#held += bytes
    this.deps.writeBehind.add(bytes)
  }

  #notify(): void {
    this.#changed.notify()
  }

  /** One user (the download itself, or a reader) is done; the last one lets go of everything. */
  #release(): void {
    this.#users -= 1
    if (this.#users > 0) return
    // Nobody can read the bytes still held (a failed or uncached download's) any more; a
    // newcomer in the instant before files.ts forgets this download gets the store's error.
    if (this.#pending.length > 0) this.#hasGap = true
    this.#pending = []
    this.#hold(-this.#held)
    if (this.#reader) {
      const reader = this.#reader
      this.#reader = undefined
      reader.close().catch(() => undefined)
    }
  }

  /** The in-memory bytes at `position`, up to `limit`, if they are still pending. */
  #fromMemory(position: number, limit: number): Uint8Array | undefined {
    for (const chunk of this.#pending) {
      const end = chunk.start + chunk.bytes.byteLength
      if (position >= chunk.start && position < end) {
        return chunk.bytes.subarray(position - chunk.start, Math.min(end, limit) - chunk.start)
      }
    }
    return undefined
  }

  /**
   * The file's bytes from the start, as they arrive, withholding the last byte until verified.
   * A yielded chunk may be a view of a buffer this reader reuses: it stays valid until the
   * consumer asks for the chunk after next, so a consumer must be done with chunk N (e.g. the
   * socket has taken it) before it requests chunk N + 2.
   * @throws the download's error (IntegrityError, UpstreamError) if it fails, or its StoreError
   *   if it can no longer be served from the start: the caller must then abort its response
   *   rather than end it.
   */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    await this.headway(0)
    // A reader that arrives after the temporary blob was released reads the committed blob.
    const isLive = this.#reader !== undefined || this.#storeError !== undefined
    const shared = this.#reader
    const committed = isLive ? undefined : await this.#openCommitted()
    const reader = shared ?? committed
    const cursor = { position: 0 }
    if (isLive) {
      this.#users += 1
      this.#cursors.add(cursor)
    }
    const buffers: Array<Buffer | undefined> = [undefined, undefined]
    let turn = 0
    try {
      for (;;) {
        const state = this.#state
        if (state === 'failed') throw this.#error
        const limit = state === 'verified' ? this.#received : this.#received - 1
        if (cursor.position < limit) {
          const inMemory = isLive ? this.#fromMemory(cursor.position, limit) : undefined
          if (inMemory) {
            cursor.position += inMemory.byteLength
            yield inMemory
            this.#cursorMoved.notify()
            continue
          }
          // Not in memory, so it is in the blob: [0, #flushed) of the temporary one, or all of a committed one.
          if (!reader || (isLive && cursor.position >= this.#flushed)) throw this.#storeError ?? new Error('download bytes are neither in memory nor stored')
          // Two buffers take turns (see the contract above), so a reader that fell behind allocates nothing per read.
          const buffer = (buffers[turn] ??= Buffer.allocUnsafe(READ_CHUNK_BYTES))
          turn ^= 1
          const length = Math.min(READ_CHUNK_BYTES, Math.min(limit, isLive ? this.#flushed : limit) - cursor.position)
          const bytesRead = await reader.read(buffer, cursor.position, length)
          if (bytesRead === 0) throw new Error('the stored download is shorter than received')
          cursor.position += bytesRead
          yield buffer.subarray(0, bytesRead)
          this.#cursorMoved.notify()
          continue
        }
        if (state === 'verified') return
        await this.#changed.wait()
      }
    } finally {
      if (isLive) {
        this.#cursors.delete(cursor)
        this.#cursorMoved.notify()
        this.#release()
      } else {
        await committed?.close()
      }
    }
  }

  /** @throws when the committed blob was evicted before this reader could open it */
  async #openCommitted(): Promise<BlobReader> {
    const reader = await this.deps.blobs.openBlob(await this.#finished)
    if (!reader) throw new Error('the downloaded blob was evicted before it could be read')
    return reader
  }
}
