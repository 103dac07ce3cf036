/**
 * `tuf-proxy import`: verifies every byte of a bundle and only then makes it servable from a
 * cache directory. In order: the manifest is decoded; every path in the bundle must be listed
 * (no extra file) and every listed item present; pages are checked against their entries and
 * parsed; each file is streamed once into the blob store while it is checked against its manifest
 * entry and against the digests its page lists for it. Blobs are content-addressed and reachable
 * only through page records, so committing a verified blob makes nothing servable; the page and
 * file records are written last, and only when nothing was refused (or with `partial`, for what
 * verified). A refused import removes the blobs it added.
 */
import { describeError, IntegrityError } from '../base/index.js'
import type { ProjectFile, ProjectPage } from '../index/index.js'
import { recordImportedFile, recordImportedPage } from '../mirror/index.js'
import type { BlobStore, RecordStore } from '../store/index.js'
import { type BundleProblem, type BundleProblemCode } from './errors.js'
import { parsePage } from './make.js'
import { decodeManifest, pageContentType, type Manifest, type ManifestEntry } from './manifest.js'
import type { BundleSource } from './source.js'
import { createByteCheck } from './verify-bytes.js'

export interface ImportResult {
  readonly problems: readonly BundleProblem[]
  /** what was made servable */
  readonly pages: number
  readonly files: number
  readonly bytes: number
  readonly manifest: Manifest | undefined
}

export interface ImportDeps {
  readonly blobs: BlobStore
  readonly records: RecordStore
  readonly nowMs: () => number
  readonly onItem?: (entry: ManifestEntry, verdict: 'verified' | 'refused') => void
}

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

export async function importBundle(source: BundleSource, options: { partial: boolean }, deps: ImportDeps): Promise<ImportResult> {
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

  const pages = new Map<string, PageInBundle>()
  const pageBodies = new Map<string, Buffer>()
  for (const entry of manifest.entries) {
    if (entry.kind !== 'page' || missing.has(entry.path)) continue
    const body = await source.readBytes(entry.path)
    if (!body) continue
    const check = createByteCheck({ hashes: { sha256: entry.sha256 }, expectedSize: entry.size })
    try {
      check.update(body)
      check.finish()
    } catch (error) {
      problem('entry_mismatch', entry.path, `the page's bytes do not match its manifest entry: ${describeError(error)}`)
      deps.onItem?.(entry, 'refused')
      continue
    }
    const url = new URL(`${entry.project}/`, manifest.upstream).href
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
    const evidence = evidenceFor(entry, pages.get(entry.project))
    if (typeof evidence === 'string') {
      problem('not_on_page', entry.path, `${entry.kind} ${entry.name}: ${evidence}`)
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
    await deps.blobs.putBytes(body)
    await recordImportedPage(deps.records, { project, bodySha256: page.entry.sha256, contentType: pageContentType(page.entry.path), baseUrl: page.url, serial: page.model.meta.lastSerial, fetchedAtMs })
    deps.onItem?.(page.entry, 'verified')
    pageCount++
  }
  return { problems, pages: pageCount, files, bytes, manifest }
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
