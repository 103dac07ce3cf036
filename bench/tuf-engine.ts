/**
 * The TUF engine benchmark: our TufSession on a PEP 458-scale repository (16,384 hash bins as
 * classic `path_hash_prefixes` delegations and as TAP 15 succinct roles, ~200,000 targets,
 * consistent snapshots, a snapshot listing every bin), served from memory: cold and warm refresh,
 * memory of a cold refresh, target lookups (first in a bin, and once loaded; p99 < 1 ms). Then
 * the same against tuf-js 5 (`Updater` + a `BaseFetcher` over the same bytes) at 1,024 bins,
 * because tuf-js's refresh grows quadratically with the number of bins (it rebuilds objects
 * with spread in `reduce` for snapshot meta and delegated roles) and takes minutes at 16,384
 * (`--tuf-js-full-scale` measures it anyway). Last, verifications per second for Ed25519,
 * ECDSA P-256 and RSASSA-PSS-SHA256 on each client's own trusted-set step.
 *
 * `node dist/bench/tuf-engine.js` prints the table; run.ts calls `run()`. Every measurement runs
 * in a child process (tuf-engine-worker.js); the repositories are written to a temp dir that is
 * removed at the end. Ratios are ours/tuf-js: times must be <= 1.00x, rates >= 1.00x.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { RepositorySimulator } from '../test/helpers/repository-simulator.js'
import type { KeyKind } from '../test/helpers/sim-keys.js'
import { buildPep458Repo, servedMetadata, type BinStyle } from './pep458-repo.js'
import type { ClientKind } from './tuf-clients.js'
import type { EngineJob, EngineResult, VerifyJob, VerifyResult } from './tuf-engine-worker.js'
import { compared, formatRows, median, percentile, type Row } from './tuf-rows.js'

export type { Row } from './tuf-rows.js'

export interface TufEngineOptions {
  readonly bins?: number
  readonly targets?: number
  /** Bins of the repositories where tuf-js is compared (default 1,024: its refresh grows quadratically with bins). */
  readonly compareBins?: number
  /** Also run tuf-js at full scale, once (minutes per refresh at 16,384 bins). */
  readonly tufJsAtFullScale?: boolean
  readonly lookups?: number
  /** Cold and warm refreshes per client (the median is reported). */
  readonly repeats?: number
  /** Time limit of one lookup pass per client. */
  readonly lookupBudgetMs?: number
  readonly log?: (line: string) => void
}

const execFileAsync = promisify(execFile)
const WORKER_PATH = join(dirname(fileURLToPath(import.meta.url)), 'tuf-engine-worker.js')
const STYLES: readonly BinStyle[] = ['hash-prefixes', 'succinct']
const KEY_KINDS: ReadonlyArray<{ kind: KeyKind; label: string }> = [
  { kind: 'ed25519', label: 'ed25519' },
  { kind: 'ecdsa', label: 'ecdsa P-256' },
  { kind: 'rsa', label: 'rsassa-pss-sha256 (2048)' },
]
const MB = 1e6

async function runWorker<T>(job: EngineJob | VerifyJob): Promise<T> {
  const { stdout } = await execFileAsync(process.execPath, ['--expose-gc', WORKER_PATH, JSON.stringify(job)], { maxBuffer: 64 * 1024 * 1024 })
  return JSON.parse(stdout) as T
}

/** Writes the served metadata as `<dir>/metadata/<name>` and a sample of target paths to look up. */
function writeRepository(dir: string, style: BinStyle, options: { bins: number; targets: number; lookups: number }): string {
  const repo = buildPep458Repo({ style, bins: options.bins, targets: options.targets })
  mkdirSync(join(dir, 'metadata'), { recursive: true })
  for (const [name, bytes] of servedMetadata(repo)) writeFileSync(join(dir, 'metadata', encodeURIComponent(name)), bytes)
  let seed = 42
  const sample: string[] = []
  for (let i = 0; i < options.lookups; i++) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    const path = repo.targetPaths[seed % repo.targetPaths.length]
    if (path !== undefined) sample.push(path)
  }
  const lookupsFile = join(dir, 'lookups.json')
  writeFileSync(lookupsFile, JSON.stringify(sample))
  return lookupsFile
}

