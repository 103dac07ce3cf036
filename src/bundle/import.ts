/**
 * `tuf-proxy import`: verifies every byte of a bundle and only then makes it servable from a
 * cache directory. In order: the manifest is decoded; every path in the bundle must be listed
 * (no extra file) and every listed item present; pages are checked against their entries and
 * parsed; each file is streamed once into the blob store while it is checked against its manifest
 * entry and against the digests its page lists for it. Blobs are content-addressed and reachable
 * only through page records, so committing a verified blob makes nothing servable; the page and
 * file records are written last, and only when nothing was refused (or with `partial`, for what
 * verified). A refused import removes the blobs it added. Blobs may be written without a sync
 * each (the store's `fsync: false`): one `syncBlobs` pass makes them all durable before the TUF
 * state and the records that point at them are written.
 */
import { describeError, IntegrityError, ProxyError, type Clock } from '../base/index.js'
import type { ProjectFile, ProjectPage } from '../index/index.js'
import { pathsLayout, recordImportedFile, recordImportedPage, warehouseLayout } from '../mirror/index.js'
import type { BlobStore, RecordStore } from '../store/index.js'
import { TrustError, type TrustLimits } from '../trust/index.js'
import { type BundleProblem, type BundleProblemCode } from './errors.js'
import { parsePage } from './make.js'
import { decodeManifest, pageContentType, type Manifest, type ManifestEntry, type ManifestTuf } from './manifest.js'
import type { BundleSource } from './source.js'
import { TufVouch, type VouchedTarget } from './tuf-vouch.js'
import { createByteCheck } from './verify-bytes.js'

export interface ImportResult {
  readonly problems: readonly BundleProblem[]
  /** what was made servable */
  readonly pages: number
  readonly files: number
  readonly bytes: number
  readonly manifest: Manifest | undefined
}

/** `import --tuf-root`: the importer's own trust anchor, and the cache's earlier verified metadata (rollback protection). */
export interface ImportTuf {
  readonly trustedRoot: Uint8Array
  readonly clock: Clock
  readonly limits: Partial<TrustLimits>
  readonly earlier: (name: string) => Promise<Uint8Array | undefined>
}

/** What verified, for the cache: handed over once every blob is stored and before any record is written. */
export interface VerifiedTrust {
  /** `root.json` (the newest) and `N.root.json` for each root from the importer's on */
  readonly roots: ReadonlyMap<string, Uint8Array>
  /** timestamp, snapshot, targets and the delegated roles the lookups walked */
  readonly set: ReadonlyMap<string, Uint8Array>
  readonly trustedRootVersion: number
  readonly tuf: ManifestTuf
  readonly upstream: string
}

export interface ImportDeps {
  readonly blobs: BlobStore
  readonly records: RecordStore
  readonly nowMs: () => number
  readonly onItem?: (entry: ManifestEntry, verdict: 'verified' | 'refused') => void
  /** verifying mode: makes the verified TUF state the cache's (atomically); called only when the import goes ahead */
  readonly commitTrust?: (trust: VerifiedTrust) => Promise<void>
}

/** A `tuf/` file the session asked for is not in the bundle. */
class NotInBundleError extends ProxyError {
  readonly code = 'tuf_metadata_missing'
  readonly fault = 'bad_upstream_data'
}

/** The bundle's `tuf/` files (already checked against the manifest) as the session's repository. */
const BUNDLE_METADATA_BASE = 'bundle:/tuf/'

interface PageInBundle {
  readonly entry: ManifestEntry
  readonly model: ProjectPage
  readonly url: string
  readonly filesByName: ReadonlyMap<string, ProjectFile>
}

function integrityCode(error: unknown): BundleProblemCode {
  if (error instanceof IntegrityError && (error.code === 'hash_mismatch' || error.code === 'length_mismatch' || error.code === 'no_strong_hash')) return error.code
  return 'entry_mismatch'
}

/** The page's evidence for a file or metadata entry, or why there is none. */
function evidenceFor(entry: ManifestEntry, page: PageInBundle | undefined): { hashes: Readonly<Record<string, string>>; size: number | undefined; url: string } | string {
  if (!page) return `no page for project ${entry.project} in the bundle vouches for it`
  if (entry.kind === 'file') {
    const file = page.filesByName.get(entry.name)
    return file ? { hashes: file.hashes, size: file.size, url: file.url } : `the page of ${entry.project} lists no file ${entry.name}`
  }
  const distribution = entry.name.endsWith('.metadata') ? page.filesByName.get(entry.name.slice(0, -'.metadata'.length)) : undefined
  if (!distribution || typeof distribution.coreMetadata !== 'object') return `the page of ${entry.project} lists no metadata digests for ${entry.name}`
  return { hashes: distribution.coreMetadata, size: undefined, url: `${distribution.url}.metadata` }
}

