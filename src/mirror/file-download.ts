/**
 * One upstream download of a file, shared by every client that asked for it while it runs.
 *
 * Bytes are hashed as they arrive and kept in memory until a background flusher has written them
 * to a temporary blob (in batches of about a megabyte); readers take bytes from memory or, once
 * flushed, from the temporary file, each at its own pace, so a slow client never slows the
 * download and memory stays bounded by the flush window. Every reader is held one byte behind
 * until the digest and length are verified: a client streams a cold file about as fast as a
 * direct download, yet no client ever receives the complete bytes of a file that fails
 * verification. On a mismatch responses are aborted short of their end and the temporary blob is
 * discarded, never committed to the cache.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { describeError, errorCode, maskUrl, type Logger } from '../base/index.js'
import { createDigestVerifier, type DigestEvidence } from '../policy/index.js'
import type { BlobRef, BlobStore, BlobWriter } from '../store/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import type { DropLog } from './drops.js'

/** Bytes read from the temporary file per read call (only readers that fell behind the window read the file). */
const READ_CHUNK_BYTES = 128 * 1024
/** Writes are batched to about this size: per-call overhead dominates small writes. */
const FLUSH_BATCH_BYTES = 1024 * 1024
/** The upstream is paused while more than this is received but not yet on disk (bounds memory per download). */
const MAX_UNFLUSHED_BYTES = 4 * 1024 * 1024

export interface DownloadDeps {
  readonly upstream: UpstreamClient
  readonly blobs: BlobStore
  readonly logger: Logger
  readonly drops: DropLog
}

export interface DownloadRequest {
  readonly url: string
  readonly evidence: DigestEvidence
  readonly maxBytes: number
  /** called with the committed blob, e.g. to record it */
  readonly onCommitted?: (ref: BlobRef) => Promise<void>
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
  /** bytes written to the temporary file; [#flushed, #received) are in #pending */
  #flushed = 0
  #pending: Pending[] = []
  #file: FileHandle | undefined
  #users = 1
  #wake: { promise: Promise<void>; resolve: () => void } | undefined
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

