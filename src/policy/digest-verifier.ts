/**
 * Streaming verification of a body against the evidence for it: every listed digest the hash
 * table can compute, weak ones included (see `hashesToCheck`), and an expected length. Bytes are fed as they arrive, so a verdict is
 * ready as soon as the last byte is in and memory stays flat whatever the size.
 *
 * It does not decide whether evidence is required; `file-policy.ts` does.
 */
import { IntegrityError, hashesToCheck, type HashCheck, type Hasher } from '../base/index.js'

export interface DigestEvidence {
  /** algorithm → hex, as listed by the index or TUF; names the hash table lacks cannot be checked */
  readonly hashes: Readonly<Record<string, string>>
  readonly expectedSize?: number | undefined
}

export interface DigestVerifier {
  /** @throws IntegrityError('length_mismatch') as soon as more bytes arrive than expected */
  update(chunk: Uint8Array): void
  readonly receivedBytes: number
  /** @throws IntegrityError when the length or any checked digest differs */
  finish(): void
}

export function createDigestVerifier(evidence: DigestEvidence): DigestVerifier {
  const checks: Array<HashCheck & { readonly hasher: Hasher }> = hashesToCheck(evidence.hashes).map((check) => ({
    ...check,
    hasher: check.algorithm.createHasher(),
  }))
  const expectedSize = evidence.expectedSize
  let receivedBytes = 0
  let finished = false
  return {
    get receivedBytes() {
      return receivedBytes
    },
    update(chunk) {
      if (finished) throw new Error('DigestVerifier.update after finish')
      receivedBytes += chunk.byteLength
      if (expectedSize !== undefined && receivedBytes > expectedSize) {
        throw new IntegrityError('length_mismatch', `received more than the expected ${expectedSize} bytes`)
      }
      for (const check of checks) check.hasher.update(chunk)
    },
    finish() {
      if (finished) throw new Error('DigestVerifier.finish called twice')
      finished = true
      if (expectedSize !== undefined && receivedBytes !== expectedSize) {
        throw new IntegrityError('length_mismatch', `received ${receivedBytes} bytes, expected ${expectedSize}`)
      }
      for (const check of checks) {
        const actual = check.hasher.digestHex()
        if (actual !== check.hex) {
          throw new IntegrityError('hash_mismatch', `${check.algorithm.name} is ${actual}, expected ${check.hex}`)
        }
      }
    },
  }
}
