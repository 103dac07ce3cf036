/**
 * `tuf-proxy mirror`: fetches the project pages a selection names, keeps each exactly as the
 * upstream served it, picks the files the selection takes, downloads them `jobs` at a time
 * (identical files once), verifies each against its page's digests (and pinned `--hash`es)
 * before it gets its name in the bundle, and writes `manifest.json` last.
 *
 * Resumable: a page or file already in the bundle is taken again after its bytes are checked,
 * so a second run after an interruption fetches only what is missing.
 */
import { join } from 'node:path'
import { describeError, errorCode, hasStrongHash, IntegrityError, sha256Hex } from '../base/index.js'
import { normalizeName, parseProjectPageHtml, parseProjectPageJson, type ProjectFile, type ProjectPage } from '../index/index.js'
import { httpPageSource, isSafeFileName } from '../mirror/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import { BundleDir } from './bundle-dir.js'
import { PageRefusedError } from './errors.js'
import { BUNDLE_FORMAT, encodeManifest, pagePath, type Manifest, type ManifestEntry, type ManifestTuf, type Selection } from './manifest.js'
import { pickFiles, type ProjectWants, type TagFilter } from './select.js'
import { TufVouch, type VouchedTarget } from './tuf-vouch.js'
import { checkFile, createByteCheck } from './verify-bytes.js'

export interface MakeOptions {
  readonly out: string
  readonly upstreamUrl: string
  readonly toolVersion: string
  readonly selection: Selection
  /** normalized project name → what of it is wanted */
  readonly wants: ReadonlyMap<string, ProjectWants>
  readonly tags: TagFilter
  readonly jobs: number
  readonly maxPageBytes: number
  readonly maxFileBytes: number
  /** `--since`: what the older bundle holds, by path → sha256; those items are left out */
  readonly since?: ReadonlyMap<string, string>
  /** verifying mode: where the metadata came from and the layout, recorded in the manifest */
  readonly tuf?: ManifestTuf
  readonly now: () => Date
}

export type MakeEvent =
  | { readonly event: 'item'; readonly status: 'fetched' | 'present' | 'in_older_bundle'; readonly entry: ManifestEntry }
  | { readonly event: 'refused'; readonly what: string; readonly code: string; readonly detail: string }
  | { readonly event: 'planned'; readonly files: number; readonly bytes: number }
  | { readonly event: 'progress'; readonly bytes: number }

export interface MakeResult {
  readonly manifest: Manifest
  readonly refused: ReadonlyArray<{ readonly what: string; readonly code: string; readonly detail: string }>
}

export interface FileJob {
  readonly kind: 'file' | 'metadata'
  readonly project: string
  readonly name: string
  readonly url: string
  readonly hashes: Readonly<Record<string, string>>
  readonly size: number | undefined
  readonly requiredHashes: ReadonlyMap<string, ReadonlySet<string>>
}

export interface MakeDeps {
  readonly upstream: UpstreamClient
  /** verifying mode: pages and files are taken only as the verified TUF metadata lists them, and that metadata goes under `tuf/` */
  readonly tuf?: TufVouch
  readonly onEvent: (event: MakeEvent) => void
}

