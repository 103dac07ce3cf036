/**
 * `tuf-proxy mirror --from-cache DIR`: everything a tuf-proxy cache directory holds, as a normal
 * bundle, re-verified on the way out. Each stored page is read back from its blob, checked
 * against the digest its record names and parsed again; its bytes go into the bundle unchanged
 * (they are the upstream's, as the proxy stored them). Each cached file a page lists is streamed
 * from its blob through the page's digests and size (and, from a verifying-mode cache, the TUF
 * target the cache's verified metadata lists) before it gets its name in the bundle. A blob that
 * no longer matches is refused and named, never copied.
 *
 * The cache may be in use by a running proxy: the caller opens its stores without sweeping temp
 * files, and nothing here writes to the cache or counts a use of a blob (`peek`, `openBlob`).
 * A page whose body was evicted, or a file the cache does not hold, is simply not part of it.
 */
import { join } from 'node:path'
import { describeError, errorCode, hasStrongHash, IntegrityError, ProxyError, type Clock } from '../base/index.js'
import { cachedFileSha256, isSafeFileName, listCachedPages, type CachedPageRecord, type TufLayout } from '../mirror/index.js'
import type { BlobInfo, BlobStore, RecordStore } from '../store/index.js'
import type { TrustLimits } from '../trust/index.js'
import { BundleDir } from './bundle-dir.js'
import { pagePath, type ManifestEntry, type ManifestTuf, type Selection } from './manifest.js'
import { finishBundle, metadataJob, pageEntry, parsePage, vouchFor, type FileJob, type MakeEvent, type MakeResult } from './make.js'
import { pickFiles, type TagFilter } from './select.js'
import { TufVouch } from './tuf-vouch.js'
import { checkFile, createByteCheck } from './verify-bytes.js'

export interface FromCacheOptions {
  readonly out: string
  readonly toolVersion: string
  readonly selection: Selection
  readonly tags: TagFilter
  /** verifying mode: the index URL the TUF layout maps pages from; otherwise the one the cached pages were fetched from is used */
  readonly upstreamUrl: string | undefined
  /** the manifest's `upstream` when the cache holds no page to learn it from */
  readonly fallbackUpstreamUrl: string
  readonly since?: ReadonlyMap<string, string>
  readonly tuf?: ManifestTuf
  readonly now: () => Date
}

export interface FromCacheDeps {
  readonly blobs: BlobStore
  readonly records: RecordStore
  /** a verifying-mode cache: its verified metadata (see openCacheTuf), which every page and file is looked up in */
  readonly tuf?: TufVouch
  readonly onEvent: (event: MakeEvent) => void
}

/** PEP 691 §Content types, as SimplePages stored the page's. */
const JSON_PAGE = /^application\/vnd\.pypi\.simple\.(v1|latest)\+json/i
const READ_CHUNK_BYTES = 1024 * 1024
/** Every file of a page, whatever its version: only what the cache holds is taken. */
const EVERYTHING = { specifierSets: [[]], pins: [], locked: [] }

/** The cache's blob does not hash to its address: its bytes changed on disk since the proxy verified them. */
class CachedBlobMismatch extends IntegrityError {}

