/**
 * The project list (`/simple/`) and project pages (`/simple/<project>/`): fetch from a PageSource,
 * parse into the index model, keep the last good copy in memory and on disk, revalidate after the
 * TTL, and serve the last good copy (marked STALE) when the upstream fails, sends a malformed page
 * or an older serial (or none after one). A malformed link costs that link, not the page; a page
 * malformed as a whole is remembered briefly, as a 404 is, so it is not re-fetched per request.
 * Rendered bytes and their ETag are kept per format, so a hot page costs one map lookup; the
 * project list's renderings (tens of MB) are written to blobs as the list arrives
 * (project-list-intake.ts) and streamed from there (project-list.ts).
 *
 * Freshness rules live in policy/; parsing and rendering in index/; HTTP details in http/.
 */
import { LRUCache } from 'lru-cache'
import { describeError, errorCode, maskUrl, sha256Hex, type Clock, type Logger, type Metrics } from '../base/index.js'
import {
  contentTypeOf,
  normalizeName,
  parseProjectPageHtml,
  parseProjectPageJson,
  renderProjectPageHtml,
  renderProjectPageJson,
  rewriteFileUrls,
  type IndexMeta,
  type LinkFormatError,
  type PageParseOptions,
  type ProjectFile,
  type ProjectPage,
  type SimpleFormat,
} from '../index/index.js'
import { IndexFormatError } from '../index/index.js'
import { StaleUpstreamError, checkSerial, isFresh, negativeStaleAtMs, staleAtMs } from '../policy/index.js'
import type { BlobStore, Flight, RecordStore } from '../store/index.js'
import { SingleFlight } from './coalesce.js'
import type { DropLog } from './drops.js'
import { NotFoundError } from './errors.js'
import { isSafeFileName } from './file-names.js'
import { representationEtag } from './page-etag.js'
import { reopenRenderings, storedRenderingsOf, type StoredBody, type StoredRenderings } from './project-list.js'
import { ProjectListDownload, renderStoredList } from './project-list-intake.js'
import type { PageSource, PageStreamFetch, PageValidators } from './page-source.js'

export type CacheStatus = 'HIT' | 'MISS' | 'STALE'

/**
 * One representation of a page as served. The same object is returned for the same rendering and
 * cache status while the page is unchanged, so http/ prepares its headers once per representation
 * (keyed on this object) rather than per request.
 */
export interface RenderedPage {
  /** the bytes, or for the project list a blob in the store */
  readonly body: Uint8Array | StoredBody
  readonly contentType: string
  readonly etag: string
  readonly cache: CacheStatus
  readonly serial: number | undefined
}

/**
 * What an explicit revalidation of a project page found (the admin API's refresh): the page is
 * `unchanged` (not modified, or the same bytes), `updated`, or the revalidation `failed`, with
 * the error, and the last good copy, if any, stays in use.
 */
export type PageRefresh =
  | { readonly outcome: 'unchanged' | 'updated'; readonly serial: number | undefined; readonly previousSerial: number | undefined; readonly fetchedAtMs: number }
  | { readonly outcome: 'failed'; readonly error: unknown; readonly isLastGoodKept: boolean }

/** A page resolved for a request; `failure` says why a revalidation fell back to the last good copy. */
interface Resolved {
  readonly entry: Entry
  readonly cache: CacheStatus
  readonly failure?: unknown
}

/** A project page as parsed, with where it came from in the cache. */
export interface PageModel {
  readonly page: ProjectPage
  readonly cache: CacheStatus
  readonly serial: number | undefined
  /** the SHA-256 of the upstream bytes the model was parsed from */
  readonly identity: string
}

/** One rendering of a page, with the answers made from it so far, one per cache status. */
interface Rendering {
  readonly body: Uint8Array | StoredBody
  readonly etag: string
  answers?: Partial<Record<CacheStatus, RenderedPage>>
}

