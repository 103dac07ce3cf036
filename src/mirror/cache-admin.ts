/**
 * What an operator can see and do to the cache as a whole: list the cached projects with their
 * pages and files, purge one project, and re-hash every blob. Shared by the admin API (on the
 * running proxy's stores, with its in-memory pages) and `tuf-proxy cache` (on a cache directory).
 *
 * The store is content-addressed and knows no projects: a project's pages are found through the
 * page records (keyed by normalized name) of every page space (the single upstream's `page` and
 * `tuf-page`, and with `sources:` each remote index's `source-<name>`), and its files through the
 * file entries of its stored or in-memory pages, by SHA-256 or, for a link without one, through
 * the file record of its URL. With sources, the owning source comes from the `owner` records; a
 * purge keeps it unless asked to forget it. Nothing here counts as a use of a blob, so listing or
 * verifying leaves the LRU order alone.
 *
 * Deliberately not here: deciding freshness (a purge removes, the next request fetches), and a
 * download running while its project is purged, which commits when it ends (the file is then
 * cached again, verified as always).
 */
import { createHasher, type Logger } from '../base/index.js'
import type { ProjectFile, ProjectPage } from '../index/index.js'
import type { BlobInfo, BlobStore, RecordStore } from '../store/index.js'
import { asFileRecord, FILE_RECORD_NAMESPACE } from './files.js'
import { asPageRecord, PAGE_RECORD_NAMESPACES, parseProjectPageBytes, type PageRecord, type SimplePages } from './simple-pages.js'
import { sourceOfPageNamespace } from './sources/index-source.js'
import { OWNER_RECORD_NAMESPACE, OwnershipRecords } from './sources/ownership.js'

/** A records namespace that holds project pages, and the running proxy's pages kept there. */
export interface PageSpace {
  readonly namespace: string
  /** the running proxy's pages in it, whose memory a purge must clear; absent on a cache directory */
  readonly pages?: SimplePages
}

export interface CachedPage {
  /** the records namespace: `page` (hash-only mode), `tuf-page` (verifying mode) or `source-<name>` */
  readonly kind: string
  /** with `sources:`, the source whose page it is */
  readonly source: string | undefined
  readonly sha256: string
  /** undefined when the page's bytes were evicted (only its record, and its serial, remain) */
  readonly bytes: number | undefined
  readonly serial: number | undefined
  readonly fetchedAtMs: number
  readonly lastUsedMs: number | undefined
}

export interface CachedFile {
  readonly filename: string
  readonly sha256: string
  readonly bytes: number
  readonly lastUsedMs: number
}

export interface CachedProject {
  readonly project: string
  /** with `sources:` (or `policy:`), the source recorded as the project's owner */
  readonly owner: string | undefined
  readonly pages: readonly CachedPage[]
  readonly files: readonly CachedFile[]
  /** the stored bytes of its pages and files */
  readonly bytes: number
  readonly lastUsedMs: number | undefined
}

export interface CacheListing {
  readonly blobs: { readonly count: number; readonly bytes: number; readonly maxBytes: number }
  readonly projects: readonly CachedProject[]
}

export interface PurgeResult {
  readonly project: string
  readonly pages: number
  readonly files: number
  readonly bytes: number
  /** with `forgetOwner`, the owner forgotten (absent when none was recorded) */
  readonly ownerForgotten?: string
}

export type BlobVerdict =
  | { readonly sha256: string; readonly size: number; readonly isIntact: true }
  | {
      readonly sha256: string
      readonly size: number
      readonly isIntact: false
      /** `digest_mismatch`: the bytes hash to another address; `unreadable`: the file vanished or cannot be read */
      readonly reason: 'digest_mismatch' | 'unreadable'
      readonly actualSha256: string | undefined
      /** with `repair`: the blob and the records that pointed at it were removed */
      readonly isRemoved: boolean
      readonly recordsRemoved: number
    }

export interface CacheAdminDeps {
  readonly blobs: BlobStore
  readonly records: RecordStore
  /** where project pages are recorded (pageSpacesOf() gives every one a cache directory holds) */
  readonly pageSpaces: readonly PageSpace[]
  /** the running proxy's ownership records (their memory too); else they are read from the store */
  readonly ownership?: OwnershipRecords
  /** the running proxy's source router, whose filtered pages a purge must clear */
  readonly router?: { forget(project: string): void }
  readonly logger: Logger
}