/** Throws nothing for a refused item (it is reported and left out); throws for the operator's or the disk's problems. */
export async function makeBundle(options: MakeOptions, deps: MakeDeps): Promise<MakeResult> {
  const bundle = await BundleDir.open(options.out)
  const entries: ManifestEntry[] = []
  const refused: Array<{ what: string; code: string; detail: string }> = []
  const refuse = (what: string, code: string, detail: string) => {
    refused.push({ what, code, detail })
    deps.onEvent({ event: 'refused', what, code, detail })
  }
  const since = options.since ?? new Map<string, string>()
  const source = httpPageSource(deps.upstream, options.maxPageBytes)
  const jobs: FileJob[] = []
  const pageEntries = new Map<string, { entry: ManifestEntry; status: 'fetched' | 'present' }>()

  for (const [project, wants] of options.wants) {
    const page = await loadPage(project, { bundle, source, upstream: deps.upstream, tuf: deps.tuf, upstreamUrl: options.upstreamUrl, maxPageBytes: options.maxPageBytes }).catch((error: unknown) => {
      refuse(`page ${project}`, errorCode(error), describeError(error))
      return undefined
    })
    if (!page) continue
    pageEntries.set(project, { entry: page.entry, status: page.status })
    const safe = page.model.files.filter((file) => {
      if (!isSafeFileName(file.filename)) return false
      try {
        deps.upstream.assertAllowed(file.url)
        return true
      } catch (error) {
        refuse(`file ${project}/${file.filename}`, errorCode(error), describeError(error))
        return false
      }
    })
    const { picked, problems } = pickFiles(safe, wants, options.tags)
    for (const problem of problems) refuse(problem.origin, problem.code, problem.detail)
    for (const { file, requiredHashes } of picked) {
      const job: FileJob = { kind: 'file', project, name: file.filename, url: file.url, hashes: file.hashes, size: file.size, requiredHashes }
      const vouched = await vouchFor(job, deps.tuf).catch((error: unknown) => {
        refuse(`file ${project}/${file.filename}`, errorCode(error), describeError(error))
        return undefined
      })
      if (!vouched) continue
      jobs.push(vouched)
      const metadata = metadataJob(project, file)
      // Verifying mode: a metadata file no trusted role lists is left out (pip then reads the wheel).
      const vouchedMetadata = metadata ? await vouchFor(metadata, deps.tuf).catch(() => undefined) : undefined
      if (vouchedMetadata) jobs.push(vouchedMetadata)
    }
  }
  deps.onEvent({ event: 'planned', files: jobs.length, bytes: jobs.reduce((sum, job) => sum + (job.size ?? 0), 0) })

  // Identical files (the same digest listed twice, or a URL listed by two selections) are fetched once.
  const flights = new Map<string, Promise<{ sha256: string; size: number; status: 'fetched' | 'present' } | undefined>>()
  const fetchOnce = (job: FileJob) => {
    const key = job.hashes.sha256?.toLowerCase() ?? job.url
    let flight = flights.get(key)
    if (!flight) {
      flight = fetchFile(job, { bundle, upstream: deps.upstream, maxFileBytes: options.maxFileBytes, onBytes: (bytes) => deps.onEvent({ event: 'progress', bytes }) }).catch((error: unknown) => {
        refuse(`${job.kind} ${job.project}/${job.name}`, errorCode(error), describeError(error))
        return undefined
      })
      flights.set(key, flight)
    }
    return flight
  }
  const projectsWithNewItems = new Set<string>()
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]
      if (!job) break
      const known = job.hashes.sha256?.toLowerCase()
      if (known && since.get(`files/${known}`) === known) {
        deps.onEvent({ event: 'item', status: 'in_older_bundle', entry: { kind: job.kind, project: job.project, name: job.name, size: job.size ?? 0, sha256: known, path: `files/${known}` } })
        continue
      }
      const result = await fetchOnce(job)
      if (!result) continue
      const entry: ManifestEntry = { kind: job.kind, project: job.project, name: job.name, size: result.size, sha256: result.sha256, path: `files/${result.sha256}` }
      entries.push(entry)
      projectsWithNewItems.add(job.project)
      deps.onEvent({ event: 'item', status: result.status, entry })
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker))

  for (const [project, { entry, status }] of pageEntries) {
    // --since: a page the older bundle has byte for byte is left out, unless a file of it is new
    // (import checks every file against a page of the same bundle).
    if (since.get(entry.path) === entry.sha256 && !projectsWithNewItems.has(project)) {
      // Fetched to learn its files, but not part of this bundle: every file in a bundle is listed.
      await bundle.remove(entry.path)
      deps.onEvent({ event: 'item', status: 'in_older_bundle', entry })
      continue
    }
    entries.push(entry)
    deps.onEvent({ event: 'item', status, entry })
  }
  // The TUF metadata was fetched from the upstream for this bundle.
  return { manifest: await finishBundle(bundle, entries, options.upstreamUrl, options, deps, 'fetched'), refused }
}

/**
 * How every bundle ends, from the upstream or from a cache: the verified TUF metadata under
 * `tuf/` (verifying mode), then the manifest, written last and atomically so that a bundle
 * without one is plainly unfinished.
 */
