export { StaleUpstreamError } from './errors.js'
export { createDigestVerifier, type DigestEvidence, type DigestVerifier } from './digest-verifier.js'
export { decideFile, type FileDecision, type FilePolicyOptions } from './file-policy.js'
export { staleAtMs, isFresh, checkSerial, negativeStaleAtMs } from './freshness.js'