/** A tiny repository whose one delegated role `bin` (a dozen targets) is signed with `kind`. */
function writeVerifyRepository(dir: string, kind: KeyKind): void {
  const sim = new RepositorySimulator({ keyKind: kind })
  sim.addDelegation('targets', { name: 'bin', paths: ['*'] })
  for (let i = 0; i < 12; i++) sim.targetsOf('bin')[`packages/source/p/project-${i}/project-${i}-1.0.tar.gz`] = { length: 1000 + i, hashes: { sha256: 'ab'.repeat(32) } }
  sim.invalidate('bin').updateSnapshot()
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'root.json'), sim.trustedRoot())
  for (const role of ['timestamp', 'snapshot', 'targets', 'bin']) writeFileSync(join(dir, `${role}.json`), sim.currentBytes(role))
}

/** Our figures at full scale, judged on their own (tuf-js takes minutes per refresh there). */
function fullScaleRows(label: string, ours: EngineResult): Row[] {
  const p99 = percentile(ours.warmLookupMs, 0.99)
  return [
    { figure: `${label}: cold refresh (median)`, value: median(ours.coldMs), unit: 'ms' },
    { figure: `${label}: cold refresh, peak RSS delta`, value: ours.peakRssDeltaBytes / MB, unit: 'MB' },
    { figure: `${label}: heap retained after refresh`, value: ours.heapRetainedBytes / MB, unit: 'MB' },
    { figure: `${label}: warm refresh, same session (median)`, value: median(ours.warmMs), unit: 'ms' },
    { figure: `${label}: warm refresh, new session on warm dir (median)`, value: median(ours.reopenMs), unit: 'ms' },
    { figure: `${label}: first lookup in a bin (median)`, value: median(ours.firstOfBinMs), unit: 'ms' },
    { figure: `${label}: lookup once loaded (median)`, value: median(ours.warmLookupMs), unit: 'ms' },
    { figure: `${label}: lookup once loaded (p99)`, value: p99, unit: 'ms', target: '< 1 ms', pass: p99 < 1 },
  ]
}

/** Ours against tuf-js at a scale tuf-js can refresh in seconds. */
function comparedRows(label: string, ours: EngineResult, tufJs: EngineResult): Row[] {
  return [
    compared(`${label}: cold refresh (median)`, 'ms', median(ours.coldMs), median(tufJs.coldMs), { atMost: 1 }),
    compared(`${label}: cold refresh, peak RSS delta`, 'MB', ours.peakRssDeltaBytes / MB, tufJs.peakRssDeltaBytes / MB, { atMost: 1 }),
    compared(`${label}: warm refresh, new client on warm dir`, 'ms', median(ours.reopenMs), median(tufJs.reopenMs), { atMost: 1 }),
    compared(`${label}: first lookup in a bin (median)`, 'ms', median(ours.firstOfBinMs), median(tufJs.firstOfBinMs), { atMost: 1 }),
    compared(`${label}: lookup once loaded (median)`, 'ms', median(ours.warmLookupMs), median(tufJs.warmLookupMs), { atMost: 1 }),
    compared(`${label}: lookup once loaded (p99)`, 'ms', percentile(ours.warmLookupMs, 0.99), percentile(tufJs.warmLookupMs, 0.99), { atMost: 1 }),
  ]
}

function styleLabel(style: BinStyle, bins: number): string {
  return `${bins.toLocaleString('en-US')} ${style === 'succinct' ? 'succinct' : 'hash-prefix'} bins`
}

function describe(name: string, result: EngineResult): string {
  return `${name}: cold ${result.coldMs.map((ms) => ms.toFixed(0)).join('/')} ms; ${result.lookups} lookups (${result.firstOfBinMs.length} first in a bin), ${result.misses} not found`
}

/**
 * Builds the repositories, runs every measurement, returns the rows (and logs notes to `log`).
 * @throws when a worker fails
 */