interface Entry {
  readonly key: string
  /** the project list keeps no model, only its meta: it is rendered when parsed (project-list.ts) */
  readonly model: ProjectPage | { readonly meta: IndexMeta }
  /** where the page came from after redirects, which its relative links were resolved against */
  readonly baseUrl: string
  readonly validators: PageValidators
  /** the page's serial; pages with a lower one or none are refused, so it is the highest seen */
  readonly serial: number | undefined
  readonly bodySha256: string
  readonly bodyBytes: number
  readonly contentType: string
  readonly fetchedAtMs: number
  readonly staleAtMs: number
  /** verifying mode: the earliest expiry of the roles that vouch for the page (else Infinity) */
  readonly validUntilMs: number
  /** verifying mode: the generation of the verified TUF state the page was checked against */
  readonly trustGeneration: number | undefined
  readonly rendered: Map<SimpleFormat, Rendering>
  filesByName?: ReadonlyMap<string, ProjectFile>
  /** when a memory hit last counted as a use of the stored body (see #touchBlob) */
  touchedAtMs?: number
}

/** A page's bytes as received: a project page whole, the project list written to disk as it came. */
type Received = { readonly body: Uint8Array } | { readonly download: ProjectListDownload }

/** A parsed page, with the renderings made so far (all of them for the project list). */
interface Parsed {
  readonly model: Entry['model']
  readonly rendered: Map<SimpleFormat, Rendering>
}

/** What is persisted per page: the upstream's bytes live in the blob store and are re-parsed on load. */
export interface PageRecord {
  readonly bodySha256: string
  readonly contentType: string
  /** absent in records written before redirects were followed: then the page URL */
  readonly baseUrl?: string | undefined
  readonly etag?: string | undefined
  readonly lastModified?: string | undefined
  readonly serial?: number | undefined
  readonly fetchedAtMs: number
  /** the project list only: its renderings, reopened after a restart instead of parsed again */
  readonly list?: StoredRenderings | undefined
}

export interface SimplePagesOptions {
  /** the upstream simple index base URL, ending in '/' */
  readonly upstreamUrl: string
  readonly indexTtlSeconds: number
  /** whether a file link may be offered at all (host allowlist) */
  readonly isAllowedUrl: (url: string) => boolean
  /** whether a last good copy may still be served when revalidation fails (verifying mode: while the TUF metadata is unexpired) */
  readonly canServeStale?: () => boolean
  /**
   * Verifying mode: the generation of the verified TUF state in force, and whether a refresh is
   * due. A page is served without revalidation only under the generation it was checked against
   * and while no refresh is due, so a newer state is seen by the first request after it
   * (revalidation is cheap: an unchanged target answers not-modified without a download); and
   * only a page of the generation in force may stand in for a failed revalidation.
   */
  readonly trustGeneration?: () => { readonly current: number; readonly isDue: boolean }
  /**
   * records namespace for persisted pages: verifying mode uses its own, so a page stored while
   * the proxy ran hash-only (with whatever ETag the upstream chose) is never taken as verified
   */
  readonly recordNamespace?: string
  /** memory budget for parsed pages, in bytes of upstream body (rough) */
  readonly memoryMaxBytes?: number
}

export interface SimplePagesDeps {
  readonly source: PageSource
  readonly blobs: BlobStore
  readonly records: RecordStore
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  readonly drops: DropLog
}

/** Records namespaces of persisted pages, hash-only and verifying mode (see SimplePagesOptions.recordNamespace). */
export const PAGE_RECORD_NAMESPACES = { hashOnly: 'page', verifying: 'tuf-page' } as const

const INDEX_KEY = ''
/** How often a page served from memory counts again as a use of its stored body (see peekFresh). */
const HOT_TOUCH_INTERVAL_MS = 1000
const CACHE_METRIC = 'tuf_proxy_cache_total'
const CACHE_HELP = 'Proxied responses by kind and cache outcome'

export class SimplePages {
  readonly #memory: LRUCache<string, Entry>
  /** names the upstream said it has no page for, until when; bounded against random-name floods */
  readonly #notFound = new LRUCache<string, number>({ max: 10_000 })
  /** pages refused as malformed as a whole, until when, and why; bounded likewise */
  readonly #malformed = new LRUCache<string, { readonly untilMs: number; readonly error: IndexFormatError }>({ max: 10_000 })
  readonly #flights = new SingleFlight<Resolved>()
  readonly #counters: Record<CacheStatus, { inc(): void }>
  readonly #recordNamespace: string

