/**
 * The content-addressed blob store: files named by their SHA-256 under `${dir}/blobs/ab/<64 hex>`,
 * written through temp files under `${dir}/tmp/`, kept within a byte budget by LRU eviction.
 * It stores what it is given and never decides freshness or trust: callers verify digests
 * against their evidence before serving.
 *
 * Readers and eviction: a reader that has opened a blob keeps reading it even if the blob is
 * evicted meanwhile, because POSIX keeps an open file's data until the last fd closes after
 * unlink. So no pinning is needed, provided readers open the file as soon as `get` returns.
 *
 * Readers are handed out here (`openBlob`, `BlobWriter.openReader`), so callers never see paths.
 *
 * A full disk (ENOSPC/EDQUOT) while writing evicts least recently used blobs and retries once;
 * a write still refused is a StoreFullError, counted and logged once per episode (the episode
 * ends with the next successful commit).
 *
 * Several processes may share the directory (cluster workers, or `serve` processes on one
 * volume). Temp names carry the host, pid and 96 random bits and are created with O_EXCL, so
 * they never collide; a start removes only temp files of dead processes (this host's, by pid; any
 * host's once untouched for the stale time: a downloading leader's heartbeat touches its temp
 * file). A blob committed by another process is found on disk at its first lookup here. A cold
 * blob is downloaded by one process at a time (`flight`, flights.ts). Each process's LRU index
 * sees its own commits and lookups; while other live processes share the directory, the budget is
 * kept by an eviction scan of the disk after commits, run by one process at a time (a lock), with
 * recency from each blob's persisted mtime, and by each process at most once per
 * `evictScanIntervalMs` (a scan reads the whole directory). Eviction never breaks a blob another process is
 * serving: that process holds an open descriptor, and POSIX unlink leaves an open file's data
 * readable until it is closed (so plain unlink is enough, no rename or grace period); a process
 * whose lookup found a blob just before it was unlinked gets no reader and looks up again.
 * Symlinks inside the directory are never followed (see cache-dirs.ts); a symlink where a blob
 * should be is not a blob.
 */
import { randomBytes } from 'node:crypto'
import { lstatSync } from 'node:fs'
import { lstat, mkdir, open, readdir, rename, rm, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Clock, type Logger, type Metrics, sha256Hex, silentLogger, systemClock } from '../base/index.js'
import { type BlobReader, type BlobRef, type BlobWriter, defaultWriteChunk, DiskBlobWriter, FileBlobReader, type WriteChunk } from './blob-writer.js'
import { ensureRealDir } from './cache-dirs.js'
import { CorruptBlobError, errnoCode, type StoreFullError, toStoreError } from './errors.js'
import { LruIndex, type EvictedEntry } from './eviction.js'
import { PeerWatch, readCommittedBlobs } from './shared-directory.js'
import { type Flight, joinFlight } from './flights.js'
import { HOST_TAG, isAlive, type LockFiles, openLockFiles, wallClockMs } from './locks.js'

export type { BlobReader, BlobRef, BlobWriter, WriteChunk } from './blob-writer.js'
export type { Flight, LeaderState } from './flights.js'

export interface BlobStoreOptions {
  readonly dir: string
  /** The byte budget; Infinity for none. */
  readonly maxBytes: number
  /** Persist a blob's last access (its mtime) at most this often; default 60 000. */
  readonly touchIntervalMs?: number
  /** fsync each blob before its rename (default true; see the measurements in the report). */
  readonly fsync?: boolean
  readonly clock?: Clock
  readonly logger?: Logger
  /** Counts writes refused for a full disk (`tuf_proxy_store_full_total`). */
  readonly metrics?: Metrics
  /** Test seam for the per-chunk write (e.g. to simulate ENOSPC). */
  readonly writeChunk?: WriteChunk
  /**
   * Remove the temp files found on open (default true). False for a command that inspects a
   * cache directory a running proxy may be writing to (`tuf-proxy cache`): its temp files are
   * downloads in progress.
   */
  readonly sweepTemps?: boolean
  /** A lock or temp file untouched for this long belongs to a dead process (default 10 000). */
  readonly staleMs?: number
  /**
   * While other processes share the directory, this process starts an eviction scan of the
   * whole directory at most this often (default 5 000); a commit sooner gets its scan when the
   * interval ends. Bounds the scans' cost on a very large cache, at the price of the directory
   * exceeding the budget by what is committed within one interval.
   */
  readonly evictScanIntervalMs?: number
}