/**
 * The page spaces of a cache directory: the single upstream's two, and one per `source-<name>`
 * namespace found there, with `pages` where the running proxy has them.
 * @param namespaces the records namespaces present (the directories under records/)
 */
export function pageSpacesOf(namespaces: readonly string[], running: ReadonlyMap<string, SimplePages> = new Map()): PageSpace[] {
  const found = new Set<string>([...Object.values(PAGE_RECORD_NAMESPACES), ...namespaces.filter((namespace) => sourceOfPageNamespace(namespace) !== undefined), ...running.keys()])
  return [...found].map((namespace) => {
    const pages = running.get(namespace)
    return pages ? { namespace, pages } : { namespace }
  })
}


const DIGEST = /^[0-9a-f]{64}$/
/** PEP 658: the core metadata of `<file>` is at `<file>.metadata`. */
const METADATA_SUFFIX = '.metadata'
const READ_CHUNK_BYTES = 1024 * 1024

/** A file of a project as the cache may hold it: its blob's digest when known, and the URL its file record is keyed by. */
interface FileSlot {
  readonly filename: string
  readonly sha256: string | undefined
  readonly url: string
}

export class CacheAdmin {
  readonly #ownership: OwnershipRecords

  constructor(private readonly deps: CacheAdminDeps) {
    this.#ownership = deps.ownership ?? new OwnershipRecords({ records: deps.records, logger: deps.logger })
  }

  /** Every project with a stored page record or a recorded owner, with what the cache holds of it. @throws {StoreError} */
  async list(): Promise<CacheListing> {
    const projects: CachedProject[] = []
    for (const project of await this.#projectNames()) {
      const found = await this.project(project)
      if (found) projects.push(found)
    }
    const { blobs } = this.deps
    return { blobs: { count: blobs.count, bytes: blobs.totalBytes, maxBytes: blobs.maxBytes }, projects }
  }

