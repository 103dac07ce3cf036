/**
 * The one table of hash algorithms tuf-proxy knows: each algorithm's name, the other spellings
 * that mean it, its digest length, its hasher and whether it is strong. The index parser, the
 * digest verifier, the file policy and the TUF code all read this table, so a rule about a hash
 * is written once.
 *
 * Names are hashlib's, which PEP 503 fragments and PEP 691 `hashes` use ("the hash function name
 * should be one of hashlib.algorithms_guaranteed"). Everything comes from node:crypto at native
 * speed except BLAKE2b-256 (PyPI's `blake2b_256`, TUF's `blake2b-256`), which node:crypto cannot
 * truncate and @noble/hashes computes at about 40 MB/s, so it is checked only when nothing else
 * strong is. SHAKE is absent: its digest length is a choice, so a listed value binds nothing fixed.
 */
import { createHash } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'

export type HashAlgorithmName =
  | 'sha256'
  | 'sha512'
  | 'sha384'
  | 'sha3_256'
  | 'sha3_512'
  | 'sha3_384'
  | 'blake2b'
  | 'blake2s'
  | 'blake2b_256'
  | 'sha224'
  | 'sha3_224'
  | 'sha1'
  | 'md5'

export interface Hasher {
  update(chunk: Uint8Array): void
  /** Lower-case hex; the hasher cannot be used afterwards. */
  digestHex(): string
}

export interface HashAlgorithm {
  /** hashlib's name, as PEP 503 fragments and PEP 691 `hashes` spell it */
  readonly name: HashAlgorithmName
  /** other spellings of the same function: TUF / securesystemslib (`blake2b-256`), OpenSSL (`sha3-256`) */
  readonly aliases: readonly string[]
  readonly hexLength: number
  /**
   * At least 128-bit collision resistance: what `--require-hashes` accepts and what binds a
   * file's bytes. md5 and sha1 have practical collisions; sha224 and sha3_224 give 112 bits.
   */
  readonly isStrong: boolean
  /** far slower than the rest (not native): skipped when another strong digest is checked */
  readonly isSlow: boolean
  createHasher(): Hasher
}

function nodeHasher(opensslName: string): () => Hasher {
  return () => {
    const hash = createHash(opensslName)
    return {
      update: (chunk) => void hash.update(chunk),
      digestHex: () => hash.digest('hex'),
    }
  }
}

function blake2b256Hasher(): Hasher {
  const state = blake2b.create({ dkLen: 32 })
  return {
    update: (chunk) => void state.update(chunk),
    digestHex: () => Buffer.from(state.digest()).toString('hex'),
  }
}

type Row = Omit<HashAlgorithm, 'isSlow' | 'aliases'> & Partial<Pick<HashAlgorithm, 'isSlow' | 'aliases'>>

const row = (entry: Row): HashAlgorithm => Object.freeze({ aliases: [], isSlow: false, ...entry })

