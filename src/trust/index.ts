/**
 * The TUF trust engine's public API: a pure, synchronous implementation of the TUF client
 * workflow rules. Bytes and `now` go in; verified, typed metadata or a TrustError comes out.
 */
export {
  TrustError,
  type TrustErrorCode,
  UnsignedMetadataError,
  BadVersionError,
  EqualVersionError,
  ExpiredMetadataError,
  type ExpiredRole,
  LengthOrHashMismatchError,
  MalformedMetadataError,
  RepositoryError,
} from './errors.js'
export { canonicalJsonBytes, canonicalJsonString } from './canonical-json.js'
export { DEFAULT_TRUST_LIMITS, resolveTrustLimits, type TrustLimits } from './limits.js'
export { TrustedSet, type TrustedSetOptions } from './trusted-set.js'
export { KeyCache, isValidSignature, verifyThreshold } from './signatures.js'
export { walkDelegations, walkToRole, type RoleRequest } from './delegation-walk.js'
export { quoteRoleName, metadataFileName, consistentTargetPaths, targetDownloadPath } from './target-path.js'
export { verifyTargetBytes, verifyLengthAndHashes, type MetaFile, type TargetFile } from './models/file-info.js'
export { decodeEnvelope, type Envelope, type Signature } from './models/envelope.js'
export { parseExpires, isExpired, type SignedCommon, type RoleType } from './models/common.js'
export type { Key, RoleKeys } from './models/keys.js'
export { TOP_LEVEL_ROLES, type Root, type TopLevelRole } from './models/root.js'
export type { Timestamp } from './models/timestamp.js'
export type { Snapshot } from './models/snapshot.js'
export type { Targets } from './models/targets.js'
export {
  type Delegations,
  type DelegatedRole,
  type SuccinctRoles,
  type TargetPathQuery,
  prepareTargetPath,
  isDelegatedPath,
  succinctRoleFor,
  isSuccinctRoleName,
} from './models/delegations.js'