/**
 * Checks the bundle's TUF metadata from the importer's root (TUF 5.3-5.6): the bundle's newer
 * roots only as the chain from that root signs them, never a root of the bundle's as an anchor.
 * @returns the session, or the problems that refuse the whole bundle
 */
async function openBundleTuf(
  manifest: Manifest,
  tufBodies: ReadonlyMap<string, Uint8Array>,
  tuf: ImportTuf | undefined,
): Promise<{ vouch: TufVouch | undefined } | { problems: BundleProblem[] }> {
  const hasTuf = tufBodies.size > 0 || manifest.tuf !== undefined
  if (!hasTuf && !tuf) return { vouch: undefined }
  if (!tuf) return { problems: [{ code: 'tuf_root_required', path: 'manifest.json', detail: 'the bundle carries TUF metadata: give --tuf-root FILE, the root you trust (a root that came with the bundle is never a trust anchor)' }] }
  if (!hasTuf || !manifest.tuf) return { problems: [{ code: 'tuf_missing', path: 'manifest.json', detail: 'the bundle carries no TUF metadata (made without verifying mode), so nothing in it can be checked against --tuf-root' }] }
  const layout = manifest.tuf.layout === 'paths' ? pathsLayout(manifest.tuf.targets_url) : warehouseLayout(manifest.tuf.targets_url, manifest.upstream)
  let asked = 'timestamp.json'
  try {
    const vouch = await TufVouch.open({
      metadataBaseUrl: BUNDLE_METADATA_BASE,
      layout,
      trustedRoot: tuf.trustedRoot,
      clock: tuf.clock,
      limits: tuf.limits,
      fetch: (url) => {
        asked = url.slice(BUNDLE_METADATA_BASE.length)
        // A consistent-snapshot name (`3.snapshot.json`) is the plain file; the engine checks the version (TUF 5.5.4, 5.6.4).
        const plain = /^\d+\.root\.json$/.test(asked) ? asked : asked.replace(/^\d+\./, '')
        const body = tufBodies.get(asked) ?? tufBodies.get(plain)
        if (tufBodies.has(plain)) asked = plain
        return body ? Promise.resolve(body) : Promise.reject(new NotInBundleError(`the bundle has no tuf/${asked}`))
      },
      isNotFound: (error) => error instanceof NotInBundleError && /^\d+\.root\.json$/.test(asked),
      earlier: tuf.earlier,
    })
    return { vouch }
  } catch (error) {
    if (!(error instanceof TrustError || error instanceof NotInBundleError)) throw error
    const code: BundleProblemCode = error instanceof TrustError ? `tuf_${error.code}` : 'tuf_metadata_missing'
    return { problems: [{ code, path: `tuf/${asked}`, detail: describeError(error) }] }
  }
}

/** The problem for a target lookup that failed, or for bytes the target does not vouch for. */
function targetProblem(error: unknown): BundleProblemCode {
  if (error instanceof TrustError) return `tuf_${error.code}`
  if (error instanceof IntegrityError) return 'target_mismatch'
  throw error
}

/** The page's (or manifest's) evidence joined with the target's: both must hold, and they must agree. @throws IntegrityError */
function withTarget(evidence: { hashes: Readonly<Record<string, string>>; size: number | undefined; url: string }, target: VouchedTarget | undefined, entry: ManifestEntry) {
  if (!target) return evidence
  const hashes: Record<string, string> = { ...evidence.hashes }
  for (const [algorithm, hex] of Object.entries(target.hashes)) {
    const listed = hashes[algorithm]?.toLowerCase()
    if (listed !== undefined && listed !== hex) throw new IntegrityError('hash_mismatch', `the page lists ${algorithm} ${listed}, the TUF target ${target.path} ${hex}`)
    hashes[algorithm] = hex
  }
  if (target.hashes.sha256 !== undefined && target.hashes.sha256 !== entry.sha256) throw new IntegrityError('hash_mismatch', `the TUF target ${target.path} has sha256 ${target.hashes.sha256}, the manifest ${entry.sha256}`)
  if (target.length !== entry.size) throw new IntegrityError('length_mismatch', `the TUF target ${target.path} has ${target.length} bytes, the manifest ${entry.size}`)
  return { hashes, size: target.length, url: evidence.url }
}