export async function run(options: TufEngineOptions = {}): Promise<Row[]> {
  const bins = options.bins ?? 16_384
  const targets = options.targets ?? 200_000
  const compareBins = options.compareBins ?? 1_024
  const lookups = options.lookups ?? 2_000
  const repeats = options.repeats ?? 5
  const lookupBudgetMs = options.lookupBudgetMs ?? 15_000
  const log = options.log ?? (() => undefined)
  const tempDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-bench-tuf-'))
  const rows: Row[] = []
  /** Builds one repository and runs `clients` on it, one worker each. */
  const measure = async (style: BinStyle, scale: number, clients: ReadonlyArray<{ client: ClientKind; store?: EngineJob['store']; repeats?: number }>): Promise<EngineResult[]> => {
    const startMs = performance.now()
    const repoDir = join(tempDir, `${style}-${scale}`)
    const scaledTargets = Math.round((targets * scale) / bins)
    const lookupsFile = writeRepository(repoDir, style, { bins: scale, targets: scaledTargets, lookups })
    log(`${styleLabel(style, scale)}, ${scaledTargets.toLocaleString('en-US')} targets: built and signed in ${((performance.now() - startMs) / 1000).toFixed(1)} s`)
    const results: EngineResult[] = []
    for (const { client, store, repeats: times } of clients) {
      const job: EngineJob = { kind: 'engine', client, store: store ?? 'plain', repoDir, lookupsFile, bitLength: Math.log2(scale), repeats: times ?? repeats, lookupBudgetMs }
      const result = await runWorker<EngineResult>(job)
      log(`  ${describe(`${client}${store === 'proxy' ? ' (fsynced store)' : ''}`, result)}`)
      results.push(result)
    }
    rmSync(repoDir, { recursive: true, force: true })
    return results
  }
  try {
    for (const style of STYLES) {
      const full = styleLabel(style, bins)
      const clients = [{ client: 'ours' as const }, ...(style === 'hash-prefixes' ? [{ client: 'ours' as const, store: 'proxy' as const }] : []), ...(options.tufJsAtFullScale ? [{ client: 'tuf-js' as const, repeats: 1 }] : [])]
      const [ours, durable, tufJsFull] = await measure(style, bins, clients)
      if (ours) rows.push(...fullScaleRows(full, ours))
      if (durable) {
        rows.push({ figure: `${full}: cold refresh, proxy's fsynced store (median)`, value: median(durable.coldMs), unit: 'ms' })
        rows.push({ figure: `${full}: first lookup in a bin, fsynced store (median)`, value: median(durable.firstOfBinMs), unit: 'ms' })
      }
      if (ours && tufJsFull) rows.push(...comparedRows(full, ours, tufJsFull))
    }
    for (const style of STYLES) {
      const [ours, tufJs] = await measure(style, compareBins, [{ client: 'ours' }, { client: 'tuf-js' }])
      if (ours && tufJs) rows.push(...comparedRows(styleLabel(style, compareBins), ours, tufJs))
    }
    for (const { kind, label } of KEY_KINDS) {
      const repoDir = join(tempDir, `verify-${kind}`)
      writeVerifyRepository(repoDir, kind)
      const job = (client: ClientKind): VerifyJob => ({ kind: 'verify', client, repoDir, durationMs: 1_500 })
      const ours = await runWorker<VerifyResult>(job('ours'))
      const tufJs = await runWorker<VerifyResult>(job('tuf-js'))
      rows.push(compared(`verify a signed bin role, ${label}`, 'verif/s', ours.documentsPerSecond, tufJs.documentsPerSecond, { atLeast: 1 }))
      if (ours.signaturesPerSecond !== undefined) rows.push({ figure: `signature check alone (key parsed once), ${label}`, value: ours.signaturesPerSecond, unit: 'verif/s' })
    }
  } finally {
    rmSync(tempDir, { recursive: true, force: true })
  }
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const startMs = performance.now()
  const notes: string[] = []
  const rows = await run({ log: (line) => notes.push(line), tufJsAtFullScale: process.argv.includes('--tuf-js-full-scale') })
  process.stdout.write(`TUF engine: ours (TufSession) vs tuf-js 5, in-memory repository; ratio = ours/tuf-js\n\n`)
  process.stdout.write(formatRows(rows, 'tuf-js'))
  process.stdout.write(`\n${notes.join('\n')}\nnode ${process.version}; took ${((performance.now() - startMs) / 1000).toFixed(0)} s\n`)
}
