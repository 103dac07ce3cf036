/**
 * Distribution files and their `.metadata` siblings: serve from the content-addressed cache, or
 * download once (coalesced), verify against the evidence (index hashes and size, or TUF target
 * info in verifying mode), and commit. Files are immutable, so a cached blob is served without
 * asking the upstream again.
 */
import { describeError, hashesToCheck, maskUrl, type Clock, type Logger, type Metrics } from '../base/index.js'
import { decideFile, type DigestEvidence, type FilePolicyOptions } from '../policy/index.js'
import type { BlobReader, BlobRef, BlobStore, RecordStore } from '../store/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import { SingleFlight } from './coalesce.js'
import type { DropLog } from './drops.js'
import { DEFAULT_WRITE_BEHIND_BYTES, Download, type SharedFlight } from './file-download.js'
import { WriteBehindBudget } from './write-behind.js'

export interface FileTarget {
  /** absolute upstream URL of the bytes */
  readonly url: string
  readonly evidence: DigestEvidence
}

export type FileResult =
  | {
      readonly kind: 'cached'
      readonly ref: BlobRef
      readonly cache: 'HIT'
      /** A reader of the blob; undefined when it was evicted since the lookup (look up again). @throws {StoreError} */
      open(): Promise<BlobReader | undefined>
    }
  | { readonly kind: 'download'; readonly download: Download; readonly cache: 'MISS' }

export interface FilesOptions extends FilePolicyOptions {
  readonly maxFileBytes: number
  /** what all downloads together may hold in memory before writing it (default 32 MiB) */
  readonly writeBehindBytes?: number
}

export interface FilesDeps {
  readonly upstream: UpstreamClient
  readonly blobs: BlobStore
  readonly records: RecordStore
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  readonly drops: DropLog
}

/** Per-URL record for files whose evidence names no SHA-256 (the blob store's key). */
export interface FileRecord {
  readonly sha256: string
  /** the evidence the blob was verified against; other evidence means verify again */
  readonly hashes: Readonly<Record<string, string>>
}

export const FILE_RECORD_NAMESPACE = 'file'

export class Files {
  readonly #downloads = new Map<string, Download>()
  readonly #lookups = new SingleFlight<FileResult>()
  readonly #writeBehind: WriteBehindBudget

  readonly #counters: Record<'HIT' | 'MISS', { inc(): void }>