/** @throws StoreError; whatever the bundle directory's writes throw. A refused item is reported, not thrown. */
export async function makeBundleFromCache(options: FromCacheOptions, deps: FromCacheDeps): Promise<MakeResult> {
  const bundle = await BundleDir.open(options.out)
  const since = options.since ?? new Map<string, string>()
  const entries: ManifestEntry[] = []
  const refused: Array<{ what: string; code: string; detail: string }> = []
  const refuse = (what: string, code: string, detail: string) => {
    refused.push({ what, code, detail })
    deps.onEvent({ event: 'refused', what, code, detail })
  }
  const hashOnly = await listCachedPages(deps.records, 'hashOnly')
  const verifying = await listCachedPages(deps.records, 'verifying')
  const cached = [...(deps.tuf ? verifying : hashOnly)]
  const taken = new Set(cached.map((page) => page.project))
  for (const page of deps.tuf ? hashOnly : verifying) {
    if (taken.has(page.project)) continue
    // An imported verifying-mode cache keeps its pages in the hash-only namespace: each is checked against its TUF target below all the same.
    if (deps.tuf) cached.push(page)
    else refuse(`page ${page.project}`, 'tuf_root_required', 'the cache verified this page with TUF: give the TUF flags (--tuf-root FILE --tuf-metadata-url URL --tuf-targets-url URL), so the bundle carries the metadata that vouches for it')
  }
  cached.sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0))
  const upstreamUrl = options.upstreamUrl ?? commonUpstream(cached) ?? options.fallbackUpstreamUrl

  const jobs: Array<{ job: FileJob; sha256: string }> = []
  const pageEntries = new Map<string, ManifestEntry>()
  for (const record of cached) {
    const url = new URL(`${record.project}/`, upstreamUrl).href
    const page = await loadCachedPage(record, url, { blobs: deps.blobs, tuf: deps.tuf }).catch((error: unknown) => {
      refuse(`page ${record.project}`, errorCode(error), describeError(error))
      return undefined
    })
    if (!page) continue
    await bundle.writeAtomic(page.entry.path, page.body)
    pageEntries.set(record.project, page.entry)
    const { picked } = pickFiles(page.files.filter((file) => isSafeFileName(file.filename)), EVERYTHING, options.tags)
    for (const { file } of picked) {
      const fileJob: FileJob = { kind: 'file', project: record.project, name: file.filename, url: file.url, hashes: file.hashes, size: file.size, requiredHashes: new Map() }
      for (const job of [fileJob, metadataJob(record.project, file)]) {
        if (!job) continue
        const held = await heldBlob(job, deps).catch((error: unknown) => {
          refuse(`${job.kind} ${job.project}/${job.name}`, errorCode(error), describeError(error))
          return undefined
        })
        if (held) jobs.push(held)
      }
    }
  }
  deps.onEvent({ event: 'planned', files: jobs.length, bytes: jobs.reduce((sum, { sha256 }) => sum + (deps.blobs.peek(sha256)?.size ?? 0), 0) })

  // A blob listed twice (the same file under two names) is copied once.
  const copies = new Map<string, Promise<{ size: number; status: 'fetched' | 'present' } | undefined>>()
  const projectsWithNewItems = new Set<string>()
  for (const { job, sha256 } of jobs) {
    const path = `files/${sha256}`
    if (since.get(path) === sha256) {
      deps.onEvent({ event: 'item', status: 'in_older_bundle', entry: { kind: job.kind, project: job.project, name: job.name, size: deps.blobs.peek(sha256)?.size ?? 0, sha256, path } })
      continue
    }
    let copy = copies.get(sha256)
    if (!copy) {
      copy = copyBlob(job, sha256, { bundle, blobs: deps.blobs, onBytes: (bytes) => deps.onEvent({ event: 'progress', bytes }) }).catch((error: unknown) => {
        refuse(`${job.kind} ${job.project}/${job.name}`, errorCode(error), describeError(error))
        return undefined
      })
      copies.set(sha256, copy)
    }
    const copied = await copy
    if (!copied) continue
    const entry: ManifestEntry = { kind: job.kind, project: job.project, name: job.name, size: copied.size, sha256, path }
    entries.push(entry)
    projectsWithNewItems.add(job.project)
    deps.onEvent({ event: 'item', status: copied.status, entry })
  }

  for (const [project, entry] of pageEntries) {
    // --since, as for a bundle from the upstream: a page the older bundle has byte for byte is left out unless a file of it is new.
    if (since.get(entry.path) === entry.sha256 && !projectsWithNewItems.has(project)) {
      await bundle.remove(entry.path)
      deps.onEvent({ event: 'item', status: 'in_older_bundle', entry })
      continue
    }
    entries.push(entry)
    deps.onEvent({ event: 'item', status: 'present', entry })
  }
  // The TUF metadata is the cache's own, already held.
  return { manifest: await finishBundle(bundle, entries, upstreamUrl, options, deps, 'present'), refused }
}

/**
 * The index URL most cached pages were served from (`<upstream><project>/`); a bundle has one,
 * and a page served from elsewhere is refused by loadCachedPage.
 */
function commonUpstream(pages: readonly CachedPageRecord[]): string | undefined {
  const counts = new Map<string, number>()
  for (const page of pages) {
    const suffix = `${page.project}/`
    if (page.baseUrl?.endsWith(suffix)) {
      const base = page.baseUrl.slice(0, -suffix.length)
      counts.set(base, (counts.get(base) ?? 0) + 1)
    }
  }
  let best: string | undefined
  for (const [base, count] of counts) if (best === undefined || count > (counts.get(best) ?? 0)) best = base
  return best
}