  /**
   * Resolves once `minBytes` have arrived or the whole file is verified, whichever is first;
   * rejects if the download fails before that. Waiting a little before sending headers lets
   * small files fail with a clean status instead of an aborted body.
   */
  async headway(minBytes: number): Promise<void> {
    for (;;) {
      if (this.#state === 'failed') throw this.#error
      if (this.#state === 'verified' || (this.#state === 'running' && this.#received >= minBytes)) return
      await this.#changed()
    }
  }

  /** The verified blob, once committed to the cache. */
  finished(): Promise<BlobRef> {
    return this.#finished
  }

  async #run(): Promise<BlobRef> {
    const { url, evidence, maxBytes } = this.request
    let writer: BlobWriter | undefined
    let response
    let flusher: Promise<void> | undefined
    try {
      response = await this.deps.upstream.getStream(url, { maxBytes })
      if (this.size === undefined) this.size = response.contentLength
      // The verifier hashes SHA-256 anyway when the evidence lists it; the store need not again.
      const verifiedSha256 = evidence.hashes.sha256?.toLowerCase()
      writer = await this.deps.blobs.createWriter(verifiedSha256 && /^[0-9a-f]{64}$/.test(verifiedSha256) ? { verifiedSha256 } : {})
      this.#file = await open(writer.tempPath, 'r')
      this.#state = 'running'
      this.#notify()
      const verifier = createDigestVerifier(evidence)
      const activeWriter = writer
      let flushing = false
      const flush = async () => {
        flushing = true
        try {
          while (this.#pending.length > 0) {
            const batch = this.#takeBatch()
            await activeWriter.write(batch)
            this.#flushed += batch.byteLength
            this.#pending = this.#pending.filter((chunk) => chunk.start + chunk.bytes.byteLength > this.#flushed)
            this.#notify()
          }
        } finally {
          flushing = false
        }
      }
      // The flusher runs beside the download; its failure (a full disk) is rethrown here.
      let flushError: { error: unknown } | undefined
      const startFlush = () => {
        flusher = flush().catch((error: unknown) => void (flushError = { error }))
      }
      for await (const chunk of response.body) {
        if (flushError) throw flushError.error
        verifier.update(chunk)
        this.#pending.push({ start: this.#received, bytes: chunk })
        this.#received += chunk.byteLength
        this.#notify()
        if (!flushing && this.#received - this.#flushed >= FLUSH_BATCH_BYTES) startFlush()
        if (this.#received - this.#flushed > MAX_UNFLUSHED_BYTES) await flusher
      }
      verifier.finish()
      this.size = this.#received
      this.#state = 'verified'
      this.#notify()
      await flusher
      if (flushError) throw flushError.error
      await flush()
      const ref = await writer.commit()
      await this.request.onCommitted?.(ref)
      return ref
    } catch (error) {
      const verified = this.#state === 'verified'
      if (!verified) {
        this.#error = error
        this.#state = 'failed'
      }
      response?.abort()
      await flusher?.catch(() => undefined)
      await writer?.abort().catch(() => undefined)
      if (!this.deps.drops.recordRefusal(error, { what: 'file', url })) {
        // After verification only caching can fail (e.g. a full disk): clients got good bytes.
        this.deps.logger.warn(verified ? 'cache_write_failed' : 'download_failed', { url: maskUrl(url), code: errorCode(error), detail: describeError(error) })
      }
      throw error
    } finally {
      this.#notify()
      this.#release()
    }
  }

  /** Concatenates pending chunks not yet flushed, up to about FLUSH_BATCH_BYTES. */
  #takeBatch(): Uint8Array {
    const parts: Uint8Array[] = []
    let size = 0
    for (const chunk of this.#pending) {
      const skip = Math.max(0, this.#flushed - chunk.start)
      if (skip >= chunk.bytes.byteLength) continue
      const part = skip ? chunk.bytes.subarray(skip) : chunk.bytes
      parts.push(part)
      size += part.byteLength
      if (size >= FLUSH_BATCH_BYTES) break
    }
    return parts.length === 1 ? (parts[0] ?? new Uint8Array()) : Buffer.concat(parts, size)
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.resolve()
  }

  /** One promise shared by every waiting reader until the next change: cheap with many readers. */
  #changed(): Promise<void> {
    if (!this.#wake) {
      let resolve!: () => void
      const promise = new Promise<void>((done) => (resolve = done))
      this.#wake = { promise, resolve }
    }
    return this.#wake.promise
  }

  #release(): void {
    this.#users -= 1
    if (this.#users === 0 && this.#file) {
      const file = this.#file
      this.#file = undefined
      file.close().catch(() => undefined)
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
   * @throws the download's error (IntegrityError, UpstreamError) if it fails: the caller must
   *   then abort its response rather than end it.
   */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    await this.headway(0)
    // A reader that arrives after the temporary file was released reads the committed blob.
    const shared = this.#file
    const file = shared ?? (await open((await this.#finished).path, 'r'))
    if (shared) this.#users += 1
    const buffers: Array<Buffer | undefined> = [undefined, undefined]
    let turn = 0
    try {
      let position = 0
      for (;;) {
        const state = this.#state
        if (state === 'failed') throw this.#error
        const limit = state === 'verified' ? this.#received : this.#received - 1
        if (position < limit) {
          const inMemory = shared ? this.#fromMemory(position, limit) : undefined
          if (inMemory) {
            position += inMemory.byteLength
            yield inMemory
            continue
          }
          // Not in memory, so it is on disk: [0, #flushed) is in the file. Two buffers take
          // turns (see the contract above), so a reader that fell behind allocates nothing per read.
          const buffer = (buffers[turn] ??= Buffer.allocUnsafe(READ_CHUNK_BYTES))
          turn ^= 1
          const length = Math.min(READ_CHUNK_BYTES, Math.min(limit, shared ? this.#flushed : limit) - position)
          const { bytesRead } = await file.read(buffer, 0, length, position)
          if (bytesRead === 0) throw new Error('temporary download file is shorter than received')
          position += bytesRead
          yield buffer.subarray(0, bytesRead)
          continue
        }
        if (state === 'verified') return
        await this.#changed()
      }
    } finally {
      if (shared) this.#release()
      else await file.close().catch(() => undefined)
    }
  }
}