export async function importBundle(source: BundleSource, options: { partial: boolean; tuf?: ImportTuf }, deps: ImportDeps): Promise<ImportResult> {
  const problems: BundleProblem[] = []
  const problem = (code: BundleProblemCode, path: string, detail: string) => problems.push({ code, path, detail })
  const none = { pages: 0, files: 0, bytes: 0 }

  const manifestBytes = await source.readBytes('manifest.json')
  if (!manifestBytes) return { problems: [{ code: 'manifest_invalid', path: 'manifest.json', detail: 'the bundle has no manifest.json' }], ...none, manifest: undefined }
  const decoded = decodeManifest(manifestBytes)
  if ('problems' in decoded) return { problems: decoded.problems.map((detail) => ({ code: 'manifest_invalid' as const, path: 'manifest.json', detail })), ...none, manifest: undefined }
  const { manifest } = decoded

  const listed = new Set(manifest.entries.map((entry) => entry.path))
  const present = new Map((await source.list()).map((item) => [item.path, item.isRegular]))
  for (const [path, isRegular] of present) {
    if (path === 'manifest.json') continue
    if (!isRegular) problem('entry_unlisted', path, 'not a regular file (a symlink or device is never followed)')
    else if (!listed.has(path)) problem('entry_unlisted', path, 'the bundle holds this file but the manifest does not list it')
  }
  const missing = new Set<string>()
  for (const path of listed) {
    if (present.get(path) !== true) {
      missing.add(path)
      problem('entry_missing', path, 'listed in the manifest but absent from the bundle')
    }
  }

  const tufBodies = new Map<string, Uint8Array>()
  for (const entry of manifest.entries) {
    if (entry.kind !== 'tuf' || missing.has(entry.path)) continue
    const read = await readEntryChecked(source, entry)
    if (!read) continue
    if ('mismatch' in read) {
      problem('entry_mismatch', entry.path, `the TUF metadata's bytes do not match its manifest entry: ${read.mismatch}`)
      continue
    }
    tufBodies.set(entry.name, read.body)
  }
  // A bundle whose metadata cannot be verified has nothing verifiable in it: refused whole, even with --partial.
  if (problems.length > 0 && tufBodies.size < manifest.entries.filter((entry) => entry.kind === 'tuf').length) return { problems, ...none, manifest }
  const opened = await openBundleTuf(manifest, tufBodies, options.tuf)
  if ('problems' in opened) return { problems: [...problems, ...opened.problems], ...none, manifest }
  const { vouch } = opened

  const pages = new Map<string, PageInBundle>()
  const pageBodies = new Map<string, Buffer>()
  for (const entry of manifest.entries) {
    if (entry.kind !== 'page' || missing.has(entry.path)) continue
    const read = await readEntryChecked(source, entry)
    if (!read) continue
    if ('mismatch' in read) {
      problem('entry_mismatch', entry.path, `the page's bytes do not match its manifest entry: ${read.mismatch}`)
      deps.onItem?.(entry, 'refused')
      continue
    }
    const { body } = read
    const url = new URL(`${entry.project}/`, manifest.upstream).href
    if (vouch) {
      // Verifying mode: the page is the bytes of its verified target (TUF 5.7.3).
      try {
        const target = await vouch.page(url)
        const byTarget = createByteCheck({ hashes: target.hashes, expectedSize: target.length })
        byTarget.update(body)
        byTarget.finish()
      } catch (error) {
        problem(targetProblem(error), entry.path, `page ${entry.project}: ${describeError(error)}`)
        deps.onItem?.(entry, 'refused')
        continue
      }
    }
    try {
      const model = parsePage(entry.project, body, entry.path.endsWith('.json'), url)
      pages.set(entry.project, { entry, model, url, filesByName: new Map(model.files.map((file) => [file.filename, file])) })
      pageBodies.set(entry.project, body)
    } catch (error) {
      problem('page_invalid', entry.path, describeError(error))
      deps.onItem?.(entry, 'refused')
    }
  }

  // Files: one read each, into the store as it is checked; committed only when it verified.
  const added: string[] = []
  const verifiedFiles: Array<{ entry: ManifestEntry; url: string; hashes: Readonly<Record<string, string>> }> = []
  for (const entry of manifest.entries) {
    if (entry.kind !== 'file' && entry.kind !== 'metadata') continue
    if (missing.has(entry.path)) continue
    const listed = evidenceFor(entry, pages.get(entry.project))
    if (typeof listed === 'string') {
      problem('not_on_page', entry.path, `${entry.kind} ${entry.name}: ${listed}`)
      deps.onItem?.(entry, 'refused')
      continue
    }
    let evidence = listed
    try {
      evidence = withTarget(listed, vouch ? await vouch.file(listed.url) : undefined, entry)
    } catch (error) {
      problem(targetProblem(error), entry.path, `${entry.kind} ${entry.project}/${entry.name}: ${describeError(error)}`)
      deps.onItem?.(entry, 'refused')
      continue
    }
    const verdict = await storeChecked(source, entry, evidence, deps.blobs).catch((error: unknown) => ({ error }))
    if ('error' in verdict) {
      problem(integrityCode(verdict.error), entry.path, `${entry.kind} ${entry.project}/${entry.name}: ${describeError(verdict.error)}`)
      deps.onItem?.(entry, 'refused')
      continue
    }
    if (verdict.isNew) added.push(entry.sha256)
    verifiedFiles.push({ entry, url: evidence.url, hashes: evidence.hashes })
    deps.onItem?.(entry, 'verified')
  }

  if (problems.length > 0 && !options.partial) {
    for (const sha256 of added) await deps.blobs.delete(sha256)
    return { problems, ...none, manifest }
  }
  // Page bodies are blobs too; in verifying mode the offline server finds a page by its target's digest.
  const pageDigests: string[] = []
  for (const body of pageBodies.values()) pageDigests.push((await deps.blobs.putBytes(body)).sha256)
  // One durability pass over every blob of this import, before anything may point at one: a
  // power cut before it leaves at worst unreferenced blobs, never a record naming a short one.
  await deps.blobs.syncBlobs([...verifiedFiles.map((file) => file.entry.sha256), ...pageDigests])
  // The verified TUF state, after the blobs it vouches for and before the records.
  if (vouch && manifest.tuf && deps.commitTrust) {
    const staged = vouch.staged()
    await deps.commitTrust({ roots: staged.roots, set: staged.set, trustedRootVersion: vouch.trustedRootVersion, tuf: manifest.tuf, upstream: manifest.upstream })
  }
  // Records last: a file is servable once its page record points the mirror at it.
  let files = 0
  let bytes = 0
  for (const file of verifiedFiles) {
    await recordImportedFile(deps.records, { url: file.url, sha256: file.entry.sha256, hashes: file.hashes })
    files++
    bytes += file.entry.size
  }
  let pageCount = 0
  const fetchedAtMs = deps.nowMs()
  for (const [project, page] of pages) {
    const body = pageBodies.get(project)
    if (!body) continue
    await recordImportedPage(deps.records, { project, bodySha256: page.entry.sha256, contentType: pageContentType(page.entry.path), baseUrl: page.url, serial: page.model.meta.lastSerial, fetchedAtMs })
    deps.onItem?.(page.entry, 'verified')
    pageCount++
  }
  return { problems, pages: pageCount, files, bytes, manifest }
}

