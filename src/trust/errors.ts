/**
 * The TrustError family: the TUF repository (or whoever stands between it and us) served
 * metadata or a target that the client workflow must refuse. Named by fault as python-tuf's
 * `tuf/api/exceptions.py` does. Misuse of the engine (calling steps out of order) is a
 * programming error and throws a plain `Error`, never one of these.
 */
import { ProxyError, type Fault } from '../base/index.js'

export type TrustErrorCode =
  | 'bad_signature'
  | 'threshold_not_met'
  | 'rollback'
  | 'equal_version'
  | 'expired'
  | 'length_or_hash_mismatch'
  | 'mix_and_match'
  | 'malformed'
  | 'unknown_target'
  | 'repository'

/** Base of every refusal by the TUF engine; `code` is the stable reason. */
export class TrustError extends ProxyError {
  readonly code: TrustErrorCode
  readonly fault: Fault
  constructor(code: TrustErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    // A path no trusted role lists is an answer, not bad data: the repository has no such target.
    this.fault = code === 'unknown_target' ? 'not_found' : 'bad_upstream_data'
  }
}

/**
 * Signatures do not reach the role's threshold. `bad_signature` when not a single listed key
 * produced a valid signature, `threshold_not_met` when some did but too few.
 */
export class UnsignedMetadataError extends TrustError {
  constructor(message: string, readonly validSignatures: number) {
    super(validSignatures === 0 ? 'bad_signature' : 'threshold_not_met', message)
  }
}

/** A version went backwards, or is not the one the trusted metadata announced. */
export class BadVersionError extends TrustError {
  constructor(message: string, code: 'rollback' | 'equal_version' | 'mix_and_match' = 'rollback') {
    super(code, message)
  }
}

/** The new version equals the trusted one: nothing new, keep what is trusted (TUF 5.4.3). */
export class EqualVersionError extends BadVersionError {
  constructor(message: string) {
    super(message, 'equal_version')
  }
}

/** Which role expired, and when: for messages that must name it (the offline server's 503). */
export interface ExpiredRole {
  readonly role: string
  readonly version: number
  readonly expires: string
}

export class ExpiredMetadataError extends TrustError {
  constructor(
    message: string,
    readonly expiredRole?: ExpiredRole,
  ) {
    super('expired', message)
  }
}

export class LengthOrHashMismatchError extends TrustError {
  constructor(message: string) {
    super('length_or_hash_mismatch', message)
  }
}

/** Metadata is not valid TUF metadata of the expected role (JSON, schema, `_type`, spec_version). */
export class MalformedMetadataError extends TrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed', message, options)
  }
}

/** The repository is inconsistent in a way TUF names generically (e.g. a role vanished from snapshot). */
export class RepositoryError extends TrustError {
  constructor(message: string, code: 'repository' | 'unknown_target' = 'repository') {
    super(code, message)
  }
}
