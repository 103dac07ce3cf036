/**
 * The generated fault combinations (issue 7, "How it must be tested"): a seeded PRNG picks
 * resource kind × transport × fault × concurrency, so any failure is replayed from its seed alone,
 * and says per combination what a correct proxy may answer. Also the table of known bugs, whose
 * combinations are left out of `npm test` until their fix lands (and run by `npm run fuzz --
 * --include-known`).
 */
import { FAULTS, type Fault, type Transport } from './fault-upstream.js'

export type Mode = 'index' | 'tuf'
/** `unhashed-file`: a link with no digest and no size, which hash-only mode relays unverified. */
export const INDEX_KINDS = ['project-list', 'page', 'file', 'unhashed-file', 'metadata'] as const
export const TUF_KINDS = ['tuf-metadata', 'tuf-page', 'tuf-target'] as const
export type ResourceKind = (typeof INDEX_KINDS)[number] | (typeof TUF_KINDS)[number]
const TRANSPORTS: readonly Transport[] = ['keep-alive', 'close', 'http1.0']

export interface Combination {
  readonly seed: number
  /** position in its seed's sequence; with the seed, names the combination */
  readonly index: number
  readonly mode: Mode
  readonly kind: ResourceKind
  readonly transport: Transport
  readonly fault: Fault
  readonly concurrency: 1 | 16
}

/**
 * What the clients may get while the fault is on. `exact`: the verified bytes or a clean refusal.
 * `any`: the answer on the wire is a complete, well-framed HTTP message whose body is simply
 * different (a shorter or longer page), which nothing can tell from a real page where no digest
 * covers it (hash-only pages and the project list): any 200, or a clean refusal.
 */
export type Expectation = 'exact' | 'any'

/** mulberry32: a small, well-mixed 32-bit PRNG; the same seed gives the same sequence everywhere. */
export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)]
  if (item === undefined) throw new Error('pick from an empty list')
  return item
}

/** HTTP/1.0 has no chunked coding (RFC 9112 §7.1 is HTTP/1.1's); such a pair is redrawn. */
function isCoherent(transport: Transport, fault: Fault): boolean {
  return !(transport === 'http1.0' && (fault === 'chunked' || fault === 'chunked-cut'))
}

/** `count` combinations for `seed`, each drawn independently, deterministic in (seed, mode, count). */
export function generateCombinations(seed: number, mode: Mode, count: number): Combination[] {
  const random = prng(seed * 2 + (mode === 'tuf' ? 1 : 0))
  const kinds = mode === 'index' ? INDEX_KINDS : TUF_KINDS
  const combinations: Combination[] = []
  for (let index = 0; index < count; index++) {
    const kind = pick(random, kinds)
    let transport = pick(random, TRANSPORTS)
    let fault = pick(random, FAULTS)
    while (!isCoherent(transport, fault)) {
      transport = pick(random, TRANSPORTS)
      fault = pick(random, FAULTS)
    }
    const concurrency = random() < 0.5 ? 1 : 16
    combinations.push({ seed, index, mode, kind, transport, fault, concurrency })
  }
  return combinations
}

/** Faults whose answer is a complete HTTP message with another body (see Expectation). */
function isWellFramedOtherBody(combination: Combination): boolean {
  if (combination.fault === 'overlong' || combination.fault === 'short-length') return true
  // Close-delimited (HTTP/1.0 without a length): cutting the body short is ending the message.
  return combination.transport === 'http1.0' && (combination.fault === 'truncated' || combination.fault === 'drip')
}

export function expectationOf(combination: Combination): Expectation {
  const isCoveredByDigest = combination.kind !== 'project-list' && combination.kind !== 'page' && combination.kind !== 'unhashed-file'
  return isCoveredByDigest || !isWellFramedOtherBody(combination) ? 'exact' : 'any'
}

/** Odd seeds get JSON pages (PEP 691, with PEP 700 sizes), even seeds HTML (PEP 503, no sizes). */
export function pageFormatOf(seed: number): 'json' | 'html' {
  return seed % 2 === 1 ? 'json' : 'html'
}

/**
 * Whether the good bytes must come back once the fault is off. Not so for a file no digest
 * covers when the faulted answer was indistinguishable from a real one: it was accepted in good
 * faith, and files are immutable, so it is rightly kept.
 */
export function isRecoveryRequired(combination: Combination): boolean {
  return !(combination.kind === 'unhashed-file' && expectationOf(combination) === 'any')
}

export function describeCombination(combination: Combination): string {
  const { seed, index, mode, kind, transport, fault, concurrency } = combination
  const format = mode === 'index' ? ` pages=${pageFormatOf(seed)}` : ''
  return `seed=${seed} #${index} ${mode}/${kind}${format} transport=${transport} fault=${fault} clients=${concurrency}`
}

export interface KnownBug {
  /** the issue 7 item it belongs to */
  readonly item: string
  readonly summary: string
  readonly matches: (combination: Combination) => boolean
}

/**
 * Combinations that fail on this branch for a bug someone else is fixing: left out of `npm test`
 * and named in its output. Delete an entry when its fix lands; the combinations then run again.
 */
export const KNOWN_BUGS: readonly KnownBug[] = []

export function knownBugOf(combination: Combination): KnownBug | undefined {
  return KNOWN_BUGS.find((bug) => bug.matches(combination))
}
