export { StaleUpstreamError } from './errors.js'
export { createDigestVerifier, type DigestEvidence, type DigestVerifier } from './digest-verifier.js'
export { decideFile, type FileDecision, type FilePolicyOptions } from './file-policy.js'
export { staleAtMs, isFresh, checkSerial, negativeStaleAtMs } from './freshness.js'
export {
  ReleasePolicy,
  PolicyOptionError,
  PolicyRefusalError,
  nameGlob,
  type ReleasePolicyOptions,
  type RefusalReason,
  type FileVerdict,
  type FileEvidence,
} from './release-policy.js'