export async function finishBundle(
  bundle: BundleDir,
  entries: ManifestEntry[],
  upstream: string,
  options: Pick<MakeOptions, 'toolVersion' | 'selection' | 'tuf' | 'now'>,
  deps: Pick<MakeDeps, 'tuf' | 'onEvent'>,
  tufStatus: 'fetched' | 'present',
): Promise<Manifest> {
  if (deps.tuf) {
    for (const entry of await writeTufMetadata(bundle, deps.tuf)) {
      entries.push(entry)
      deps.onEvent({ event: 'item', status: tufStatus, entry })
    }
  }
  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    tool_version: options.toolVersion,
    created: options.now().toISOString(),
    upstream,
    selection: options.selection,
    entries,
    ...(options.tuf ? { tuf: options.tuf } : {}),
  }
  await bundle.writeAtomic('manifest.json', encodeManifest(manifest))
  return manifest
}

/** PEP 658/714: the metadata file, when the page gives a digest to check it against. */
export function metadataJob(project: string, file: ProjectFile): FileJob | undefined {
  // `core-metadata: true` promises the file without a digest: it could not be verified, so it is left out (pip then reads the wheel).
  if (file.coreMetadata === false || file.coreMetadata === true || !hasStrongHash(file.coreMetadata)) return undefined
  return { kind: 'metadata', project, name: `${file.filename}.metadata`, url: `${file.url}.metadata`, hashes: file.coreMetadata, size: undefined, requiredHashes: new Map() }
}

async function loadPage(
  project: string,
  context: { bundle: BundleDir; source: ReturnType<typeof httpPageSource>; upstream: UpstreamClient; tuf: TufVouch | undefined; upstreamUrl: string; maxPageBytes: number },
): Promise<{ model: ProjectPage; entry: ManifestEntry; status: 'fetched' | 'present' }> {
  const url = new URL(`${project}/`, context.upstreamUrl).href
  if (context.tuf) return loadVouchedPage(project, url, await context.tuf.page(url), context)
  for (const isJson of [true, false]) {
    const path = pagePath(project, isJson)
    if (!(await context.bundle.has(path))) continue
    // A page kept from an interrupted run: whole (it was renamed into place), and re-parsed below.
    const body = await context.bundle.read(path)
    return { model: parsePage(project, body, isJson, url), entry: pageEntry(project, path, body), status: 'present' }
  }
  const fetched = await context.source.fetch(url, undefined)
  if (fetched.kind !== 'page') throw new Error('the upstream answered 304 to an unconditional request')
  const isJson = /^application\/vnd\.pypi\.simple\.v1\+json/i.test(fetched.contentType.trim())
  // Relative links would resolve differently on import (against the page URL, not the redirect target).
  if (fetched.url !== url) throw new PageRefusedError(`the page ${url} was redirected to ${fetched.url}; give the final index URL as --upstream`)
  const model = parsePage(project, fetched.body, isJson, url)
  const path = pagePath(project, isJson)
  await context.bundle.writeAtomic(path, fetched.body)
  return { model, entry: pageEntry(project, path, fetched.body), status: 'fetched' }
}

/**
 * Verifying mode: the page is the bytes of its verified target (an HTML page in both layouts),
 * downloaded from where the layout puts it and checked before it gets its name in the bundle.
 * A copy kept from an interrupted run is taken again only if it still matches the target.
 */
async function loadVouchedPage(
  project: string,
  url: string,
  target: VouchedTarget,
  context: { bundle: BundleDir; upstream: UpstreamClient; maxPageBytes: number },
): Promise<{ model: ProjectPage; entry: ManifestEntry; status: 'fetched' | 'present' }> {
  const path = pagePath(project, false)
  const matches = (body: Uint8Array) => {
    const check = createByteCheck({ hashes: target.hashes, expectedSize: target.length })
    check.update(body)
    check.finish()
  }
  if (await context.bundle.has(path)) {
    const body = await context.bundle.read(path)
    try {
      matches(body)
      return { model: parsePage(project, body, false, url), entry: pageEntry(project, path, body), status: 'present' }
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error
    }
  }
  const { body } = await context.upstream.getBytes(target.downloadUrl, { maxBytes: Math.min(target.length, context.maxPageBytes) })
  // TUF 5.7.3: the target's length and hashes, before the bytes are kept.
  matches(body)
  const model = parsePage(project, body, false, url)
  await context.bundle.writeAtomic(path, body)
  return { model, entry: pageEntry(project, path, body), status: 'fetched' }
}

