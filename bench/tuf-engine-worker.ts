/**
 * One measurement of the TUF engine benchmark in a process of its own, so each client's memory
 * is measured from a clean baseline and neither client's JIT or garbage skews the other:
 * `node --expose-gc dist/bench/tuf-engine-worker.js '<json job>'` prints one JSON line.
 *
 * - `engine`: cold refreshes (empty metadata dir), warm refreshes (nothing new), then target
 *   lookups (a first pass that loads bins, a second pass over the same paths, bins loaded);
 * - `verify`: verifications per second of one signed bin role through each client's own
 *   trusted-set step (parse, canonicalize, check the signature), plus our raw signature check.
 * What to measure and how to judge it is tuf-engine.ts's business.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { TrustedMetadataStore } from 'tuf-js/dist/store.js'
import { decodeEnvelope, isValidSignature, KeyCache, TrustedSet, type Key } from '../src/trust/index.js'
import { openClient, type BenchClient, type ClientKind } from './tuf-clients.js'

export interface EngineJob {
  readonly kind: 'engine'
  readonly client: ClientKind
  readonly store: 'plain' | 'proxy'
  /** Holds `metadata/<served name>` files. */
  readonly repoDir: string
  /** JSON array of target paths to look up. */
  readonly lookupsFile: string
  readonly bitLength: number
  readonly repeats: number
  /** Stop a lookup pass early after this long (tuf-js hashes the path once per classic bin). */
  readonly lookupBudgetMs: number
}

export interface EngineResult {
  readonly coldMs: readonly number[]
  readonly peakRssDeltaBytes: number
  readonly heapRetainedBytes: number
  /** Refreshes on the same client (ours only: a tuf-js Updater refreshes once). */
  readonly warmMs: readonly number[]
  /** A new client on the warm metadata dir, then refresh: tuf-js's only warm path. */
  readonly reopenMs: readonly number[]
  readonly firstOfBinMs: readonly number[]
  readonly warmLookupMs: readonly number[]
  readonly lookups: number
  readonly misses: number
}

export interface VerifyJob {
  readonly kind: 'verify'
  readonly client: ClientKind
  /** Holds `root.json` (version 1), `timestamp.json`, `snapshot.json`, `targets.json`, `bin.json`. */
  readonly repoDir: string
  readonly durationMs: number
}

export interface VerifyResult {
  readonly documentsPerSecond: number
  /** Signature checks alone (canonical bytes prepared once), ours only. */
  readonly signaturesPerSecond?: number
}

function procStatusBytes(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
}

function loadServed(repoDir: string): Map<string, Uint8Array> {
  const dir = join(repoDir, 'metadata')
  return new Map(readdirSync(dir).map((name) => [decodeURIComponent(name), readFileSync(join(dir, name))]))
}

async function timed(step: () => Promise<unknown>): Promise<number> {
  const startMs = performance.now()
  await step()
  return performance.now() - startMs
}