/**
 * In order of preference: the first listed one is what an HTML link carries, and checks run in
 * this order. SHA-256 first because pip and PyPI use it; weak ones last.
 */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = Object.freeze([
  row({ name: 'sha256', hexLength: 64, isStrong: true, createHasher: nodeHasher('sha256') }),
  row({ name: 'sha512', hexLength: 128, isStrong: true, createHasher: nodeHasher('sha512') }),
  row({ name: 'sha384', hexLength: 96, isStrong: true, createHasher: nodeHasher('sha384') }),
  row({ name: 'sha3_256', aliases: ['sha3-256'], hexLength: 64, isStrong: true, createHasher: nodeHasher('sha3-256') }),
  row({ name: 'sha3_512', aliases: ['sha3-512'], hexLength: 128, isStrong: true, createHasher: nodeHasher('sha3-512') }),
  row({ name: 'sha3_384', aliases: ['sha3-384'], hexLength: 96, isStrong: true, createHasher: nodeHasher('sha3-384') }),
  // hashlib's `blake2b` and `blake2s` are the full-length BLAKE2b-512 and BLAKE2s-256.
  row({ name: 'blake2b', aliases: ['blake2b512'], hexLength: 128, isStrong: true, createHasher: nodeHasher('blake2b512') }),
  row({ name: 'blake2s', aliases: ['blake2s256'], hexLength: 64, isStrong: true, createHasher: nodeHasher('blake2s256') }),
  // PyPI's JSON API and PEP 458 (TUF targets of Warehouse) list BLAKE2b with a 32-byte digest.
  row({ name: 'blake2b_256', aliases: ['blake2b-256'], hexLength: 64, isStrong: true, isSlow: true, createHasher: blake2b256Hasher }),
  row({ name: 'sha224', hexLength: 56, isStrong: false, createHasher: nodeHasher('sha224') }),
  row({ name: 'sha3_224', aliases: ['sha3-224'], hexLength: 56, isStrong: false, createHasher: nodeHasher('sha3-224') }),
  row({ name: 'sha1', hexLength: 40, isStrong: false, createHasher: nodeHasher('sha1') }),
  row({ name: 'md5', hexLength: 32, isStrong: false, createHasher: nodeHasher('md5') }),
])

const BY_SPELLING: ReadonlyMap<string, HashAlgorithm> = new Map(
  HASH_ALGORITHMS.flatMap((algorithm) => [algorithm.name, ...algorithm.aliases].map((spelling) => [spelling, algorithm] as const)),
)

/** The algorithm a name or alias means, case-insensitively; undefined for one the table lacks. */
export function findHashAlgorithm(name: string): HashAlgorithm | undefined {
  return BY_SPELLING.get(name.toLowerCase())
}

/** The names `--require-hashes` accepts, for messages. */
export const STRONG_HASH_NAMES: readonly HashAlgorithmName[] = HASH_ALGORITHMS.filter((algorithm) => algorithm.isStrong).map((algorithm) => algorithm.name)

export function createHasher(name: HashAlgorithmName): Hasher {
  const algorithm = BY_SPELLING.get(name)
  if (algorithm === undefined) throw new Error(`no hasher for ${JSON.stringify(name)}`)
  return algorithm.createHasher()
}

/** One-shot digest of bytes already in memory. */
export function digestHex(name: HashAlgorithmName, bytes: Uint8Array): string {
  const hasher = createHasher(name)
  hasher.update(bytes)
  return hasher.digestHex()
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export interface HashCheck {
  readonly algorithm: HashAlgorithm
  /** lower-case hex */
  readonly hex: string
}

/**
 * The digests among `hashes` (name or alias → hex) a verifier checks, in table order: every one
 * the table can compute, weak ones included (a tampered file is refused whatever the algorithm;
 * strength only decides what `--require-hashes` accepts), except the slow BLAKE2b-256 when
 * another strong digest already binds the bytes. Names the table lacks cannot be checked and are
 * left out; whether that leaves enough is `hasStrongHash`'s question.
 */
export function hashesToCheck(hashes: Readonly<Record<string, string>>): HashCheck[] {
  const listed: HashCheck[] = []
  for (const [name, hex] of Object.entries(hashes)) {
    const algorithm = findHashAlgorithm(name)
    if (algorithm !== undefined) listed.push({ algorithm, hex: hex.toLowerCase() })
  }
  listed.sort((a, b) => HASH_ALGORITHMS.indexOf(a.algorithm) - HASH_ALGORITHMS.indexOf(b.algorithm))
  const hasFastStrong = listed.some((check) => check.algorithm.isStrong && !check.algorithm.isSlow)
  return listed.filter((check) => !(hasFastStrong && check.algorithm.isSlow))
}

/** Whether any listed digest is strong, i.e. binds the bytes well enough for `--require-hashes`. */
export function hasStrongHash(hashes: Readonly<Record<string, string>>): boolean {
  return Object.keys(hashes).some((name) => findHashAlgorithm(name)?.isStrong === true)
}