/**
 * Verifying mode: the job as the verified metadata lists it. In the `paths` layout the file is a
 * target: its digests join the page's (both must hold, and they must agree) and it is downloaded
 * from the target URL. In the `warehouse` layout the verified page's own digests bind it.
 * @throws IntegrityError('hash_mismatch' | 'length_mismatch') when the page and the target disagree; TrustError
 */
export async function vouchFor(job: FileJob, tuf: TufVouch | undefined): Promise<FileJob> {
  const target = tuf ? await tuf.file(job.url) : undefined
  if (!target) return job
  const hashes: Record<string, string> = { ...job.hashes }
  for (const [algorithm, hex] of Object.entries(target.hashes)) {
    const listed = hashes[algorithm]?.toLowerCase()
    if (listed !== undefined && listed !== hex) throw new IntegrityError('hash_mismatch', `the page lists ${algorithm} ${listed} for ${job.name}, the TUF target ${target.path} ${hex}`)
    hashes[algorithm] = hex
  }
  if (job.size !== undefined && job.size !== target.length) throw new IntegrityError('length_mismatch', `the page gives ${job.size} bytes for ${job.name}, the TUF target ${target.path} ${target.length}`)
  return { ...job, url: target.downloadUrl, hashes, size: target.length }
}

/**
 * The verified metadata into `tuf/`, each file atomically; files a killed earlier run left that
 * are not part of this set are removed (every file in a bundle is listed).
 */
async function writeTufMetadata(bundle: BundleDir, tuf: TufVouch): Promise<ManifestEntry[]> {
  const files = tuf.bundleFiles()
  const entries: ManifestEntry[] = []
  for (const name of await bundle.list('tuf')) if (!files.has(name)) await bundle.remove(`tuf/${name}`)
  for (const [name, bytes] of files) {
    const path = `tuf/${name}`
    await bundle.writeAtomic(path, bytes)
    entries.push({ kind: 'tuf', project: '', name, size: bytes.byteLength, sha256: sha256Hex(bytes), path })
  }
  return entries
}

export function parsePage(project: string, body: Uint8Array, isJson: boolean, url: string): ProjectPage {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body)
  const page = isJson ? parseProjectPageJson(text, url) : parseProjectPageHtml(text, url)
  if (normalizeName(page.name) !== project) throw new PageRefusedError(`the page at ${url} is for project ${JSON.stringify(page.name)}, not ${project}`)
  return page
}

export function pageEntry(project: string, path: string, body: Uint8Array): ManifestEntry {
  return { kind: 'page', project, name: project, size: body.byteLength, sha256: sha256Hex(body), path }
}

async function fetchFile(
  job: FileJob,
  context: { bundle: BundleDir; upstream: UpstreamClient; maxFileBytes: number; onBytes: (bytes: number) => void },
): Promise<{ sha256: string; size: number; status: 'fetched' | 'present' }> {
  if (!hasStrongHash(job.hashes)) throw new IntegrityError('no_strong_hash', `the page lists no strong hash for ${job.name}; a bundle takes only files it can verify`)
  const evidence = { hashes: job.hashes, expectedSize: job.size }
  const known = job.hashes.sha256?.toLowerCase()
  if (known && (await context.bundle.has(`files/${known}`))) {
    try {
      const check = createByteCheck(evidence, job.requiredHashes)
      const sha256 = await checkFile(join(context.bundle.root, 'files', known), check)
      if (sha256 === known) return { sha256, size: check.receivedBytes, status: 'present' }
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error
    }
    // A damaged copy (disk fault, or edited by hand) is fetched again.
    await context.bundle.remove(`files/${known}`)
  }
  const response = await context.upstream.getStream(job.url, { maxBytes: Math.min(context.maxFileBytes, job.size ?? Infinity) })
  const temp = await context.bundle.createTemp('files')
  try {
    const check = createByteCheck(evidence, job.requiredHashes)
    for await (const chunk of response.body) {
      check.update(chunk)
      await temp.write(chunk)
      context.onBytes(chunk.byteLength)
    }
    const sha256 = check.finish()
    await temp.commit(`files/${sha256}`)
    return { sha256, size: check.receivedBytes, status: 'fetched' }
  } catch (error) {
    response.abort()
    await temp.abort()
    throw error
  }
}
