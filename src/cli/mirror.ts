/**
 * `tuf-proxy mirror --out BUNDLE SELECTION [serve flags]`: builds the upstream client from the
 * serve settings, turns the selection into per-project wants, runs the bundle maker and reports
 * progress. Exit codes: 0 all verified, 1 something was refused (listed), 2 usage error.
 */
import { existsSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createJsonLogger, describeError, errorCode, systemClock } from '../base/index.js'
import {
  decodeManifest,
  makeBundle,
  makeBundleFromCache,
  openBundle,
  openCacheTuf,
  packBundle,
  parsePylock,
  parseRequirements,
  SelectionError,
  TufVouch,
  type MakeEvent,
  type MakeResult,
  type ManifestTuf,
  type ProjectWants,
  type Selection,
} from '../bundle/index.js'
import { ConfigError, type Settings } from '../config/index.js'
import { isValidProjectName, normalizeName, parseSpecifierSet, SpecifierError, type Specifier } from '../index/index.js'
import { pathsLayout, relativeTargetPath, warehouseLayout } from '../mirror/index.js'
import { openBlobStore, openRecordStore, openTrustStateStore } from '../store/index.js'
import { UpstreamHttpError, type UpstreamClient } from '../upstream/index.js'
import { readOfflineTrust, trustStateDir } from './offline-trust.js'
import { createProgress } from './progress.js'
import { listOf, splitArgs, valueOf } from './bundle-args.js'
import { loadSettings } from './serve.js'
import { upstreamClientFor } from './upstream-client.js'
import { packageVersion } from './package-version.js'

const MIRROR_FLAGS = {
  out: { kind: 'value' },
  project: { kind: 'list' },
  requirements: { kind: 'list' },
  pylock: { kind: 'list' },
  'from-cache': { kind: 'list' },
  since: { kind: 'value' },
  'python-version': { kind: 'list' },
  platform: { kind: 'list' },
  'only-binary': { kind: 'bool' },
  jobs: { kind: 'value' },
  tar: { kind: 'bool' },
} as const

export const MIRROR_USAGE = `Usage: tuf-proxy mirror --out BUNDLE SELECTION [flags]

Downloads and verifies everything SELECTION needs into the bundle directory BUNDLE (resumable).

Selection (one or more):
  --project SPEC         a project and optional version specifier, e.g. 'numpy>=2,<3' (repeatable)
  --requirements FILE    a fully pinned requirements file; --hash options are checked (repeatable)
  --pylock FILE          a PEP 751 pylock.toml: exactly the wheels and sdists it lists, its hashes
                         and sizes checked (repeatable); vcs/directory/archive sources are refused
  --from-cache DIR       everything the tuf-proxy cache directory DIR holds, re-verified on the way out
                         (pages against their records' digests, files against their pages' digests and,
                         with the TUF flags or an imported TUF state, the cache's verified metadata);
                         not combined with the other selections; safe beside a proxy running on DIR

Flags:
  --out BUNDLE           the bundle directory to write (created; an interrupted run is resumed)
  --since OLD_BUNDLE     write only what OLD_BUNDLE lacks
  --python-version X.Y   take only wheels for this Python (repeatable)
  --platform TAG         take only wheels for this platform tag, e.g. manylinux_2_28_x86_64 (repeatable)
  --only-binary          wheels only, no sdists
  --jobs N               parallel downloads (default 4)
  --tar                  write BUNDLE as one .tar (POSIX ustar); staged in BUNDLE.parts/ meanwhile
  any 'tuf-proxy serve' flag: --upstream URL, --allow-host HOST, --ca-bundle FILE, timeouts, size limits
  --tuf-root FILE --tuf-metadata-url URL --tuf-targets-url URL [--tuf-layout paths|warehouse]
                         verifying mode: pages and files are taken only as the TUF metadata verified
                         from FILE lists them, and that metadata goes into the bundle under tuf/

Exit codes: 0 everything verified, 1 something was refused (listed), 2 usage error.
`

function parseProjectSpec(spec: string): { project: string; specifiers: readonly Specifier[] } {
  const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$/s.exec(spec)
  const name = match?.[1] ?? ''
  if (!match || !isValidProjectName(name)) throw new SelectionError(`--project ${JSON.stringify(spec)}: not a project name with an optional specifier, as in 'numpy>=2,<3'`)
  try {
    return { project: normalizeName(name), specifiers: parseSpecifierSet(match[2] ?? '') }
  } catch (error) {
    if (error instanceof SpecifierError) throw new SelectionError(`--project ${JSON.stringify(spec)}: ${error.message}`)
    throw error
  }
}