/** A stored blob as the index knows it, for listings (`tuf-proxy cache`, `/-/cache`). */
export interface BlobInfo {
  readonly sha256: string
  readonly size: number
  /** last use, ms since the epoch: in memory, or the file's mtime after a restart */
  readonly lastUsedMs: number
}

export interface BlobStore {
  /** The blob, marked as recently used; undefined when absent. @throws {TypeError} on a malformed digest. */
  get(sha256: string): BlobRef | undefined
  /** Whether the blob is stored, without marking it used. */
  has(sha256: string): boolean
  /** The blob's size and last use, without marking it used; undefined when absent. @throws {TypeError} on a malformed digest. */
  peek(sha256: string): BlobInfo | undefined
  /** Every stored blob, least recently used first. */
  entries(): BlobInfo[]
  /**
   * A writer for a new blob. With `verifiedSha256` the writer does not hash: the caller vouches
   * that it checked exactly the bytes it writes against that digest before it commits (a
   * download verified against its index or TUF evidence), which saves hashing twice.
   * @throws {StoreFullError} / {StoreError} when the temp file cannot be created.
   */
  createWriter(options?: { verifiedSha256?: string | undefined }): Promise<BlobWriter>
  /** @throws {StoreFullError} / {StoreError} */
  putBytes(bytes: Uint8Array): Promise<BlobRef>
  /** The whole blob, checked against its digest. @throws {CorruptBlobError} (the blob is removed); {StoreError} */
  readBytes(sha256: string): Promise<Uint8Array | undefined>
  /**
   * A reader of a committed blob, without marking it used (`get` did); undefined when the blob
   * was evicted or removed since. Close it when done. @throws {StoreError}
   */
  openBlob(ref: BlobRef): Promise<BlobReader | undefined>
  /**
   * Joins the download of one blob across every process sharing the directory: the first
   * process leads, the others follow its temporary blob (flights.ts). `key` names the download
   * (any string; it is hashed). Release the flight when the download ends. @throws {StoreError}
   */
  flight(key: string): Promise<Flight>
  delete(sha256: string): Promise<void>
  /**
   * Makes the named committed blobs durable in one pass: each file's data, then the directories
   * holding their names. For a store opened with `fsync: false` that writes many blobs before
   * anything may point at them (`tuf-proxy import`): one pass of syncs costs far less than one
   * sync per file between writes. A blob evicted or removed meanwhile is skipped.
   * @throws {StoreError}
   */
  syncBlobs(sha256s: Iterable<string>): Promise<void>
  /** Resolves when background file operations started so far (mtime touches, evictions) are done. */
  flush(): Promise<void>
  readonly totalBytes: number
  readonly count: number
  readonly maxBytes: number
  /** blobs evicted to stay within the budget (or to make room on a full disk) since the store opened */
  readonly evictions: { readonly count: number; readonly bytes: number }
}

const FULL_METRIC = 'tuf_proxy_store_full_total'
const FULL_HELP = 'Cache writes refused because the disk stayed full after eviction'
const EVICTIONS_METRIC = 'tuf_proxy_cache_evictions_total'
const EVICTIONS_HELP = 'Blobs evicted from the file cache, by reason (budget: over --cache-max-bytes; disk_full: room made for a write the disk refused)'

