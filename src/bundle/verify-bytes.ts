/**
 * One pass over a file's bytes that checks everything known about them: the index's digests and
 * size (policy/'s verifier), any digests a requirement pinned, and the SHA-256 the bundle names
 * the file by. Used when a file arrives from the upstream and when one already in a bundle (or a
 * cache) is taken again.
 */
import { createReadStream } from 'node:fs'
import { createHasher, findHashAlgorithm, IntegrityError, type Hasher } from '../base/index.js'
import { createDigestVerifier, type DigestEvidence } from '../policy/index.js'

export interface ByteCheck {
  update(chunk: Uint8Array): void
  /** @returns the SHA-256 hex. @throws IntegrityError when any digest or the size differs */
  finish(): string
  readonly receivedBytes: number
}

export function createByteCheck(evidence: DigestEvidence, requiredHashes: ReadonlyMap<string, ReadonlySet<string>> = new Map()): ByteCheck {
  // SHA-256 is computed once, here, and compared with the listed one: the verifier need not hash it again.
  const { sha256: listedSha256, ...otherHashes } = evidence.hashes
  const verifier = createDigestVerifier({ ...evidence, hashes: otherHashes })
  const sha256 = createHasher('sha256')
  const pinned: Array<{ name: string; allowed: ReadonlySet<string>; hasher: Hasher }> = []
  for (const [name, allowed] of requiredHashes) {
    const algorithm = findHashAlgorithm(name)
    if (algorithm) pinned.push({ name: algorithm.name, allowed, hasher: algorithm.createHasher() })
  }
  return {
    update(chunk) {
      verifier.update(chunk)
      sha256.update(chunk)
      for (const pin of pinned) pin.hasher.update(chunk)
    },
    finish() {
      verifier.finish()
      const actual = sha256.digestHex()
      if (listedSha256 !== undefined && actual !== listedSha256.toLowerCase()) throw new IntegrityError('hash_mismatch', `sha256 is ${actual}, expected ${listedSha256.toLowerCase()}`)
      // pip's hash-checking mode: the file must match one of the digests given for its algorithm.
      const matched = pinned.length === 0 || pinned.some((pin) => pin.allowed.has(pin.hasher.digestHex()))
      if (!matched) throw new IntegrityError('hash_mismatch', `matches none of the requirement's --hash digests (${pinned.map((pin) => pin.name).join(', ')})`)
      return actual
    },
    get receivedBytes() {
      return verifier.receivedBytes
    },
  }
}

/** Reads the file at `path` through `check`. @returns its SHA-256. @throws IntegrityError; fs errors */
export async function checkFile(path: string, check: ByteCheck): Promise<string> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) check.update(chunk)
  return check.finish()
}
