/**
 * What evidence a file must have before it may be served. The index (PEP 503 fragment or PEP 691
 * `hashes`, PEP 700 `size`) or TUF target info supplies the evidence; this module only decides.
 */
import { IntegrityError, hasStrongHash } from '../base/index.js'
import type { DigestEvidence } from './digest-verifier.js'

export interface FilePolicyOptions {
  /** refuse links that carry no strong hash instead of relaying them unverified */
  readonly requireHashes: boolean
}

export type FileDecision =
  | { readonly kind: 'verify'; readonly evidence: DigestEvidence }
  /** no strong hash: the bytes are relayed as the upstream sent them, and marked so in logs */
  | { readonly kind: 'unverified'; readonly evidence: DigestEvidence }

/**
 * @throws IntegrityError('no_strong_hash') when hashes are required and none is strong
 */
export function decideFile(evidence: DigestEvidence, options: FilePolicyOptions): FileDecision {
  if (hasStrongHash(evidence.hashes)) return { kind: 'verify', evidence }
  if (options.requireHashes) {
    throw new IntegrityError('no_strong_hash', 'the index lists no strong hash (sha256, sha384, sha512, blake2b_256) for this file and --require-hashes is set')
  }
  // A length from PEP 700 still binds something, so it is checked even without a hash.
  return { kind: 'unverified', evidence }
}