/** A deterministic shuffle (the second pass must not replay the first pass's order). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items]
  let seed = 0x2545f491
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    const j = seed % (i + 1)
    const a = out[i]
    const b = out[j]
    if (a !== undefined && b !== undefined) [out[i], out[j]] = [b, a]
  }
  return out
}

async function runEngine(job: EngineJob): Promise<EngineResult> {
  const served = loadServed(job.repoDir)
  const trustedRoot = served.get('1.root.json')
  if (!trustedRoot) throw new Error(`${job.repoDir} has no 1.root.json`)
  const paths = JSON.parse(readFileSync(job.lookupsFile, 'utf8')) as string[]
  const scratch = mkdtempSync(join(tmpdir(), 'tuf-proxy-bench-engine-'))
  const open = (dir: string) => openClient(job.client, { served, trustedRoot, dir, store: job.store })
  try {
    collectGarbage()
    const rssBefore = procStatusBytes('VmRSS')
    const heapBefore = process.memoryUsage().heapUsed
    // Linux: "5" resets the peak RSS (VmHWM) to the current RSS (proc(5), clear_refs)
    writeFileSync('/proc/self/clear_refs', '5')
    const dir = join(scratch, 'cold-0')
    const client: BenchClient = await open(dir)
    const coldMs = [await timed(() => client.refresh())]
    const peakRssDeltaBytes = procStatusBytes('VmHWM') - rssBefore
    collectGarbage()
    const heapRetainedBytes = process.memoryUsage().heapUsed - heapBefore
    for (let i = 1; i < job.repeats; i++) {
      const other = await open(join(scratch, `cold-${i}`))
      coldMs.push(await timed(() => other.refresh()))
    }
    const warmMs: number[] = []
    if (job.client === 'ours') for (let i = 0; i < job.repeats; i++) warmMs.push(await timed(() => client.refresh()))
    const reopenMs: number[] = []
    for (let i = 0; i < job.repeats; i++) {
      const warm = await open(dir)
      reopenMs.push(await timed(() => warm.refresh()))
    }
    const seenBins = new Set<number>()
    const firstOfBinMs: number[] = []
    const done: string[] = []
    let misses = 0
    const firstPassEndMs = performance.now() + job.lookupBudgetMs
    for (const path of paths) {
      if (performance.now() > firstPassEndMs) break
      const bin = createHash('sha256').update(path, 'utf8').digest().readUInt32BE(0) >>> (32 - job.bitLength)
      let found = false
      const ms = await timed(async () => (found = await client.lookup(path)))
      if (!found) misses++
      if (!seenBins.has(bin)) firstOfBinMs.push(ms)
      seenBins.add(bin)
      done.push(path)
    }
    const warmLookupMs: number[] = []
    for (const path of shuffled(done)) warmLookupMs.push(await timed(() => client.lookup(path)))
    return { coldMs, peakRssDeltaBytes, heapRetainedBytes, warmMs, reopenMs, firstOfBinMs, warmLookupMs, lookups: done.length, misses }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

/** Runs `step` in batches until `durationMs` passed; returns calls per second. */
function rate(durationMs: number, step: () => void): number {
  let calls = 0
  const startMs = performance.now()
  let elapsedMs = 0
  while (elapsedMs < durationMs) {
    for (let i = 0; i < 20; i++) step()
    calls += 20
    elapsedMs = performance.now() - startMs
  }
  return (calls * 1000) / elapsedMs
}

function runVerify(job: VerifyJob): VerifyResult {
  const read = (name: string) => readFileSync(join(job.repoDir, name))
  const [root, timestamp, snapshot, targets, bin] = ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json', 'bin.json'].map(read)
  if (!root || !timestamp || !snapshot || !targets || !bin) throw new Error(`${job.repoDir} lacks metadata`)
  if (job.client === 'tuf-js') {
    const set = new TrustedMetadataStore(root)
    set.updateTimestamp(timestamp)
    set.updateSnapshot(snapshot)
    set.updateDelegatedTargets(targets, 'targets', 'root')
    rate(200, () => set.updateDelegatedTargets(bin, 'bin', 'targets'))
    return { documentsPerSecond: rate(job.durationMs, () => set.updateDelegatedTargets(bin, 'bin', 'targets')) }
  }
  const set = TrustedSet.fromTrustedRoot(root, { now: Date.now() })
  set.updateTimestamp(timestamp)
  set.updateSnapshot(snapshot)
  set.updateTargets(targets)
  rate(200, () => set.updateDelegatedTargets(bin, 'bin', 'targets'))
  const documentsPerSecond = rate(job.durationMs, () => set.updateDelegatedTargets(bin, 'bin', 'targets'))
  // the raw check: the bin's signature over its canonical bytes, with the key parsed once (KeyCache)
  const envelope = decodeEnvelope(bin)
  const signature = [...envelope.signatures.values()][0]
  const delegations = (JSON.parse(targets.toString('utf8')) as { signed: { delegations: { keys: Record<string, { keytype: string; scheme: string; keyval: { public: string } }> } } }).signed.delegations
  const dict = signature ? delegations.keys[signature.keyid] : undefined
  if (!signature || !dict) throw new Error('the bin is not signed by a key its delegator lists')
  const key: Key = { keyid: signature.keyid, keytype: dict.keytype, scheme: dict.scheme, publicValue: dict.keyval.public, unrecognized: {} }
  const data = envelope.signedBytes()
  const cache = new KeyCache()
  if (!isValidSignature(key, signature.sig, data, cache)) throw new Error('the bin signature does not verify')
  return { documentsPerSecond, signaturesPerSecond: rate(job.durationMs, () => void isValidSignature(key, signature.sig, data, cache)) }
}

const job = JSON.parse(process.argv[2] ?? '') as EngineJob | VerifyJob
const result = job.kind === 'engine' ? await runEngine(job) : runVerify(job)
process.stdout.write(`${JSON.stringify(result)}\n`)