const DIGEST = /^[0-9a-f]{64}$/
const PREFIX = /^[0-9a-f]{2}$/
/** Evictions of one run logged one line each; the rest of the run gets one summary line. */
const EVICTION_LINES_MAX = 10
/** `<host hash>-<pid>-<random>.part`: whose temp file it is, so a start removes only those of dead processes. */
const TEMP_NAME = /^([0-9a-f]{8})-([0-9]+)-[0-9a-f]{24}\.part$/
/** How often a process waiting for another's eviction scan looks whether the lock is free (a poll: no cross-process wake-up). */
const EVICT_LOCK_POLL_MS = 50
/**
 * The default least time between two eviction scans of one process: a scan lists and stats every
 * blob (measured: 0.6-0.8 s and about a CPU second per 100 000 blobs, directory cached), so one
 * after every commit would keep a busy server with a large cache scanning without pause.
 */
const EVICT_SCAN_INTERVAL_MS = 5_000

function checkDigest(sha256: string): void {
  if (!DIGEST.test(sha256)) throw new TypeError(`not a lower-case hex SHA-256 digest: ${JSON.stringify(sha256).slice(0, 80)}`)
}

function validate(options: BlobStoreOptions): void {
  if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('blob store option "dir" must be a directory path')
  const { maxBytes, touchIntervalMs, evictScanIntervalMs } = options
  if (!(maxBytes === Infinity || (Number.isSafeInteger(maxBytes) && maxBytes > 0))) {
    throw new TypeError(`blob store option "maxBytes" must be a positive integer or Infinity (got ${maxBytes})`)
  }
  if (touchIntervalMs !== undefined && !(Number.isSafeInteger(touchIntervalMs) && touchIntervalMs >= 0)) {
    throw new TypeError(`blob store option "touchIntervalMs" must be a non-negative integer (got ${touchIntervalMs})`)
  }
  if (evictScanIntervalMs !== undefined && !(Number.isSafeInteger(evictScanIntervalMs) && evictScanIntervalMs >= 0)) {
    throw new TypeError(`blob store option "evictScanIntervalMs" must be a non-negative integer (got ${evictScanIntervalMs})`)
  }
}

class DiskBlobStore implements BlobStore {
  readonly maxBytes: number
  readonly #blobsDir: string
  readonly #tmpDir: string
  readonly #locks: LockFiles
  readonly #staleMs: number
  readonly #tempPaths = new WeakMap<BlobWriter, string>()
  readonly #peers: PeerWatch
  /** a shared eviction scan is running; `again` asks for one more after it */
  #scan: { again: boolean } | undefined
  /** when this process may start its next eviction scan (the rate limit, this.#clock's time) */
  #nextScanAtMs = -Infinity
  /** a scan asked for before #nextScanAtMs, started when that time comes */
  #scanTimer: ReturnType<typeof setTimeout> | undefined
  readonly #touchIntervalMs: number
  readonly #options: BlobStoreOptions
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #index = new LruIndex()
  readonly #prefixDirs = new Set<string>()
  readonly #pendingDeletes = new Map<string, Promise<void>>()
  readonly #background = new Set<Promise<void>>()
  /** a full-disk episode is under way: logged at its start, and when a commit succeeds again */
  #isFull = false

  constructor(options: BlobStoreOptions) {
    this.maxBytes = options.maxBytes
    this.#options = options
    this.#blobsDir = join(options.dir, 'blobs')
    this.#tmpDir = join(options.dir, 'tmp')
    this.#touchIntervalMs = options.touchIntervalMs ?? 60_000
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    options.metrics?.declareCounter(EVICTIONS_METRIC, EVICTIONS_HELP)
    options.metrics?.declareCounter(FULL_METRIC, FULL_HELP)
    this.#staleMs = options.staleMs ?? 10_000
    this.#locks = openLockFiles({ dir: join(options.dir, 'locks'), logger: this.#logger, staleMs: this.#staleMs })
    this.#peers = new PeerWatch({ locks: this.#locks, dir: join(options.dir, 'locks'), clock: this.#clock })
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

  #path(sha256: string): string {
    return join(this.#blobsDir, sha256.slice(0, 2), sha256)
  }

  #ref(sha256: string, size: number): BlobRef {
    return { sha256, size }
  }