/**
 * A stored page, checked against its record's digest (and its TUF target) and parsed again.
 * @throws CachedBlobMismatch; IntegrityError or TrustError (verifying mode); IndexFormatError, PageRefusedError
 */
async function loadCachedPage(record: CachedPageRecord, url: string, context: { blobs: BlobStore; tuf: TufVouch | undefined }) {
  // Relative links resolve against where the bytes came from; import resolves them against <upstream><project>/.
  if (record.baseUrl !== undefined && record.baseUrl !== url) throw new PageFromElsewhereError(`the cache holds the page of ${record.project} as served from ${record.baseUrl}, not ${url}: its relative links would resolve elsewhere on import`)
  const info = context.blobs.peek(record.bodySha256)
  // Evicted: only the record (and its serial) remains, so the cache does not hold the page.
  if (!info) return undefined
  const body = await readBlob(context.blobs, info)
  if (context.tuf) {
    // TUF 5.7.3: the page is the bytes of its verified target.
    const target = await context.tuf.page(url)
    const check = createByteCheck({ hashes: target.hashes, expectedSize: target.length })
    check.update(body)
    check.finish()
  }
  const isJson = JSON_PAGE.test(record.contentType.trim())
  const model = parsePage(record.project, body, isJson, url)
  return { body, files: model.files, entry: pageEntry(record.project, pagePath(record.project, isJson), body) }
}

/** A page served from another URL than `<upstream><project>/` (a redirect, or another upstream). */
class PageFromElsewhereError extends ProxyError {
  readonly code = 'page_refused'
  readonly fault = 'bad_upstream_data'
}

/**
 * The job with its evidence (joined with its TUF target in a verifying-mode cache of the `paths`
 * layout) and the blob the cache holds for it; undefined when the cache does not hold it.
 * @throws IntegrityError, TrustError when the file's page and its target disagree or no trusted role lists it
 */
async function heldBlob(job: FileJob, deps: FromCacheDeps): Promise<{ job: FileJob; sha256: string } | undefined> {
  const listed = job.hashes.sha256?.toLowerCase()
  // Cheap test first, so a file the cache never fetched is not looked up in the TUF metadata.
  if (listed !== undefined && !deps.blobs.has(listed)) return undefined
  const vouched = await vouchFor(job, deps.tuf)
  const sha256 = vouched.hashes.sha256?.toLowerCase() ?? (await cachedFileSha256(deps.records, vouched.url))
  return sha256 !== undefined && deps.blobs.has(sha256) ? { job: vouched, sha256 } : undefined
}

/**
 * Streams the cached blob into the bundle through every digest known for it (and its address).
 * @throws IntegrityError (CachedBlobMismatch when the blob no longer hashes to its address)
 */
async function copyBlob(job: FileJob, sha256: string, context: { bundle: BundleDir; blobs: BlobStore; onBytes: (bytes: number) => void }): Promise<{ size: number; status: 'fetched' | 'present' }> {
  if (!hasStrongHash(job.hashes)) throw new IntegrityError('no_strong_hash', `the page lists no strong hash for ${job.name}; a bundle takes only files it can verify`)
  const evidence = { hashes: job.hashes, expectedSize: job.size }
  const path = `files/${sha256}`
  if (await context.bundle.has(path)) {
    // Kept from an interrupted run: taken again only if it still verifies.
    const check = createByteCheck(evidence)
    const actual = await checkFile(join(context.bundle.root, path), check).catch((error: unknown) => {
      if (error instanceof IntegrityError) return undefined
      throw error
    })
    if (actual === sha256) return { size: check.receivedBytes, status: 'present' }
    await context.bundle.remove(path)
  }
  const info = context.blobs.peek(sha256)
  const reader = info && (await context.blobs.openBlob(info))
  if (!info || !reader) throw new CachedBlobMismatch('length_mismatch', `the cached blob ${sha256} of ${job.name} vanished while it was read (evicted by a running proxy?)`)
  const temp = await context.bundle.createTemp('files')
  try {
    const check = createByteCheck(evidence)
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
    for (let position = 0, read = -1; read !== 0; position += read) {
      read = await reader.read(buffer, position, buffer.byteLength)
      if (read === 0) break
      const chunk = buffer.subarray(0, read)
      check.update(chunk)
      await temp.write(chunk)
      context.onBytes(read)
    }
    let actual: string
    try {
      actual = check.finish()
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error
      throw new CachedBlobMismatch(error.code === 'length_mismatch' ? 'length_mismatch' : 'hash_mismatch', `the cached blob ${sha256} of ${job.name} no longer matches what its page lists (${error.message}); it was not copied. Run 'tuf-proxy cache verify --repair' on the cache`)
    }
    if (actual !== sha256) throw new CachedBlobMismatch('hash_mismatch', `the cached blob ${sha256} of ${job.name} hashes to ${actual}; it was not copied. Run 'tuf-proxy cache verify --repair' on the cache`)
    await temp.commit(path)
    return { size: check.receivedBytes, status: 'fetched' }
  } catch (error) {
    await temp.abort()
    throw error
  } finally {
    await reader.close()
  }
}