  constructor(
    private readonly options: SimplePagesOptions,
    private readonly deps: SimplePagesDeps,
  ) {
    this.#recordNamespace = options.recordNamespace ?? PAGE_RECORD_NAMESPACES.hashOnly
    const counter = (result: CacheStatus) => deps.metrics.counter(CACHE_METRIC, CACHE_HELP, { kind: 'page', result })
    this.#counters = { HIT: counter('HIT'), MISS: counter('MISS'), STALE: counter('STALE') }
    this.#memory = new LRUCache<string, Entry>({
      maxSize: options.memoryMaxBytes ?? 256 * 1024 * 1024,
      // parsed models and rendered variants take a few times the upstream body
      sizeCalculation: (entry) => Math.max(1, entry.bodyBytes * 4),
    })
  }

  /** `/simple/` in the requested format. */
  async index(format: SimpleFormat): Promise<RenderedPage> {
    const { entry, cache } = await this.#resolve(INDEX_KEY)
    this.#touchBlob(entry)
    return this.#render(entry, format, cache)
  }

  /**
   * `/simple/<project>/` in the requested format, file links pointing at the proxy.
   * @param project a PEP 503 normalized name
   * @param options.revalidate ask the upstream now, whatever the TTL and the remembered 404 or
   *   malformed page (a client's `Cache-Control: no-cache` under --honor-client-revalidate)
   * @throws NotFoundError, UpstreamError, IndexFormatError (no good copy to fall back on)
   */
  async project(project: string, format: SimpleFormat, options: { readonly revalidate?: boolean } = {}): Promise<RenderedPage> {
    const { entry, cache } = await this.#resolve(project, options.revalidate ?? false)
    this.#touchBlob(entry)
    return this.#render(entry, format, cache)
  }

  /**
   * The rendered page when it is fresh in memory, else undefined (then call `index()` or
   * `project()`, which fetch, revalidate and fall back). Synchronous, for the hot path.
   * @param key '' for the project list, else a PEP 503 normalized name
   */
  peekFresh(key: string, format: SimpleFormat): RenderedPage | undefined {
    const entry = this.#memory.get(key)
    const nowMs = this.deps.clock.nowMs()
    if (!entry || !this.#isServable(entry, nowMs) || !this.#hasBodies(entry)) return undefined
    this.#count('HIT')
    // The LRU needs to know the body is in use, not every use: a touch per second keeps its order
    // right for eviction and takes the store's lookup off most hits (measured in bench/). A clock
    // that went back counts as time passed.
    const touchedAtMs = entry.touchedAtMs
    if (touchedAtMs === undefined || nowMs - touchedAtMs >= HOT_TOUCH_INTERVAL_MS || nowMs < touchedAtMs) {
      entry.touchedAtMs = nowMs
      this.#touchBlob(entry)
    }
    return this.#render(entry, format, 'HIT')
  }

  /**
   * Revalidates a project page now, whatever its TTL (the admin API's refresh): a conditional
   * request when a copy is cached, coalesced with any revalidation already running.
   * @param project a PEP 503 normalized name
   */
  async refresh(project: string): Promise<PageRefresh> {
    const before = this.#memory.get(project) ?? (await this.#load(project)).entry
    let resolved: Resolved
    try {
      resolved = await this.#resolve(project, true)
    } catch (error) {
      return { outcome: 'failed', error, isLastGoodKept: false }
    }
    const { entry, failure } = resolved
    this.#touchBlob(entry)
    if (failure !== undefined) return { outcome: 'failed', error: failure, isLastGoodKept: true }
    const isUnchanged = before !== undefined && before.bodySha256 === entry.bodySha256
    return { outcome: isUnchanged ? 'unchanged' : 'updated', serial: entry.serial, previousSerial: before?.serial, fetchedAtMs: entry.fetchedAtMs }
  }

  /**
   * The project page held in memory, if any, without fetching or counting a use (what a purge
   * must clean up besides the stored copy).
   */
  cachedPage(project: string): ProjectPage | undefined {
    const entry = this.#memory.peek(project)
    return entry && project !== INDEX_KEY ? (entry.model as ProjectPage) : undefined
  }

  /**
   * Forgets what memory holds about a project page: the parsed page, a remembered 404 or
   * malformed page. The admin API's purge removes the stored copy; the next request fetches it.
   */
  forget(project: string): void {
    this.#memory.delete(project)
    this.#notFound.delete(project)
    this.#malformed.delete(project)
  }

  /**
   * The project's page as parsed (file URLs still the upstream's), for a router that filters and
   * renders it itself; `identity` changes whenever the page does.
   * @throws NotFoundError, UpstreamError, IndexFormatError (no good copy to fall back on)
   */
  async projectModel(project: string, isForced = false): Promise<PageModel> {
    const { entry, cache } = await this.#resolve(project, isForced)
    this.#touchBlob(entry)
    return { page: entry.model as ProjectPage, cache, serial: entry.serial, identity: entry.bodySha256 }
  }

  /** The parsed page when it is fresh in memory, else undefined (then call `projectModel()`). */
  peekModel(project: string): PageModel | undefined {
    const entry = this.#memory.get(project)
    if (!entry || !this.#isServable(entry, this.deps.clock.nowMs())) return undefined
    this.#count('HIT')
    return { page: entry.model as ProjectPage, cache: 'HIT', serial: entry.serial, identity: entry.bodySha256 }
  }

  /** The upstream's entry for one file of a project, from the current (or last good) page. */
  async findFile(project: string, fileName: string): Promise<ProjectFile | undefined> {
    const { entry } = await this.#resolve(project)
    this.#touchBlob(entry)
    const page = entry.model as ProjectPage
    entry.filesByName ??= new Map(page.files.map((file) => [file.filename, file]))
    return entry.filesByName.get(fileName)
  }

  /**
   * A page served from memory is a use of its stored body too (issue 7 item 8): without this the
   * LRU sees popular pages as never used and evicts them first, and after a restart with the
   * upstream down their cached files could not be resolved. `get` only moves an in-memory LRU
   * entry; the store persists the access time at most once per its touch interval.
   */
  #touchBlob(entry: Entry): void {
    this.deps.blobs.get(entry.bodySha256)
    if (entry.key === INDEX_KEY) for (const { body } of entry.rendered.values()) if (!(body instanceof Uint8Array)) this.deps.blobs.get(body.sha256)
  }

  /** A project list whose stored renderings were evicted is rendered again (from the stored upstream bytes, or fetched). */
  #hasBodies(entry: Entry): boolean {
    for (const { body } of entry.rendered.values()) if (!(body instanceof Uint8Array) && !this.deps.blobs.has(body.sha256)) return false
    return true
  }

  /**
   * Fresh by the TTL, and still vouched for: in verifying mode a page whose TUF metadata has
   * expired is revalidated (and refused) even inside its TTL.
   */
  #isServable(entry: Entry, nowMs: number): boolean {
    if (!isFresh(entry.staleAtMs, nowMs) || nowMs >= entry.validUntilMs || !(this.options.canServeStale?.() ?? true)) return false
    const trust = this.options.trustGeneration?.()
    return trust === undefined || (!trust.isDue && trust.current === entry.trustGeneration)
  }

  /**
   * A last good copy may stand in for a failed revalidation only while its vouchers are
   * unexpired, and in verifying mode only if the state in force vouched for it: after a newer
   * state is adopted, the older one no longer answers.
   */
  #canFallBackTo(entry: Entry | undefined): entry is Entry {
    if (entry === undefined || this.deps.clock.nowMs() >= entry.validUntilMs || !(this.options.canServeStale?.() ?? true)) return false
    const trust = this.options.trustGeneration?.()
    return trust === undefined || trust.current === entry.trustGeneration
  }

  #url(key: string): string {
    return key === INDEX_KEY ? this.options.upstreamUrl : new URL(`${key}/`, this.options.upstreamUrl).href
  }

  /** @param isForced revalidate now: no TTL, no remembered 404 or malformed page */
  async #resolve(key: string, isForced = false): Promise<Resolved> {
    const nowMs = this.deps.clock.nowMs()
    const notFoundUntil = this.#notFound.get(key)
    if (notFoundUntil !== undefined) {
      if (nowMs < notFoundUntil && !isForced) throw new NotFoundError(`the upstream has no page for ${JSON.stringify(key)}`)
      this.#notFound.delete(key)
    }
    let cached = this.#memory.get(key)
    if (cached && !this.#hasBodies(cached)) {
      this.#memory.delete(key)
      cached = undefined
    }
    if (cached && !isForced && this.#isServable(cached, this.deps.clock.nowMs())) {
      this.#count('HIT')
      return { entry: cached, cache: 'HIT' }
    }
    const result = await this.#flights.run(key, async () => {
      const known = cached ? { entry: cached, serial: cached.serial } : await this.#load(key)
      const malformed = this.#malformed.get(key)
      if (malformed !== undefined && this.deps.clock.nowMs() < malformed.untilMs && !isForced) {
        // Already dropped and logged; serve what there is without asking the upstream again.
        if (!this.#canFallBackTo(known.entry)) throw malformed.error
        return { entry: known.entry, cache: 'STALE' as const, failure: malformed.error }
      }
      this.#malformed.delete(key)
      if (known.entry !== undefined && this.#isServable(known.entry, this.deps.clock.nowMs())) return this.#revalidate(key, known.entry, known.serial)
      const shared = await this.#joinOtherProcesses(key, known.entry === undefined)
      if (shared.adopted) return { entry: shared.adopted, cache: 'MISS' as const }
      try {
        return await this.#revalidate(key, known.entry, known.serial)
      } finally {
        await shared.flight?.release()
      }
    })
    this.#count(result.cache)
    return result
  }

  /**
   * Single-flight across the processes sharing the cache directory (store/flights.ts): the first
   * to fetch or revalidate a page leads; the others wait for it and then take the page it stored,
   * re-parsed and re-checked from the stored bytes (the same path as a restart), when it is
   * fresh; otherwise they fetch it themselves. A page that was not stored when this process
   * looked (`wasCold`) is looked for again once it leads: a leader lets go only after storing, so
   * the lock may be free because another process has just stored the page.
   */
  async #joinOtherProcesses(key: string, wasCold: boolean): Promise<{ flight?: Flight; adopted?: Entry }> {
    let flight: Flight
    try {
      flight = await this.deps.blobs.flight(`page\n${this.#recordNamespace}\n${key}`)
    } catch (error) {
      this.deps.logger.warn('lock_failed', { url: maskUrl(this.#url(key)), detail: describeError(error), effect: 'other processes may fetch this page too' })
      return {}
    }
    if (flight.isLeader && !wasCold) return { flight }
    if (!flight.isLeader) await flight.waitForLeader()
    const loaded = await this.#load(key)
    if (loaded.entry !== undefined && this.#isServable(loaded.entry, this.deps.clock.nowMs())) {
      await flight.release()
      return { adopted: loaded.entry }
    }
    return flight.isLeader ? { flight } : {}
  }

  /**
   * @param previous the last good copy, if any
   * @param knownSerial the highest serial seen for the page: the last good copy's, or the stored
   *   record's when the copy itself is gone
   */
  async #revalidate(key: string, previous: Entry | undefined, knownSerial: number | undefined): Promise<Resolved> {
    const url = this.#url(key)
    const fallBack = (reason: string, error: unknown): Resolved => {
      if (!this.#canFallBackTo(previous)) throw error
      this.deps.logger.warn('stale_served', { url: maskUrl(url), reason, detail: describeError(error) })
      return { entry: previous, cache: 'STALE', failure: error }
    }
    let fetched: PageStreamFetch
    let received: Received | undefined
    try {
      ;({ fetched, received } = await this.#fetch(key, url, previous))
    } catch (error) {
      if (error instanceof NotFoundError) {
        this.#notFound.set(key, negativeStaleAtMs(this.deps.clock.nowMs(), this.options.indexTtlSeconds))
        this.#memory.delete(key)
        throw error
      }
      this.deps.drops.recordRefusal(error, { what: 'page', url })
      return fallBack(errorCode(error), error)
    }
    const nowMs = this.deps.clock.nowMs()
    if (fetched.kind === 'not-modified') {
      if (!previous) throw new Error('upstream answered 304 to an unconditional request')
      const entry: Entry = {
        ...previous,
        fetchedAtMs: nowMs,
        staleAtMs: staleAtMs(nowMs, this.options.indexTtlSeconds),
        validUntilMs: fetched.validUntilMs ?? Infinity,
        trustGeneration: fetched.trustGeneration,
      }
      this.#memory.set(key, entry)
      await this.#persist(key, entry)
      return { entry, cache: 'HIT' }
    }
    if (!received) throw new Error(`the page source gave no bytes for ${maskUrl(url)}`)
    let parsed: Parsed
    const droppedLinks: LinkFormatError[] = []
    try {
      parsed =
        'download' in received
          ? { model: { meta: await received.download.end() }, rendered: new Map() }
          : this.#parse(key, { body: received.body, contentType: fetched.contentType, baseUrl: fetched.url, onDroppedLink: (error: LinkFormatError) => droppedLinks.push(error) })
      checkSerial(knownSerial, fetched.serial ?? parsed.model.meta.lastSerial)
    } catch (error) {
      if ('download' in received) await received.download.abort()
      if (!(error instanceof IndexFormatError || error instanceof StaleUpstreamError)) throw error
      this.deps.drops.recordRefusal(error, { what: key === INDEX_KEY ? 'index' : 'page', url })
      if (error instanceof IndexFormatError) {
        this.#malformed.set(key, { untilMs: negativeStaleAtMs(nowMs, this.options.indexTtlSeconds), error })
      }
      return fallBack(error.code, error)
    }
    for (const error of droppedLinks) this.deps.drops.recordRefusal(error, { what: 'link', url: fetched.url })
    // The list is committed only now, after the serial check: a refused list leaves nothing behind.
    const kept =
      'download' in received
        ? await received.download.commit(parsed.model.meta, () => this.#memory.delete(INDEX_KEY))
        : { renderings: parsed, body: { sha256: sha256Hex(received.body), size: received.body.byteLength } }
    const entry: Entry = {
      key,
      model: parsed.model,
      baseUrl: fetched.url,
      validators: fetched.validators,
      serial: fetched.serial ?? parsed.model.meta.lastSerial,
      bodySha256: kept.body.sha256,
      bodyBytes: kept.body.size,
      contentType: fetched.contentType,
      fetchedAtMs: nowMs,
      staleAtMs: staleAtMs(nowMs, this.options.indexTtlSeconds),
      validUntilMs: fetched.validUntilMs ?? Infinity,
      trustGeneration: fetched.trustGeneration,
      rendered: kept.renderings.rendered,
    }
    this.#memory.set(key, entry)
    try {
      if ('body' in received) await this.deps.blobs.putBytes(received.body)
      await this.#persist(key, entry)
    } catch (error) {
      // The page is good and in memory; losing the disk copy only costs a refetch after a restart.
      this.deps.logger.error('store_failed', { url: maskUrl(url), code: errorCode(error), detail: describeError(error) })
    }
    return { entry, cache: 'MISS' }
  }

  /**
   * The page from the source: a project page whole; the project list into a download that writes
   * it to disk as it arrives (project-list-intake.ts), undefined when not modified.
   */
  async #fetch(key: string, url: string, previous: Entry | undefined): Promise<{ fetched: PageStreamFetch; received: Received | undefined }> {
    if (key !== INDEX_KEY) {
      const fetched = await this.deps.source.fetch(url, previous?.validators)
      return { fetched, received: fetched.kind === 'page' ? { body: fetched.body } : undefined }
    }
    const list: { download?: ProjectListDownload } = {}
    try {
      const fetched = await this.deps.source.fetchInto(url, previous?.validators, (head) => (list.download = new ProjectListDownload(this.deps.blobs, { contentType: head.contentType, url })))
      return { fetched, received: list.download && { download: list.download } }
    } catch (error) {
      await list.download?.abort()
      throw error
    }
  }

  /**
   * A project page, parsed in one go and rendered on demand (the project list is rendered as it
   * arrives: project-list-intake.ts).
   * @param page.baseUrl where the bytes came from after redirects; relative links resolve against it
   * @param page.onDroppedLink told about each file link left out (absent when re-reading a stored page)
   */
  #parse(key: string, page: { body: Uint8Array; contentType: string; baseUrl: string } & PageParseOptions): Parsed {
    return { model: this.#checkProjectPage(key, parseProjectPageBytes(page.body, page.contentType, this.#url(key), page)), rendered: new Map() }
  }

  /** The page must be this project's, and each link must be one the proxy may offer. */
  #checkProjectPage(key: string, page: ProjectPage): ProjectPage {
    const url = this.#url(key)
    // A page that names another project must not be served for this one (a confused or hostile upstream).
    if (normalizeName(page.name) !== key) throw new IndexFormatError(`the page at ${maskUrl(url)} is for project ${JSON.stringify(page.name)}, not ${JSON.stringify(key)}`)
    // PEP 792: a quarantined project's files are not to be installed. The page (and its marker)
    // is served without them, so no file of it is resolved - cached ones included.
    if (isQuarantined(page) && page.files.length > 0) {
      this.deps.logger.warn('project_quarantined', { url: maskUrl(url), files: page.files.length, reason: page.status?.reason })
      return { ...page, files: [] }
    }
    const files = page.files.filter((file) => {
      if (isSafeFileName(file.filename) && this.options.isAllowedUrl(file.url)) return true
      this.deps.logger.warn('link_refused', { url: maskUrl(url), file: file.filename, link: maskUrl(file.url), reason: isSafeFileName(file.filename) ? 'host_not_allowed' : 'unsafe_file_name' })
      return false
    })
    return files.length === page.files.length ? page : { ...page, files }
  }

  async #persist(key: string, entry: Entry): Promise<void> {
    const record: PageRecord = {
      bodySha256: entry.bodySha256,
      contentType: entry.contentType,
      baseUrl: entry.baseUrl,
      etag: entry.validators.etag,
      lastModified: entry.validators.lastModified,
      serial: entry.serial,
      fetchedAtMs: entry.fetchedAtMs,
      list: key === INDEX_KEY ? listRecord(entry) : undefined,
    }
    try {
      await this.deps.records.put(this.#recordNamespace, key, record)
    } catch (error) {
      this.deps.logger.error('store_failed', { what: 'page record', code: errorCode(error), detail: describeError(error) })
    }
  }

  /**
   * The last good copy from disk, re-parsed from the stored upstream bytes (entry undefined when
   * unusable), and the serial on record, which still counts when the stored bytes are gone.
   */
  async #load(key: string): Promise<{ entry: Entry | undefined; serial: number | undefined }> {
    const record = asPageRecord(await this.deps.records.get(this.#recordNamespace, key).catch(() => undefined))
    if (!record) return { entry: undefined, serial: undefined }
    const serial = record.serial
    if (key === INDEX_KEY) {
      // PyPI's list takes seconds to render: reopen what was rendered, else render the stored
      // upstream bytes again as they are read (project-list-intake.ts).
      const onGone = () => this.#memory.delete(INDEX_KEY)
      const renderings =
        (record.list && reopenRenderings(this.deps.blobs, record.list, onGone)) ??
        (await renderStoredList(this.deps.blobs, record.bodySha256, { contentType: record.contentType, url: this.#url(key) }, onGone))
      if (!renderings) return { entry: undefined, serial }
      const entry = this.#entryFromRecord(key, record, { model: { meta: renderings.meta }, rendered: renderings.rendered }, this.deps.blobs.get(record.bodySha256)?.size ?? 0)
      this.#memory.set(key, entry)
      return { entry, serial }
    }
    const body = await this.deps.blobs.readBytes(record.bodySha256).catch(() => undefined)
    if (!body) return { entry: undefined, serial }
    const baseUrl = record.baseUrl ?? this.#url(key)
    try {
      const entry = this.#entryFromRecord(key, record, this.#parse(key, { body, contentType: record.contentType, baseUrl }), body.byteLength)
      this.#memory.set(key, entry)
      return { entry, serial }
    } catch {
      return { entry: undefined, serial }
    }
  }

  #entryFromRecord(key: string, record: PageRecord, parsed: Parsed, bodyBytes: number): Entry {
    return {
      key,
      model: parsed.model,
      baseUrl: record.baseUrl ?? this.#url(key),
      validators: { etag: record.etag, lastModified: record.lastModified },
      serial: record.serial,
      bodySha256: record.bodySha256,
      bodyBytes,
      contentType: record.contentType,
      fetchedAtMs: record.fetchedAtMs,
      staleAtMs: staleAtMs(record.fetchedAtMs, this.options.indexTtlSeconds),
      // Verifying mode: what vouched for it is not on record, so it is checked again before use.
      validUntilMs: this.options.trustGeneration ? 0 : Infinity,
      trustGeneration: undefined,
      rendered: parsed.rendered,
    }
  }

  #render(entry: Entry, format: SimpleFormat, cache: CacheStatus): RenderedPage {
    let rendered = entry.rendered.get(format)
    if (!rendered) {
      // Only project pages get here: the project list's map is filled when it is parsed.
      const body = Buffer.from(renderPage(proxied(entry.key, entry.model as ProjectPage), format), 'utf8')
      rendered = { body, etag: representationEtag(format, sha256Hex(body)) }
      entry.rendered.set(format, rendered)
    }
    rendered.answers ??= {}
    const known = rendered.answers[cache]
    if (known && known.serial === entry.serial) return known
    const answer: RenderedPage = { body: rendered.body, etag: rendered.etag, contentType: contentTypeOf(format), cache, serial: entry.serial }
    rendered.answers[cache] = answer
    return answer
  }

  /** Project pages (and the project list) recorded in the cache for this mode. */
  storedCount(): number {
    return this.deps.records.count(this.#recordNamespace)
  }

  #count(cache: CacheStatus): void {
    this.#counters[cache].inc()
  }
}

/**
 * A project page's upstream bytes parsed into the model, as JSON or HTML by their Content-Type.
 * @throws IndexFormatError
 */
export function parseProjectPageBytes(body: Uint8Array, contentType: string, url: string, options: PageParseOptions = {}): ProjectPage {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body)
  const isJson = /^application\/vnd\.pypi\.simple\.(v1|latest)\+json/i.test(contentType.trim())
  return isJson ? parseProjectPageJson(text, url, options) : parseProjectPageHtml(text, url, options)
}

/** PEP 792 `quarantined`: the index says the project's files must not be installed. */
export function isQuarantined(page: ProjectPage): boolean {
  return page.status?.status === 'quarantined'
}

/** Links point at the proxy's file route, relative to `/simple/<project>/`. */
function proxyFileHref(project: string, fileName: string): string {
  return `../../files/${project}/${encodeURIComponent(fileName)}`
}

export function proxied(project: string, page: ProjectPage): ProjectPage {
  return rewriteFileUrls(page, (file) => proxyFileHref(project, file.filename))
}

export function renderPage(page: ProjectPage, format: SimpleFormat): string {
  return format === 'json-v1' ? renderProjectPageJson(page) : renderProjectPageHtml(page)
}

/** Decodes a stored page record; undefined when it is not one. */
export function asPageRecord(value: unknown): PageRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  if (typeof record.bodySha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.bodySha256)) return undefined
  if (typeof record.contentType !== 'string' || typeof record.fetchedAtMs !== 'number') return undefined
  const optionalString = (v: unknown) => (typeof v === 'string' ? v : undefined)
  return {
    bodySha256: record.bodySha256,
    contentType: record.contentType,
    baseUrl: optionalString(record.baseUrl),
    etag: optionalString(record.etag),
    lastModified: optionalString(record.lastModified),
    serial: typeof record.serial === 'number' ? record.serial : undefined,
    fetchedAtMs: record.fetchedAtMs,
    list: asStoredRenderings(record.list),
  }
}

function listRecord(entry: Entry): StoredRenderings | undefined {
  const refs = storedRenderingsOf(entry.rendered)
  return refs && { meta: entry.model.meta, ...refs }
}

/** A record's `list`, or undefined when absent or not well formed (then the list is parsed again). */
function asStoredRenderings(value: unknown): StoredRenderings | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const list = value as Record<string, unknown>
  const ref = (v: unknown) => {
    if (typeof v !== 'object' || v === null) return undefined
    const { sha256, size } = v as Record<string, unknown>
    return typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? { sha256, size } : undefined
  }
  const html = ref(list.html)
  const json = ref(list.json)
  const meta = list.meta as Record<string, unknown> | null
  if (!html || !json || typeof meta !== 'object' || meta === null || typeof meta.apiVersion !== 'string') return undefined
  const lastSerial = typeof meta.lastSerial === 'number' ? meta.lastSerial : undefined
  const extra = typeof meta.extra === 'object' && meta.extra !== null ? (meta.extra as Record<string, unknown>) : undefined
  return { html, json, meta: { apiVersion: meta.apiVersion, lastSerial, ...(extra ? { extra } : {}) } }
}
