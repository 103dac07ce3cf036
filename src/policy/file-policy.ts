/**
 * What evidence a file must have before it may be served. The index (PEP 503 fragment or PEP 691
 * `hashes`, PEP 700 `size`) or TUF target info supplies the evidence; this module only decides.
 * Whatever it decides, the verifier checks every digest it can compute: strength decides only
 * whether the evidence is enough under `--require-hashes`.
 */
import { IntegrityError, STRONG_HASH_NAMES, hasStrongHash } from '../base/index.js'
import type { DigestEvidence } from './digest-verifier.js'

export interface FilePolicyOptions {
  /** refuse links that carry no strong hash instead of relaying them checked only by weak ones */
  readonly requireHashes: boolean
}

export type FileDecision =
  | { readonly kind: 'verify'; readonly evidence: DigestEvidence }
  /**
   * no strong hash: the bytes are checked against the weak digests and the PEP 700 size that are
   * listed (which catch corruption and tampering short of a chosen collision), or against nothing
   */
  | { readonly kind: 'weak'; readonly evidence: DigestEvidence }

/**
 * @throws IntegrityError('no_strong_hash') when hashes are required and none is strong
 */
export function decideFile(evidence: DigestEvidence, options: FilePolicyOptions): FileDecision {
  if (hasStrongHash(evidence.hashes)) return { kind: 'verify', evidence }
  if (options.requireHashes) {
    throw new IntegrityError('no_strong_hash', `the index lists no strong hash (${STRONG_HASH_NAMES.join(', ')}) for this file and --require-hashes is set`)
  }
  return { kind: 'weak', evidence }
}