/**
 * Reads a small bundle item whole (TUF metadata, a page) and checks it against its manifest
 * entry's size and SHA-256 before anything parses it; TUF metadata and pages share this check.
 * @returns the bytes, or why they do not match; undefined when the source cannot read the item
 */
async function readEntryChecked(source: BundleSource, entry: ManifestEntry): Promise<{ body: Buffer } | { mismatch: string } | undefined> {
  const body = await source.readBytes(entry.path)
  if (!body) return undefined
  const check = createByteCheck({ hashes: { sha256: entry.sha256 }, expectedSize: entry.size })
  try {
    check.update(body)
    check.finish()
    return { body }
  } catch (error) {
    return { mismatch: describeError(error) }
  }
}

/**
 * Streams one bundle file into the blob store, checking it against the manifest's size and
 * SHA-256 and the page's digests and size.
 * @returns whether the blob was not in the store before
 * @throws IntegrityError; StoreError
 */
async function storeChecked(
  source: BundleSource,
  entry: ManifestEntry,
  evidence: { hashes: Readonly<Record<string, string>>; size: number | undefined },
  blobs: BlobStore,
): Promise<{ isNew: boolean }> {
  if (evidence.size !== undefined && evidence.size !== entry.size) throw new IntegrityError('length_mismatch', `the page gives ${evidence.size} bytes, the manifest ${entry.size}`)
  const listedSha256 = evidence.hashes.sha256?.toLowerCase()
  if (listedSha256 !== undefined && listedSha256 !== entry.sha256) throw new IntegrityError('hash_mismatch', `the page lists sha256 ${listedSha256}, the manifest ${entry.sha256}`)
  const isNew = !blobs.has(entry.sha256)
  const check = createByteCheck({ hashes: { ...evidence.hashes, sha256: entry.sha256 }, expectedSize: entry.size })
  const writer = await blobs.createWriter({ verifiedSha256: entry.sha256 })
  try {
    for await (const chunk of source.stream(entry.path)) {
      check.update(chunk)
      await writer.write(chunk)
    }
    check.finish()
    await writer.commit()
    return { isNew }
  } catch (error) {
    await writer.abort()
    throw error
  }
}