  constructor(
    private readonly options: FilesOptions,
    private readonly deps: FilesDeps,
  ) {
    const counter = (result: 'HIT' | 'MISS') => deps.metrics.counter('tuf_proxy_cache_total', 'Proxied responses by kind and cache outcome', { kind: 'file', result })
    this.#counters = { HIT: counter('HIT'), MISS: counter('MISS') }
    const writeBehind = new WriteBehindBudget(options.writeBehindBytes ?? DEFAULT_WRITE_BEHIND_BYTES)
    this.#writeBehind = writeBehind
    deps.metrics.onCollect(() => {
      deps.metrics.set('tuf_proxy_write_behind_bytes', 'Bytes of cold files received and held in memory by running downloads', writeBehind.heldBytes)
      deps.metrics.set('tuf_proxy_write_behind_limit_bytes', 'The budget for tuf_proxy_write_behind_bytes; past it downloads write through', writeBehind.limitBytes)
      let waiting = 0
      for (const download of this.#downloads.values()) waiting += download.waitingClients
      deps.metrics.set('tuf_proxy_downloads_in_flight', 'File downloads from upstreams running now', this.#downloads.size)
      deps.metrics.set('tuf_proxy_download_waiting_clients', 'Clients served by running downloads: waiting for their first bytes, or streaming them as they arrive', waiting)
    })
  }

  /**
   * @throws IntegrityError('no_strong_hash') under --require-hashes; HostNotAllowedError
   */
  async get(target: FileTarget): Promise<FileResult> {
    const decision = decideFile(target.evidence, this.options)
    this.deps.upstream.assertAllowed(target.url)
    const cached = await this.#cached(target)
    if (cached) {
      this.#count('HIT')
      return this.#hit(cached)
    }
    // One download per URL *and* evidence: a request holding other hashes for the same URL must
    // not be served bytes that were checked against the first request's.
    const key = downloadKey(target)
    const running = this.#downloads.get(key)
    // An uncached download (full disk) that let its first bytes go cannot serve a newcomer: start another.
    if (running?.canServeFromStart) {
      this.#count('MISS')
      return { kind: 'download', download: running, cache: 'MISS' }
    }
    const result = await this.#lookups.run(key, async () => {
      const again = await this.#cached(target)
      if (again) return this.#hit(again)
      const flight = await this.#joinFlight(key, target)
      if (flight?.flight.isLeader) {
        // Another process may have committed the file between the lookup and the lock.
        const committed = await this.#cached(target)
        if (committed) {
          await flight.flight.release()
          return this.#hit(committed)
        }
      }
      const download = new Download(
        {
          url: target.url,
          evidence: decision.evidence,
          maxBytes: Math.min(this.options.maxFileBytes, target.evidence.expectedSize ?? Infinity),
          onCommitted: (ref) => this.#remember(target, ref),
          ...(flight ? { flight } : {}),
        },
        { ...this.deps, writeBehind: this.#writeBehind },
      )
      this.#downloads.set(key, download)
      const forget = () => {
        if (this.#downloads.get(key) === download) this.#downloads.delete(key)
      }
      download.finished().then(forget, forget)
      return { kind: 'download', download, cache: 'MISS' } as const
    })
    this.#count(result.cache)
    return result
  }

  /**
   * This download's flight among the processes sharing the cache directory; undefined when the
   * lock cannot be taken (the download then runs here alone, still verified).
   */
  async #joinFlight(key: string, target: FileTarget): Promise<SharedFlight | undefined> {
    let flight
    try {
      flight = await this.deps.blobs.flight(key)
    } catch (error) {
      this.deps.logger.warn('lock_failed', { url: maskUrl(target.url), detail: describeError(error), effect: 'other processes may download this file too' })
      return undefined
    }
    const sha256 = target.evidence.hashes.sha256?.toLowerCase()
    const committed = () => (sha256 && /^[0-9a-f]{64}$/.test(sha256) ? this.deps.blobs.get(sha256) : undefined)
    return {
      flight,
      openCommitted: async () => {
        const ref = committed()
        return ref ? this.deps.blobs.openBlob(ref) : undefined
      },
      committedSize: () => committed()?.size,
    }
  }

  #hit(ref: BlobRef): FileResult {
    return { kind: 'cached', ref, cache: 'HIT', open: () => this.deps.blobs.openBlob(ref) }
  }

  async #cached(target: FileTarget): Promise<BlobRef | undefined> {
    const sha256 = target.evidence.hashes.sha256?.toLowerCase()
    if (sha256) return this.deps.blobs.get(sha256)
    const record = asFileRecord(await this.deps.records.get(FILE_RECORD_NAMESPACE, target.url).catch(() => undefined))
    if (!record || !sameEvidence(record.hashes, target.evidence.hashes)) return undefined
    return this.deps.blobs.get(record.sha256)
  }

  async #remember(target: FileTarget, ref: BlobRef): Promise<void> {
    if (target.evidence.hashes.sha256) return
    const record: FileRecord = { sha256: ref.sha256, hashes: target.evidence.hashes }
    await this.deps.records.put(FILE_RECORD_NAMESPACE, target.url, record).catch((error: unknown) => {
      this.deps.logger.error('store_failed', { what: 'file record', url: maskUrl(target.url), detail: String(error) })
    })
  }

  #count(cache: 'HIT' | 'MISS'): void {
    this.#counters[cache].inc()
  }
}

function downloadKey(target: FileTarget): string {
  const checks = hashesToCheck(target.evidence.hashes).map((check) => `${check.algorithm.name}=${check.hex}`)
  return `${target.url}\n${checks.join(',')}\n${target.evidence.expectedSize ?? ''}`
}

function sameEvidence(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const left = hashesToCheck(a)
  const right = hashesToCheck(b)
  return left.length === right.length && left.every((check, i) => check.algorithm.name === right[i]?.algorithm.name && check.hex === right[i]?.hex)
}

/** Decodes a stored file record; undefined when it is not one. */
export function asFileRecord(value: unknown): FileRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  if (typeof record.sha256 !== 'string' || typeof record.hashes !== 'object' || record.hashes === null) return undefined
  const hashes: Record<string, string> = {}
  for (const [name, hex] of Object.entries(record.hashes)) if (typeof hex === 'string') hashes[name] = hex
  return { sha256: record.sha256, hashes }
}