  #inBackground(task: Promise<void>): void {
    const tracked = task.finally(() => this.#background.delete(tracked))
    this.#background.add(tracked)
  }

  async open(): Promise<this> {
    try {
      await mkdir(this.#options.dir, { recursive: true })
      await ensureRealDir(this.#blobsDir, this.#logger)
      await ensureRealDir(this.#tmpDir, this.#logger)
      await ensureRealDir(join(this.#options.dir, 'locks'), this.#logger)
      // Partials of a crashed or killed process are never served, and are removed here; those of
      // live processes sharing the directory are theirs. rm() removes a symlink, not its target.
      // A command that only inspects the directory (`tuf-proxy cache`) neither sweeps nor joins
      // the processes serving from it.
      if (this.#options.sweepTemps ?? true) {
        for (const name of await readdir(this.#tmpDir)) {
          if (await this.#isDeadTemp(name)) await rm(join(this.#tmpDir, name), { force: true, recursive: true })
        }
        await this.#peers.join()
      }
      const found: Array<{ sha256: string; size: number; mtimeMs: number }> = []
      for (const prefix of await readdir(this.#blobsDir)) {
        if (!PREFIX.test(prefix)) continue
        await ensureRealDir(join(this.#blobsDir, prefix), this.#logger)
        this.#prefixDirs.add(prefix)
        const names = (await readdir(join(this.#blobsDir, prefix))).filter((name) => DIGEST.test(name) && name.startsWith(prefix))
        const stats = await Promise.all(names.map(async (name) => ({ name, info: await lstat(this.#path(name)) })))
        for (const { name, info } of stats) {
          if (info.isFile()) found.push({ sha256: name, size: info.size, mtimeMs: info.mtimeMs })
          else if (info.isSymbolicLink()) await unlink(this.#path(name))
        }
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.sha256 < b.sha256 ? -1 : 1))
      for (const blob of found) this.#index.set(blob.sha256, blob.size, blob.mtimeMs)
    } catch (error) {
      throw toStoreError(error, `opening the blob store in ${this.#options.dir}`)
    }
    this.#evict(undefined)
    await this.flush()
    return this
  }

  /** Whether temp file `name` belongs to no live writer: this process's own from before, a dead pid of this host, or untouched for the stale time. */
  async #isDeadTemp(name: string): Promise<boolean> {
    const match = TEMP_NAME.exec(name)
    if (match && match[1] === HOST_TAG) {
      const pid = Number(match[2])
      if (pid === process.pid || !isAlive(pid)) return true
    }
    const info = await lstat(join(this.#tmpDir, name)).catch(() => undefined)
    return info !== undefined && (!match || wallClockMs() - info.mtimeMs > this.#staleMs)
  }

  get(sha256: string): BlobRef | undefined {
    checkDigest(sha256)
    const nowMs = this.#clock.nowMs()
    const entry = this.#index.touch(sha256, nowMs) ?? this.#foundOnDisk(sha256, nowMs)
    if (!entry) return undefined
    if (nowMs - entry.persistedAccessMs >= this.#touchIntervalMs) {
      entry.persistedAccessMs = nowMs
      const path = this.#path(sha256)
      this.#inBackground(
        utimes(path, nowMs / 1000, nowMs / 1000).catch((error: unknown) => {
          // Only the LRU order after a restart suffers; a vanished file is a miss on next read.
          this.#logger.warn('store_touch_failed', { path, code: errnoCode(error) ?? 'unknown' })
        }),
      )
    }
    return this.#ref(sha256, entry.size)
  }

  /**
   * A blob another process sharing the directory committed: taken into this index. One lstat,
   * only on a miss, which is followed by an upstream fetch anyway.
   */
  #foundOnDisk(sha256: string, nowMs: number): ReturnType<LruIndex['touch']> {
    let info
    try {
      info = lstatSync(this.#path(sha256))
    } catch {
      return undefined
    }
    if (!info.isFile()) return undefined
    this.#prefixDirs.add(sha256.slice(0, 2))
    const entry = this.#index.set(sha256, info.size, nowMs)
    entry.persistedAccessMs = info.mtimeMs
    return entry
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
    const tmpPath = join(this.#tmpDir, `${HOST_TAG}-${process.pid}-${randomBytes(12).toString('hex')}.part`)
    let handle
    try {
      handle = await open(tmpPath, 'wx')
    } catch (error) {
      throw toStoreError(error, `creating a temp file in ${this.#tmpDir}`)
    }
    const writer = new DiskBlobWriter({
      tmpPath,
      handle,
      writeChunk: this.#options.writeChunk ?? defaultWriteChunk,
      fsync: this.#options.fsync ?? true,
      clock: this.#clock,
      verifiedSha256: options.verifiedSha256,
      adopt: (path, sha256, size) => this.#adopt(path, sha256, size),
      makeRoom: (bytes) => this.#makeRoom(bytes),
      onFull: (error) => this.#noteFull(error),
    })
    this.#tempPaths.set(writer, tmpPath)
    return writer
  }

  async flight(key: string): Promise<Flight> {
    try {
      return await joinFlight(`flight-${sha256Hex(Buffer.from(key, 'utf8'))}`, {
        locks: this.#locks,
        tmpDir: this.#tmpDir,
        tmpPathOf: (writer) => this.#tempPaths.get(writer),
      })
    } catch (error) {
      throw toStoreError(error, `taking a download lock in ${join(this.#options.dir, 'locks')}`)
    }
  }

  /** Evicts least recently used blobs totalling at least `bytes` and waits until they are unlinked. */
  async #makeRoom(bytes: number): Promise<boolean> {
    const victims = this.#index.evictAtLeast(bytes)
    this.#countEvictions('disk_full', victims.length)
    this.#logEvictions(victims, 'disk_full')
    await Promise.all(victims.map((victim) => this.#unlink(victim.key)))
    return victims.length > 0
  }

  #noteFull(error: StoreFullError): void {
    this.#options.metrics?.inc(FULL_METRIC, FULL_HELP)
    if (this.#isFull) return
    this.#isFull = true
    this.#logger.warn('store_full', { dir: this.#options.dir, code: error.code, detail: error.message })
  }

  async #adopt(tmpPath: string, sha256: string, size: number): Promise<BlobRef> {
    // An eviction of this very digest may still be unlinking; renaming first would lose the new file.
    await this.#pendingDeletes.get(sha256)
    const nowMs = this.#clock.nowMs()
    const existing = this.#index.touch(sha256, nowMs)
    if (existing) {
      await rm(tmpPath, { force: true })
      return this.#ref(sha256, existing.size)
    }
    const prefix = sha256.slice(0, 2)
    if (!this.#prefixDirs.has(prefix)) {
      await mkdir(join(this.#blobsDir, prefix), { recursive: true })
      this.#prefixDirs.add(prefix)
    }
    await rename(tmpPath, this.#path(sha256))
    if (this.#isFull) {
      this.#isFull = false
      this.#logger.info('store_writable', { dir: this.#options.dir, detail: 'a blob was stored again after the disk was full' })
    }
    this.#index.set(sha256, size, nowMs)
    this.#evict(sha256)
    if (this.maxBytes !== Infinity && (await this.#peers.hasPeers())) this.#askForScan()
    return this.#ref(sha256, size)
  }

  /** Starts a shared eviction scan now, or when the rate limit allows one (see evictScanIntervalMs). */
  #askForScan(): void {
    const waitMs = this.#nextScanAtMs - this.#clock.nowMs()
    if (waitMs <= 0) {
      this.#inBackground(this.#sharedEviction())
      return
    }
    if (this.#scanTimer) return
    this.#scanTimer = setTimeout(() => {
      this.#scanTimer = undefined
      this.#inBackground(this.#sharedEviction())
    }, waitMs)
    // A scan still owed when the process exits is the next process's: every start evicts too.
    this.#scanTimer.unref()
  }

  /**
   * Keeps the budget over the whole directory: one process at a time (the `evict` lock) reads
   * every blob's size and mtime, takes blobs other processes committed into its index, and evicts
   * the least recently used down to the budget. Commits during a scan ask for one more after
   * it, when the rate limit allows.
   */
  async #sharedEviction(): Promise<void> {
    if (this.#scan) {
      this.#scan.again = true
      return
    }
    const scan = { again: false }
    this.#scan = scan
    try {
      for (;;) {
        const lock = await this.#locks.tryAcquire('evict')
        if (!lock) {
          // Another process is scanning, perhaps from a listing made before this commit: scan after it.
          await sleep(EVICT_LOCK_POLL_MS)
          continue
        }
        this.#nextScanAtMs = this.#clock.nowMs() + (this.#options.evictScanIntervalMs ?? EVICT_SCAN_INTERVAL_MS)
        try {
          const found = await readCommittedBlobs(this.#blobsDir)
          const diskMtimeMs = new Map(found.map((blob) => [blob.sha256, blob.mtimeMs]))
          for (const blob of found) if (!this.#index.has(blob.sha256)) this.#index.set(blob.sha256, blob.size, blob.mtimeMs).persistedAccessMs = blob.mtimeMs
          for (const sha256 of this.#index.keys()) if (!diskMtimeMs.has(sha256) && !this.#pendingDeletes.has(sha256)) this.#index.delete(sha256)
          // Recency is each blob's newest known use: this process's, or the mtime others persisted.
          const order = this.#index.keys().map((sha256) => ({ sha256, accessMs: Math.max(this.#index.peek(sha256)?.lastAccessMs ?? 0, diskMtimeMs.get(sha256) ?? 0) }))
          order.sort((a, b) => a.accessMs - b.accessMs)
          for (const { sha256, accessMs } of order) this.#index.touch(sha256, accessMs)
          const victims = this.#index.evictOver(this.maxBytes)
          this.#countEvictions('budget', victims.length)
          this.#logEvictions(victims, 'over_budget')
          await Promise.all(victims.map((victim) => this.#unlink(victim.key)))
        } finally {
          await lock.release()
        }
        break
      }
    } catch (error) {
      this.#logger.warn('store_eviction_failed', { dir: this.#options.dir, code: errnoCode(error) ?? 'unknown' })
    } finally {
      this.#scan = undefined
      if (scan.again) this.#askForScan()
    }
  }

  #evict(keep: string | undefined): void {
    const victims = this.#index.evictOver(this.maxBytes, keep)
    this.#countEvictions('budget', victims.length)
    this.#logEvictions(victims, 'over_budget')
    for (const victim of victims) this.#inBackground(this.#unlink(victim.key))
  }

  /**
   * One line per evicted blob, so an operator sees what left the cache and how long it had been
   * unused (a budget too small evicts blobs used minutes ago); past EVICTION_LINES_MAX in one run
   * (a lowered budget at start, a full disk), the rest are summed up in one line.
   */
  #logEvictions(victims: readonly EvictedEntry[], why: 'over_budget' | 'disk_full'): void {
    if (victims.length === 0) return
    const nowMs = this.#clock.nowMs()
    const idleSeconds = (victim: EvictedEntry) => Math.max(0, Math.round((nowMs - victim.lastAccessMs) / 1000))
    for (const victim of victims.slice(0, EVICTION_LINES_MAX)) {
      this.#logger.info('blob_evicted', { why, sha256: victim.key, bytes: victim.size, idleSeconds: idleSeconds(victim) })
    }
    const rest = victims.slice(EVICTION_LINES_MAX)
    // Least recently used first, so the first of the rest has been idle longest.
    const [longestIdle] = rest
    const shortestIdle = rest.at(-1)
    if (!longestIdle || !shortestIdle) return
    this.#logger.info('blobs_evicted', {
      why,
      count: rest.length,
      bytes: rest.reduce((sum, victim) => sum + victim.size, 0),
      maxIdleSeconds: idleSeconds(longestIdle),
      minIdleSeconds: idleSeconds(shortestIdle),
      detail: `the evictions of this run past the first ${EVICTION_LINES_MAX}, summed up`,
    })
  }

  #countEvictions(reason: 'budget' | 'disk_full', count: number): void {
    if (count > 0) this.#options.metrics?.inc(EVICTIONS_METRIC, EVICTIONS_HELP, { reason }, count)
  }

  #unlink(sha256: string): Promise<void> {
    const path = this.#path(sha256)
    const task = rm(path, { force: true })
      .catch((error: unknown) => this.#logger.warn('store_unlink_failed', { path, code: errnoCode(error) ?? 'unknown' }))
      .finally(() => {
        if (this.#pendingDeletes.get(sha256) === task) this.#pendingDeletes.delete(sha256)
      })
    this.#pendingDeletes.set(sha256, task)
    return task
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
    const reader = await this.openBlob(ref)
    if (!reader) return undefined
    const bytes = Buffer.allocUnsafe(ref.size + 1)
    let length = 0
    try {
      // One byte more than recorded, so a file that grew is caught too.
      for (let read = -1; read !== 0 && length < bytes.byteLength; length += read) {
        read = await reader.read(bytes.subarray(length), length, bytes.byteLength - length)
      }
    } finally {
      await reader.close()
    }
    const body = bytes.subarray(0, length)
    if (length !== ref.size || sha256Hex(body) !== sha256) {
      await this.delete(sha256)
      throw new CorruptBlobError(`cached blob ${this.#path(sha256)} does not match its digest and was removed; it will be fetched again`)
    }
    return body
  }

  async openBlob(ref: BlobRef): Promise<BlobReader | undefined> {
    checkDigest(ref.sha256)
    const reader = await FileBlobReader.open(this.#path(ref.sha256))
    if (!reader) {
      if (this.#index.peek(ref.sha256)?.size === ref.size) this.#index.delete(ref.sha256)
      return undefined
    }
    const size = await reader.byteLength().catch(async (error: unknown) => {
      await reader.close()
      throw error
    })
    if (size === ref.size) return reader
    // A committed blob never changes length (it is renamed into place whole): this one was cut or
    // extended outside the proxy. Sent as it is, every client would get a broken transfer for as
    // long as it stayed; removed, the next lookup misses and the file is fetched and verified again.
    await reader.close()
    this.#logger.warn('blob_damaged', { sha256: ref.sha256, expectedBytes: ref.size, bytes: size, effect: 'removed; the file is fetched again' })
    await this.delete(ref.sha256)
    return undefined
  }

  async delete(sha256: string): Promise<void> {
    checkDigest(sha256)
    this.#index.delete(sha256)
    await this.#unlink(sha256)
  }

  async syncBlobs(sha256s: Iterable<string>): Promise<void> {
    const digests = [...new Set(sha256s)]
    digests.forEach(checkDigest)
    const syncPath = async (path: string) => {
      let handle
      try {
        handle = await open(path, 'r')
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return
        throw toStoreError(error, `opening ${path} to sync it`)
      }
      try {
        await handle.sync()
      } catch (error) {
        throw toStoreError(error, `syncing ${path}`)
      } finally {
        await handle.close()
      }
    }
    // A few at a time: the kernel merges the writeback of concurrent syncs.
    const queue = [...digests]
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, async () => {
      for (let digest = queue.pop(); digest !== undefined; digest = queue.pop()) await syncPath(this.#path(digest))
    }))
    // Then the names: each prefix directory a blob was renamed into, and the one holding those.
    for (const prefix of new Set(digests.map((digest) => digest.slice(0, 2)))) await syncPath(join(this.#blobsDir, prefix))
    await syncPath(this.#blobsDir)
  }

  async flush(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }
}

/**
 * Opens (creating if needed) the blob store in `options.dir`: removes stale temp files, rebuilds the
 * LRU index from the files' sizes and mtimes, then evicts down to `maxBytes`.
 * @throws {TypeError} naming a bad option; {StoreError} when the directory cannot be read or created.
 */
export async function openBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  validate(options)
  return new DiskBlobStore(options).open()
}