  /** What the cache holds of one project; undefined when nothing. @param project a PEP 503 normalized name */
  async project(project: string): Promise<CachedProject | undefined> {
    const { pages, slots } = await this.#collect(project)
    const files: CachedFile[] = []
    for (const slot of slots) {
      const sha256 = slot.sha256 ?? (await this.#recordedSha256(slot.url))
      const info = sha256 === undefined ? undefined : this.deps.blobs.peek(sha256)
      if (info) files.push({ filename: slot.filename, sha256: info.sha256, bytes: info.size, lastUsedMs: info.lastUsedMs })
    }
    const owner = (await this.#ownership.get(project))?.source
    if (pages.length === 0 && files.length === 0 && owner === undefined) return undefined
    const bytes = [...pages.map((page) => page.bytes ?? 0), ...files.map((file) => file.bytes)].reduce((sum, size) => sum + size, 0)
    const uses = [...pages.map((page) => page.lastUsedMs), ...files.map((file) => file.lastUsedMs)].filter((ms) => ms !== undefined)
    return { project, owner, pages, files, bytes, lastUsedMs: uses.length === 0 ? undefined : Math.max(...uses) }
  }

  /**
   * Removes a project's pages (in every page space) and files from the store, their records, and
   * what memory holds of its pages: the next request fetches and verifies everything again. A
   * blob or file record that another project's page lists too is left: the store is
   * content-addressed, and the digests a page lists are the upstream's to choose, so an untrusted
   * page could otherwise name another project's files (or an imported one an offline mirror
   * cannot fetch again) for deletion. The owning source is kept (a purge must not reopen a private
   * name to a public index) unless `forgetOwner`: then the next request asks the sources again in
   * order, which is how an operator moves a project to another source after a collision.
   * @param project a PEP 503 normalized name
   * @throws {StoreError}
   */
  async purge(project: string, options: { readonly forgetOwner?: boolean } = {}): Promise<PurgeResult> {
    const { pages, slots } = await this.#collect(project)
    const others = await this.#listedByOthers(project)
    let bytes = 0
    let files = 0
    const removeBlob = async (sha256: string): Promise<boolean> => {
      if (others.digests.has(sha256)) return false
      const info = this.deps.blobs.peek(sha256)
      if (!info) return false
      await this.deps.blobs.delete(sha256)
      bytes += info.size
      return true
    }
    for (const slot of slots) {
      const recorded = await this.#recordedSha256(slot.url)
      let isRemoved = false
      for (const sha256 of new Set([slot.sha256, recorded])) if (sha256 !== undefined && (await removeBlob(sha256))) isRemoved = true
      if (recorded !== undefined && !others.urls.has(slot.url)) await this.deps.records.delete(FILE_RECORD_NAMESPACE, slot.url)
      if (isRemoved) files += 1
    }
    for (const page of pages) {
      await removeBlob(page.sha256)
      await this.deps.records.delete(page.kind, project)
    }
    for (const space of this.deps.pageSpaces) space.pages?.forget(project)
    this.deps.router?.forget(project)
    const forgotten = options.forgetOwner ? (await this.#ownership.forget(project))?.source : undefined
    this.deps.logger.info('cache_purged', { project, pages: pages.length, files, bytes, ownerForgotten: forgotten })
    return { project, pages: pages.length, files, bytes, ...(forgotten !== undefined ? { ownerForgotten: forgotten } : {}) }
  }

  /**
   * Re-hashes every blob and checks it against its address. With `repair`, a blob that fails is
   * removed with the page and file records that point at it, so it is fetched and verified again.
   * @throws {StoreError} when the records cannot be listed
   */
  async *verify(options: { readonly repair: boolean }): AsyncGenerator<BlobVerdict> {
    for (const blob of this.deps.blobs.entries()) {
      const actualSha256 = await this.#hash(blob)
      if (actualSha256 === blob.sha256) {
        yield { sha256: blob.sha256, size: blob.size, isIntact: true }
        continue
      }
      const reason = actualSha256 === undefined ? 'unreadable' : 'digest_mismatch'
      let recordsRemoved = 0
      if (options.repair) {
        await this.deps.blobs.delete(blob.sha256)
        recordsRemoved = await this.#deleteRecordsOf(blob.sha256)
        this.deps.logger.warn('cache_blob_removed', { sha256: blob.sha256, reason, records: recordsRemoved })
      }
      yield { sha256: blob.sha256, size: blob.size, isIntact: false, reason, actualSha256, isRemoved: options.repair, recordsRemoved }
    }
  }

  /** Every project with a stored page record, sorted. */
  /** Every project with a page record in some page space, or a recorded owner. */
  async #projectNames(): Promise<string[]> {
    const names = new Set<string>()
    for (const { namespace } of this.deps.pageSpaces) {
      // '' is the project list's record, not a project.
      for (const { key } of await this.deps.records.list(namespace)) if (key !== '') names.add(key)
    }
    for (const { key } of await this.deps.records.list(OWNER_RECORD_NAMESPACE)) names.add(key)
    return [...names].sort()
  }

  /** The blobs (page bodies, listed and recorded files) and file URLs of every project but `project`. */
  async #listedByOthers(project: string): Promise<{ digests: Set<string>; urls: Set<string> }> {
    const digests = new Set<string>()
    const urls = new Set<string>()
    for (const other of await this.#projectNames()) {
      if (other === project) continue
      const { pages, slots } = await this.#collect(other)
      for (const page of pages) digests.add(page.sha256)
      for (const slot of slots) {
        urls.add(slot.url)
        for (const sha256 of [slot.sha256, await this.#recordedSha256(slot.url)]) if (sha256 !== undefined) digests.add(sha256)
      }
    }
    return { digests, urls }
  }

  /** The project's page records (with their bodies' state) and the files its pages list. */
  async #collect(project: string): Promise<{ pages: CachedPage[]; slots: FileSlot[] }> {
    const pages: CachedPage[] = []
    const listed: ProjectPage[] = []
    for (const { namespace: kind, pages: running } of this.deps.pageSpaces) {
      const inMemory = running?.cachedPage(project)
      if (inMemory) listed.push(inMemory)
      const record = asPageRecord(await this.deps.records.get(kind, project))
      if (!record) continue
      const info = this.deps.blobs.peek(record.bodySha256)
      pages.push({ kind, source: sourceOfPageNamespace(kind), sha256: record.bodySha256, bytes: info?.size, serial: record.serial, fetchedAtMs: record.fetchedAtMs, lastUsedMs: info?.lastUsedMs })
      const page = info && (await this.#parseStored(record, info))
      if (page) listed.push(page)
    }
    const slots = new Map<string, FileSlot>()
    for (const page of listed) {
      for (const file of page.files) {
        const key = `${file.filename}\n${file.url}`
        if (!slots.has(key)) slots.set(key, slotOf(file.filename, file.url, file.hashes))
        if (file.coreMetadata !== false) {
          const metadataUrl = `${file.url}${METADATA_SUFFIX}`
          const metadataKey = `${file.filename}${METADATA_SUFFIX}\n${metadataUrl}`
          if (!slots.has(metadataKey)) slots.set(metadataKey, slotOf(`${file.filename}${METADATA_SUFFIX}`, metadataUrl, metadataHashes(file)))
        }
      }
    }
    return { pages, slots: [...slots.values()] }
  }

  /** A stored page re-read (without counting a use) and parsed; undefined when unreadable or corrupt. */
  async #parseStored(record: PageRecord, info: BlobInfo): Promise<ProjectPage | undefined> {
    const body = await this.#read(info)
    if (!body) return undefined
    try {
      return parseProjectPageBytes(body, record.contentType, record.baseUrl ?? 'http://invalid/', record.baseUrl === undefined ? {} : { baseUrl: record.baseUrl })
    } catch {
      return undefined
    }
  }

  async #recordedSha256(url: string): Promise<string | undefined> {
    const record = asFileRecord(await this.deps.records.get(FILE_RECORD_NAMESPACE, url))
    return record && DIGEST.test(record.sha256) ? record.sha256 : undefined
  }

  /** The whole blob when its bytes match its address, else undefined. */
  async #read(info: BlobInfo): Promise<Uint8Array | undefined> {
    const reader = await this.deps.blobs.openBlob(info)
    if (!reader) return undefined
    try {
      const bytes = Buffer.allocUnsafe(info.size)
      let length = 0
      for (let read = -1; read !== 0 && length < info.size; length += read) read = await reader.read(bytes.subarray(length), length, info.size - length)
      const body = bytes.subarray(0, length)
      const hasher = createHasher('sha256')
      hasher.update(body)
      return length === info.size && hasher.digestHex() === info.sha256 ? body : undefined
    } finally {
      await reader.close()
    }
  }