/** `--since`: the older bundle's (directory or .tar) items by path → sha256, from its manifest. @throws ConfigError */
async function readSince(path: string): Promise<Map<string, string>> {
  let bytes: Buffer | undefined
  try {
    bytes = await (await openBundle(path)).readBytes('manifest.json')
  } catch (error) {
    throw new ConfigError(`--since ${path}: cannot read it (${describeError(error)})`)
  }
  if (!bytes) throw new ConfigError(`--since ${path}: it has no manifest.json`)
  const decoded = decodeManifest(bytes)
  if ('problems' in decoded) throw new ConfigError(`--since ${path}: manifest.json is not a bundle manifest (${decoded.problems.join('; ')})`)
  return new Map(decoded.manifest.entries.map((entry) => [entry.path, entry.sha256]))
}

export async function runMirror(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(MIRROR_USAGE)
    return 0
  }
  let plan
  try {
    plan = await planMirror(argv)
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof SelectionError)) throw error
    process.stderr.write(`tuf-proxy mirror: ${error.message}\nRun 'tuf-proxy mirror --help' for the flags.\n`)
    return 2
  }
  const progress = createProgress(process.stdout, () => Date.now())
  const startedMs = Date.now()
  const onEvent = (event: MakeEvent) => {
    if (event.event === 'planned') progress.planned(event.files, event.bytes)
    else if (event.event === 'progress') progress.bytes(event.bytes)
    else if (event.event === 'item') progress.item({ status: event.status, ...event.entry })
    else progress.refused(event.what, event.code, event.detail)
  }
  const made = plan.fromCache === undefined ? await mirrorUpstream(plan, onEvent) : await mirrorCache(plan, plan.fromCache, onEvent)
  if (typeof made === 'number') return made
  const items = made.manifest.entries
  const refused = [...plan.unmirrorable.map((item) => ({ what: item.origin, code: 'not_mirrorable', detail: item.detail })), ...made.refused]
  if (plan.tarPath) {
    await packBundle(plan.options.out, plan.tarPath, made.manifest, Math.floor(Date.now() / 1000))
    // The staging directory stays after a refusal, so a rerun resumes from it.
    if (refused.length === 0) await rm(plan.options.out, { recursive: true, force: true })
  }
  progress.done({
    bundle: plan.tarPath ?? plan.options.out,
    entries: items.length,
    bytes: items.reduce((sum, entry) => sum + entry.size, 0),
    refused: refused.length,
    seconds: (Date.now() - startedMs) / 1000,
  })
  for (const refusal of refused) process.stderr.write(`tuf-proxy mirror: refused ${refusal.what} (${refusal.code}): ${refusal.detail}\n`)
  return refused.length === 0 ? 0 : 1
}

type MirrorPlan = Awaited<ReturnType<typeof planMirror>>

/** The selection fetched from the upstream. @returns the result, or the exit code when the TUF metadata was refused */
async function mirrorUpstream(plan: MirrorPlan, onEvent: (event: MakeEvent) => void): Promise<MakeResult | number> {
  const upstream = upstreamClientFor(plan.settings)
  try {
    let tuf: TufVouch | undefined
    try {
      tuf = await openTufVouch(plan.settings, plan.trustedRoot, upstream)
    } catch (error) {
      process.stderr.write(`tuf-proxy mirror: refused the TUF metadata (${errorCode(error)}): ${describeError(error)}\nnothing was written\n`)
      return 1
    }
    return await makeBundle({ ...plan.options, toolVersion: `tuf-proxy ${packageVersion()}`, now: () => new Date() }, { upstream, ...(tuf ? { tuf } : {}), onEvent })
  } finally {
    await upstream.close()
  }
}

/**
 * `--from-cache DIR`: the cache's stores opened as `tuf-proxy cache` opens them (no temp sweep,
 * no use counted), so a proxy may keep running on DIR. Verifying mode comes from the TUF flags
 * (the cache's metadata checked from --tuf-root) or, for a cache filled by `import --tuf-root`,
 * from the state the import recorded (checked from the importer's root it kept).
 * @returns the result, or the exit code when the cache or its TUF metadata cannot be used
 */
