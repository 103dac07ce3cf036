/**
 * The hash algorithms tuf-proxy accepts as evidence, and hashers for them.
 *
 * SHA-2 comes from node:crypto (native, ~1.7 GB/s here); BLAKE2b-256 from @noble/hashes, which is
 * about 40 MB/s, so callers use it only when it is a file's only strong hash. MD5 and SHA-1 are
 * deliberately absent: a link that carries only those has no strong hash.
 */
import { createHash } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'

export const STRONG_HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512', 'blake2b_256'] as const
export type StrongHashAlgorithm = (typeof STRONG_HASH_ALGORITHMS)[number]

/** Cheapest first: the order in which a verifier picks among several listed hashes. */
const COST_ORDER: readonly StrongHashAlgorithm[] = ['sha256', 'sha512', 'sha384', 'blake2b_256']

export function isStrongHashAlgorithm(name: string): name is StrongHashAlgorithm {
  return (STRONG_HASH_ALGORITHMS as readonly string[]).includes(name)
}

export interface Hasher {
  update(chunk: Uint8Array): void
  /** Lower-case hex; the hasher cannot be used afterwards. */
  digestHex(): string
}

export function createHasher(algorithm: StrongHashAlgorithm): Hasher {
  if (algorithm === 'blake2b_256') {
    const state = blake2b.create({ dkLen: 32 })
    return {
      update: (chunk) => void state.update(chunk),
      digestHex: () => Buffer.from(state.digest()).toString('hex'),
    }
  }
  const hash = createHash(algorithm)
  return {
    update: (chunk) => void hash.update(chunk),
    digestHex: () => hash.digest('hex'),
  }
}

/** One-shot digest of bytes already in memory. */
export function digestHex(algorithm: StrongHashAlgorithm, bytes: Uint8Array): string {
  const hasher = createHasher(algorithm)
  hasher.update(bytes)
  return hasher.digestHex()
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * The strong hashes among `hashes` (algorithm → hex), with the ones a verifier should check:
 * every listed SHA-2 digest, and BLAKE2b-256 only when no SHA-2 digest is listed (it is slow,
 * and one matching strong digest already binds the bytes).
 */
export function hashesToCheck(hashes: Readonly<Record<string, string>>): Array<{ algorithm: StrongHashAlgorithm; hex: string }> {
  const strong = COST_ORDER.filter((algorithm) => typeof hashes[algorithm] === 'string')
  const hasSha2 = strong.some((algorithm) => algorithm !== 'blake2b_256')
  return strong
    .filter((algorithm) => !(hasSha2 && algorithm === 'blake2b_256'))
    .map((algorithm) => ({ algorithm, hex: (hashes[algorithm] ?? '').toLowerCase() }))
}

export function hasStrongHash(hashes: Readonly<Record<string, string>>): boolean {
  return Object.keys(hashes).some(isStrongHashAlgorithm)
}