  /** SHA-256 of the blob's bytes, read a chunk at a time; undefined when it cannot be read. */
  async #hash(blob: BlobInfo): Promise<string | undefined> {
    let reader
    try {
      reader = await this.deps.blobs.openBlob(blob)
    } catch {
      return undefined
    }
    if (!reader) return undefined
    const hasher = createHasher('sha256')
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
    try {
      for (let position = 0, read = -1; read !== 0; position += read) {
        read = await reader.read(buffer, position, buffer.byteLength)
        if (read > 0) hasher.update(buffer.subarray(0, read))
      }
      return hasher.digestHex()
    } catch {
      return undefined
    } finally {
      await reader.close()
    }
  }

  /** Deletes the page and file records whose bytes are this blob. */
  async #deleteRecordsOf(sha256: string): Promise<number> {
    let removed = 0
    for (const { namespace } of this.deps.pageSpaces) {
      for (const { key, value } of await this.deps.records.list(namespace)) {
        if (asPageRecord(value)?.bodySha256 !== sha256) continue
        await this.deps.records.delete(namespace, key)
        removed += 1
      }
    }
    for (const { key, value } of await this.deps.records.list(FILE_RECORD_NAMESPACE)) {
      if (asFileRecord(value)?.sha256 !== sha256) continue
      await this.deps.records.delete(FILE_RECORD_NAMESPACE, key)
      removed += 1
    }
    return removed
  }
}

function slotOf(filename: string, url: string, hashes: Readonly<Record<string, string>>): FileSlot {
  const sha256 = hashes.sha256?.toLowerCase()
  return { filename, url, sha256: sha256 !== undefined && DIGEST.test(sha256) ? sha256 : undefined }
}

/** PEP 714: `core-metadata: true` promises the file without its hashes. */
function metadataHashes(file: ProjectFile): Readonly<Record<string, string>> {
  return typeof file.coreMetadata === 'object' ? file.coreMetadata : {}
}

/** A cached project as the admin API and `tuf-proxy cache list --json` report it: times as ISO 8601. */
export function projectReport(project: CachedProject): Record<string, unknown> {
  return {
    project: project.project,
    owner: project.owner ?? null,
    bytes: project.bytes,
    lastUsed: isoOrNull(project.lastUsedMs),
    pages: project.pages.map((page) => ({
      kind: page.kind,
      source: page.source ?? null,
      sha256: page.sha256,
      bytes: page.bytes ?? null,
      serial: page.serial ?? null,
      fetchedAt: isoOrNull(page.fetchedAtMs),
      lastUsed: isoOrNull(page.lastUsedMs),
    })),
    files: project.files.map((file) => ({ filename: file.filename, sha256: file.sha256, bytes: file.bytes, lastUsed: isoOrNull(file.lastUsedMs) })),
  }
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
}
