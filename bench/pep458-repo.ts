/**
 * A PEP 458-scale TUF repository for the TUF benchmarks, built with the test repository
 * simulator: 16,384 hash bins under the top-level targets role, either as classic
 * `path_hash_prefixes` delegations (PEP 458 as written) or as TAP 15 succinct roles, ~200,000
 * targets spread across the bins (one page and three files per project, like PyPI), consistent
 * snapshots, and a snapshot listing every bin. Everything is signed once, at the end.
 *
 * Synthetic targets carry a length and a SHA-256 but no bytes (nothing downloads them);
 * `realTargets` are published with their bytes so a proxy can fetch and verify them.
 * It does not serve anything: callers take `servedMetadata()` and serve it their own way.
 */
import { createHash } from 'node:crypto'
import { RepositorySimulator } from '../test/helpers/repository-simulator.js'
import { generateKey, type KeyKind } from '../test/helpers/sim-keys.js'

export type BinStyle = 'hash-prefixes' | 'succinct'

export interface Pep458Options {
  readonly style: BinStyle
  /** A power of two (default 16,384, PEP 458's figure). */
  readonly bins?: number
  /** Synthetic targets, four per project (default 200,000). */
  readonly targets?: number
  readonly keyKind?: KeyKind
  /** Targets published with their bytes, by target path. */
  readonly realTargets?: ReadonlyMap<string, Uint8Array>
  readonly nowMs?: number
}

export interface Pep458Repo {
  readonly sim: RepositorySimulator
  readonly style: BinStyle
  readonly bins: number
  /** Every target path, synthetic and real. */
  readonly targetPaths: readonly string[]
}

const BIN_PREFIX = 'bin'

function binName(index: number, width: number): string {
  return `${BIN_PREFIX}-${index.toString(16).padStart(width, '0')}`
}

/** The hex prefixes of length `digits` whose bin (first `bitLength` bits) is `index`. */
function binPrefixes(index: number, bitLength: number, digits: number): string[] {
  const spread = 4 * digits - bitLength
  return Array.from({ length: 2 ** spread }, (_unused, i) => ((index << spread) | i).toString(16).padStart(digits, '0'))
}

function syntheticPaths(count: number): string[] {
  const paths: string[] = []
  for (let project = 0; paths.length < count; project++) {
    const name = `project-${project}`
    paths.push(`simple/${name}/index.html`)
    for (const version of ['1.0', '1.1']) paths.push(`packages/py3/p/${name}/${name.replace('-', '_')}-${version}-py3-none-any.whl`)
    paths.push(`packages/source/p/${name}/${name}-1.1.tar.gz`)
  }
  return paths.slice(0, count)
}

/**
 * Builds and signs the repository (a few seconds at full scale with Ed25519 keys).
 * @throws {Error} when `bins` is not a power of two between 16 and 2^24
 */
export function buildPep458Repo(options: Pep458Options): Pep458Repo {
  const bins = options.bins ?? 16_384
  const bitLength = Math.log2(bins)
  if (!Number.isInteger(bitLength) || bitLength < 4 || bitLength > 24) throw new Error(`bins must be a power of two between 16 and 2^24, got ${bins}`)
  const keyKind = options.keyKind ?? 'ed25519'
  const sim = new RepositorySimulator({ consistentSnapshot: true, keyKind, ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }) })
  const binKey = generateKey(keyKind)
  const width = (bins - 1).toString(16).length
  if (options.style === 'succinct') {
    sim.addSuccinctRoles('targets', bitLength, BIN_PREFIX, [binKey])
  } else {
    const digits = Math.ceil(bitLength / 4)
    for (let index = 0; index < bins; index++) {
      sim.addDelegation('targets', { name: binName(index, width), pathHashPrefixes: binPrefixes(index, bitLength, digits), terminating: true, keys: [binKey] })
    }
  }
  const binTargets = Array.from({ length: bins }, (_unused, index) => sim.targetsOf(binName(index, width)))
  const paths = syntheticPaths(options.targets ?? 200_000)
  for (const path of paths) {
    // TAP 15 / PEP 458: the bin is the first bitLength bits of SHA-256(path); that digest doubles as the fake content hash
    const digest = createHash('sha256').update(path, 'utf8').digest()
    const targets = binTargets[digest.readUInt32BE(0) >>> (32 - bitLength)]
    if (targets) targets[path] = { length: 1000 + (digest.readUInt32BE(4) % 5_000_000), hashes: { sha256: digest.toString('hex') } }
  }
  for (const [path, bytes] of options.realTargets ?? new Map<string, Uint8Array>()) {
    sim.addTarget(binName(createHash('sha256').update(path, 'utf8').digest().readUInt32BE(0) >>> (32 - bitLength), width), path, bytes)
    paths.push(path)
  }
  for (let index = 0; index < bins; index++) sim.invalidate(binName(index, width))
  sim.updateSnapshot()
  return { sim, style: options.style, bins, targetPaths: paths }
}

/**
 * Every metadata name a client may request, with its bytes: `N.root.json` for each published
 * root, `timestamp.json`, and `N.<role>.json` plus `<role>.json` for the other roles.
 */
export function servedMetadata(repo: Pep458Repo): Map<string, Uint8Array> {
  const { sim } = repo
  const served = new Map<string, Uint8Array>()
  for (let version = 1; version <= sim.rootVersion; version++) served.set(`${version}.root.json`, sim.trustedRoot(version))
  served.set('root.json', sim.currentBytes('root'))
  for (const [role, signed] of sim.roles) {
    if (role === 'root') continue
    const bytes = sim.currentBytes(role)
    served.set(`${encodeURIComponent(role)}.json`, bytes)
    if (role !== 'timestamp') served.set(`${signed.version}.${encodeURIComponent(role)}.json`, bytes)
  }
  return served
}
