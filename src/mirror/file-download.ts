/**
 * One upstream download of a file, shared by every client that asked for it while it runs.
 *
 * The body is hashed and written to a temporary blob as it arrives; readers tail that temporary
 * file at their own pace (a slow client never slows the download or grows memory) and are always
 * held one byte behind the writer until the digest and length are verified. So a client streams a
 * cold file almost as fast as a direct download, yet no client ever receives the complete bytes of
 * a file that fails verification: on a mismatch the response is aborted short of its end, and the
 * temporary blob is discarded, never committed to the cache.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { describeError, errorCode, IntegrityError, type Logger } from '../base/index.js'
import { createDigestVerifier, type DigestEvidence } from '../policy/index.js'
import type { BlobRef, BlobStore } from '../store/index.js'
import { UpstreamProtocolError, UpstreamTooLargeError, type UpstreamClient } from '../upstream/index.js'
import type { DropLog } from './drops.js'

const READ_CHUNK_BYTES = 256 * 1024

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
  /** called with the committed blob before readers are released, e.g. to record it */
  readonly onCommitted?: (ref: BlobRef) => Promise<void>
}

type State = 'connecting' | 'running' | 'done' | 'failed'

export class Download {
  #state: State = 'connecting'
  #written = 0
  #error: unknown
  #ref: BlobRef | undefined
  #file: FileHandle | undefined
  #users = 1
  #wake: Array<() => void> = []
  readonly #started: Promise<void>
  readonly #finished: Promise<BlobRef>
  /** the length clients are told: the evidence's size, else the upstream's Content-Length */
  size: number | undefined

  constructor(
    private readonly request: DownloadRequest,
    private readonly deps: DownloadDeps,
  ) {
    this.size = request.evidence.expectedSize
    let markStarted!: () => void
    this.#started = new Promise<void>((resolve) => (markStarted = resolve))
    this.#finished = this.#run(markStarted)
    // Observed through started()/finished()/chunks(); this keeps a rejection from being "unhandled".
    this.#finished.catch(() => undefined)
  }

  /** Resolves once the upstream answered and bytes may flow; rejects if it failed before that. */
  async started(): Promise<void> {
    await Promise.race([this.#started, this.#finished])
  }

  /**
   * Resolves once `minBytes` have arrived or the whole file is verified, whichever is first;
   * rejects if the download fails before that. Waiting a little before sending headers lets
   * small files fail with a clean status instead of an aborted body.
   */
  async headway(minBytes: number): Promise<void> {
    await this.started()
    for (;;) {
      if (this.#state === 'failed') throw this.#error
      if (this.#state === 'done' || this.#written >= minBytes) return
      await this.#changed()
    }
  }

  /** The verified, committed blob. */
  finished(): Promise<BlobRef> {
    return this.#finished
  }

  async #run(markStarted: () => void): Promise<BlobRef> {
    const { url, evidence, maxBytes } = this.request
    let writer
    let response
    try {
      response = await this.deps.upstream.getStream(url, { maxBytes })
      if (this.size === undefined) this.size = response.contentLength
      writer = await this.deps.blobs.createWriter()
      this.#file = await open(writer.tempPath, 'r')
      this.#state = 'running'
      markStarted()
      const verifier = createDigestVerifier(evidence)
      for await (const chunk of response.body) {
        verifier.update(chunk)
        await writer.write(chunk)
        this.#written += chunk.byteLength
        this.#notify()
      }
      verifier.finish()
      const ref = await writer.commit()
      await this.request.onCommitted?.(ref)
      this.#ref = ref
      this.size = ref.size
      this.#state = 'done'
      return ref
    } catch (error) {
      this.#error = error
      this.#state = 'failed'
      response?.abort()
      await writer?.abort().catch(() => undefined)
      if (error instanceof IntegrityError || error instanceof UpstreamProtocolError || error instanceof UpstreamTooLargeError) {
        this.deps.drops.record({ reason: error.code, what: 'file', url, detail: error.message })
      } else {
        this.deps.logger.warn('download_failed', { url, code: errorCode(error), detail: describeError(error) })
      }
      throw error
    } finally {
      this.#notify()
      this.#release()
    }
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = []
    for (const resolve of wake) resolve()
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve))
  }

  #release(): void {
    this.#users -= 1
    if (this.#users === 0 && this.#file) {
      const file = this.#file
      this.#file = undefined
      file.close().catch(() => undefined)
    }
  }

  /**
   * The file's bytes from the start, as they arrive, withholding the last byte until verified.
   * @throws the download's error (IntegrityError, UpstreamError, StoreError) if it fails: the
   *   caller must then abort its response rather than end it.
   */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    await this.started()
    // A reader that arrives after the download finished and released its temporary file reads
    // the committed blob instead (same bytes, already verified).
    const shared = this.#file
    const file = shared ?? (this.#ref ? await open(this.#ref.path, 'r') : undefined)
    if (!file) throw this.#state === 'failed' ? this.#error : new Error('download has no readable file')
    if (shared) this.#users += 1
    try {
      let position = 0
      for (;;) {
        const state = this.#state
        if (state === 'failed') throw this.#error
        const limit = state === 'done' ? this.#written : this.#written - 1
        if (position < limit) {
          const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, limit - position))
          const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, position)
          if (bytesRead === 0) throw new Error('temporary download file is shorter than written')
          position += bytesRead
          yield bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead)
          continue
        }
        if (state === 'done') return
        await this.#changed()
      }
    } finally {
      if (shared) this.#release()
      else await file.close().catch(() => undefined)
    }
  }

  get ref(): BlobRef | undefined {
    return this.#ref
  }
}