async function mirrorCache(plan: MirrorPlan, cacheDir: string, onEvent: (event: MakeEvent) => void): Promise<MakeResult | number> {
  if (!existsSync(join(cacheDir, 'blobs')) && !existsSync(join(cacheDir, 'records'))) {
    process.stderr.write(`tuf-proxy mirror: --from-cache ${cacheDir}: no tuf-proxy cache there\n`)
    return 2
  }
  const logger = createJsonLogger({ write: (line) => process.stderr.write(line), level: 'warn' })
  const blobs = await openBlobStore({ dir: join(cacheDir, 'blobs'), maxBytes: Infinity, sweepTemps: false, logger })
  const records = await openRecordStore({ dir: join(cacheDir, 'records'), sweepTemps: false, logger })
  let tuf: { vouch: TufVouch; manifest: ManifestTuf; upstream: string } | undefined
  try {
    tuf = await openCacheTufFor(plan, cacheDir)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tuf-proxy mirror: ${error.message}\n`)
      return 2
    }
    process.stderr.write(`tuf-proxy mirror: refused the cache's TUF metadata (${errorCode(error)}): ${describeError(error)}\nnothing was written\n`)
    return 1
  }
  const { out, selection, tags, since } = plan.options
  return makeBundleFromCache(
    {
      out,
      selection,
      tags,
      ...(since ? { since } : {}),
      upstreamUrl: tuf?.upstream,
      fallbackUpstreamUrl: plan.settings.upstream,
      toolVersion: `tuf-proxy ${packageVersion()}`,
      now: () => new Date(),
      ...(tuf ? { tuf: tuf.manifest } : {}),
    },
    { blobs, records, ...(tuf ? { tuf: tuf.vouch } : {}), onEvent },
  )
}

/**
 * The cache's verified TUF state as a session: from the TUF flags, else from `import --tuf-root`'s record; undefined for a hash-only cache.
 * @throws ConfigError for an unusable record; TrustError when the stored metadata must be refused
 */
async function openCacheTufFor(plan: MirrorPlan, cacheDir: string): Promise<{ vouch: TufVouch; manifest: ManifestTuf; upstream: string } | undefined> {
  const flags = plan.settings.tuf
  const imported = flags ? undefined : await readOfflineTrust(cacheDir)
  // A hash-only cache's directory is left alone; a trust store is read without sweeping a running proxy's temp files.
  if (!flags && !imported) return undefined
  const store = await openTrustStateStore({ dir: trustStateDir(cacheDir), sweepTemps: false })
  if (flags && plan.trustedRoot) {
    const layout = flags.layout === 'paths' ? pathsLayout(flags.targetsUrl) : warehouseLayout(flags.targetsUrl, plan.settings.upstream)
    const limits = { rootMaxBytes: flags.maxRootBytes, timestampMaxBytes: flags.maxTimestampBytes, maxDelegations: flags.maxDelegations }
    const vouch = await openCacheTuf({ read: (name) => store.read(name), trustedRoot: plan.trustedRoot, layout, clock: systemClock, limits })
    return { vouch, manifest: { layout: flags.layout, metadata_url: flags.metadataUrl, targets_url: flags.targetsUrl }, upstream: plan.settings.upstream }
  }
  if (!imported) return undefined
  const anchorName = `${imported.trustedRootVersion}.root.json`
  const trustedRoot = await store.read(anchorName)
  if (!trustedRoot) throw new ConfigError(`--from-cache ${cacheDir}: ${anchorName}, the importer's root, is missing from ${trustStateDir(cacheDir)}; give the TUF flags with --tuf-root FILE`)
  const layout = imported.layout === 'paths' ? pathsLayout(imported.targetsUrl) : warehouseLayout(imported.targetsUrl, imported.upstream)
  const vouch = await openCacheTuf({ read: (name) => store.read(name), trustedRoot, layout, clock: systemClock, limits: {} })
  return { vouch, manifest: { layout: imported.layout, metadata_url: imported.metadataUrl, targets_url: imported.targetsUrl }, upstream: imported.upstream }
}

/**
 * Verifying mode: the TUF session from the operator's root, refreshed from the repository.
 * @throws TrustError when the repository's metadata must be refused; UpstreamError
 */
async function openTufVouch(settings: Settings, trustedRoot: Uint8Array | undefined, upstream: UpstreamClient): Promise<TufVouch | undefined> {
  const tuf = settings.tuf
  if (!tuf || !trustedRoot) return undefined
  return TufVouch.open({
    metadataBaseUrl: tuf.metadataUrl,
    layout: tuf.layout === 'paths' ? pathsLayout(tuf.targetsUrl) : warehouseLayout(tuf.targetsUrl, settings.upstream),
    trustedRoot,
    clock: systemClock,
    limits: { rootMaxBytes: tuf.maxRootBytes, timestampMaxBytes: tuf.maxTimestampBytes, maxDelegations: tuf.maxDelegations },
    fetch: async (url, maxBytes) => (await upstream.getBytes(url, { maxBytes })).body,
    // TUF 5.3.3: the root chain ends where the repository has no N+1.root.json.
    isNotFound: (error) => error instanceof UpstreamHttpError && (error.status === 404 || error.status === 403),
  })
}