/**
 * A whole (small) blob, checked against its address.
 * @throws CachedBlobMismatch when its bytes no longer hash to it or it vanished
 */
async function readBlob(blobs: BlobStore, info: BlobInfo): Promise<Uint8Array> {
  const reader = await blobs.openBlob(info)
  if (!reader) throw new CachedBlobMismatch('length_mismatch', `the cached blob ${info.sha256} vanished while it was read (evicted by a running proxy?)`)
  // One byte more than recorded, so a blob that grew is caught too.
  const bytes = Buffer.allocUnsafe(info.size + 1)
  let length = 0
  try {
    for (let read = -1; read !== 0 && length < bytes.byteLength; length += read) read = await reader.read(bytes.subarray(length), length, bytes.byteLength - length)
  } finally {
    await reader.close()
  }
  const body = bytes.subarray(0, length)
  const check = createByteCheck({ hashes: { sha256: info.sha256 }, expectedSize: info.size })
  check.update(body)
  try {
    check.finish()
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error
    throw new CachedBlobMismatch(error.code === 'length_mismatch' ? 'length_mismatch' : 'hash_mismatch', `the cached blob ${info.sha256} no longer matches its digest (${error.message}); it was not copied. Run 'tuf-proxy cache verify --repair' on the cache`)
  }
  return body
}

/** A name the session asked for that the cache's trust state does not hold. */
class NotInCacheError extends ProxyError {
  readonly code = 'tuf_metadata_missing'
  readonly fault = 'storage'
  constructor(readonly metadataName: string) {
    super(`the cache's TUF state has no ${metadataName}`)
  }
}

const CACHE_METADATA_BASE = 'cache:/tuf/metadata/'
const ROOT_NAME = /^\d+\.root\.json$/

/**
 * A verifying-mode cache's verified metadata as a TUF session (TUF 5.3-5.6 run again over what
 * the cache stored, from `trustedRoot`): the cache's own judgement is not taken on trust, and
 * what verifies is what the bundle carries under `tuf/`.
 * @throws TrustError when the stored metadata must be refused (expired included); NotInCacheError
 */
export async function openCacheTuf(options: {
  readonly read: (name: string) => Promise<Uint8Array | undefined>
  readonly trustedRoot: Uint8Array
  readonly layout: TufLayout
  readonly clock: Clock
  readonly limits: Partial<TrustLimits>
}): Promise<TufVouch> {
  return TufVouch.open({
    metadataBaseUrl: CACHE_METADATA_BASE,
    layout: options.layout,
    trustedRoot: options.trustedRoot,
    clock: options.clock,
    limits: options.limits,
    fetch: async (url) => {
      const name = url.slice(CACHE_METADATA_BASE.length)
      // The store keeps the set by plain name; a consistent-snapshot name's version is checked by the engine (TUF 5.5.4, 5.6.4).
      const body = ROOT_NAME.test(name) ? await options.read(name) : await options.read(name.replace(/^\d+\./, ''))
      if (!body) throw new NotInCacheError(name)
      return body
    },
    // TUF 5.3.3: the root chain ends at the first N.root.json the cache does not hold.
    isNotFound: (error) => error instanceof NotInCacheError && ROOT_NAME.test(error.metadataName),
  })
}