/** @throws ConfigError for an unreadable root or a layout that cannot map the upstream */
function readTrustedRoot(settings: Settings): Uint8Array | undefined {
  const tuf = settings.tuf
  if (!tuf) return undefined
  if (tuf.layout === 'paths' && relativeTargetPath(settings.upstream, tuf.targetsUrl) === undefined) {
    throw new ConfigError(`--upstream ${settings.upstream} is not below --tuf-targets-url ${tuf.targetsUrl}: with --tuf-layout paths, pages are targets under the targets base`)
  }
  try {
    return readFileSync(tuf.rootFile)
  } catch (error) {
    throw new ConfigError(`--tuf-root ${tuf.rootFile}: cannot read the file (${describeError(error)})`)
  }
}

async function planMirror(argv: readonly string[]) {
  const args = splitArgs(argv, MIRROR_FLAGS)
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument ${JSON.stringify(args.positional[0])}`)
  const out = valueOf(args, 'out')
  if (!out) throw new ConfigError('--out BUNDLE is required')
  const { settings } = loadSettings(args.rest, process.env)
  const jobsText = valueOf(args, 'jobs') ?? '4'
  const jobs = Number(jobsText)
  if (!/^\d+$/.test(jobsText) || jobs < 1 || jobs > 256) throw new ConfigError(`--jobs must be an integer from 1 to 256, got ${JSON.stringify(jobsText)}`)
  const wants = new Map<string, { specifierSets: Specifier[][]; pins: ProjectWants['pins'][number][]; locked: ProjectWants['locked'][number][] }>()
  const wantsOf = (project: string) => {
    let entry = wants.get(project)
    if (!entry) wants.set(project, (entry = { specifierSets: [], pins: [], locked: [] }))
    return entry
  }
  const projects = listOf(args, 'project')
  for (const spec of projects) {
    const { project, specifiers } = parseProjectSpec(spec)
    wantsOf(project).specifierSets.push([...specifiers])
  }
  const requirementFiles = listOf(args, 'requirements')
  for (const file of requirementFiles) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new ConfigError(`--requirements ${file}: cannot read it (${describeError(error)})`)
    }
    for (const pin of parseRequirements(text, file)) wantsOf(pin.project).pins.push(pin)
  }
  const pylockFiles = listOf(args, 'pylock')
  const unmirrorable: Array<{ origin: string; detail: string }> = []
  for (const file of pylockFiles) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new ConfigError(`--pylock ${file}: cannot read it (${describeError(error)})`)
    }
    const lock = parsePylock(text, file)
    for (const [project, files] of lock.files) wantsOf(project).locked.push(...files)
    unmirrorable.push(...lock.unsupported)
  }
  const fromCache = listOf(args, 'from-cache')
  if (fromCache.length > 1) throw new ConfigError('give --from-cache once: a bundle holds one cache')
  // One source per bundle: its pages are the cache's or the upstream's, never two versions of one.
  if (fromCache.length > 0 && (wants.size > 0 || unmirrorable.length > 0)) throw new ConfigError('--from-cache is not combined with --project, --requirements or --pylock; make two bundles')
  if (wants.size === 0 && unmirrorable.length === 0 && fromCache.length === 0) throw new ConfigError('nothing selected: give --project SPEC, --requirements FILE, --pylock FILE or --from-cache DIR')
  const pythonVersions = listOf(args, 'python-version')
  for (const version of pythonVersions) if (!/^\d+\.\d+$/.test(version)) throw new ConfigError(`--python-version must be X.Y, got ${JSON.stringify(version)}`)
  const platforms = listOf(args, 'platform')
  const onlyBinary = args.own.get('only-binary') === true
  const sinceDir = valueOf(args, 'since')
  const selection: Selection = {
    projects,
    requirements: requirementFiles,
    pylock: pylockFiles,
    fromCache,
    pythonVersions,
    platforms,
    onlyBinary,
    ...(sinceDir ? { since: sinceDir } : {}),
  }
  const tarPath = args.own.get('tar') === true ? out : undefined
  const trustedRoot = readTrustedRoot(settings)
  return {
    settings,
    trustedRoot,
    tarPath,
    unmirrorable,
    fromCache: fromCache[0],
    options: {
      out: tarPath ? `${out}.parts` : out,
      upstreamUrl: settings.upstream,
      selection,
      wants,
      tags: { pythonVersions, platforms, onlyBinary },
      jobs,
      maxPageBytes: settings.maxPageBytes,
      maxFileBytes: settings.maxFileBytes,
      ...(sinceDir ? { since: await readSince(sinceDir) } : {}),
      ...(settings.tuf ? { tuf: { layout: settings.tuf.layout, metadata_url: settings.tuf.metadataUrl, targets_url: settings.tuf.targetsUrl } } : {}),
    },
  }
}

