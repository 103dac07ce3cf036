/**
 * The fields every TUF `signed` object shares (TUF 4.3: `_type`, `spec_version`, `version`,
 * `expires`) and the strict `expires` format. Role-specific fields live in each role's module.
 */
import { MalformedMetadataError } from '../errors.js'
import { expectInteger, expectString, type JsonObject } from './guards.js'

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets'

export interface SignedCommon {
  readonly type: RoleType
  readonly specVersion: string
  readonly version: number
  /** Expiry instant in epoch milliseconds. */
  readonly expiresEpochMs: number
  /** The `expires` string as served, for status pages. */
  readonly expires: string
}

export const COMMON_FIELDS: readonly string[] = ['_type', 'spec_version', 'version', 'expires']

// python-tuf parses with strptime("%Y-%m-%dT%H:%M:%SZ"); we accept only the canonical
// two-digit form, so no fractional seconds and no offsets other than Z.
const EXPIRES_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/

/**
 * Parses `YYYY-MM-DDTHH:MM:SSZ` into epoch ms, refusing impossible dates (2021-02-30).
 * @throws {MalformedMetadataError}
 */
export function parseExpires(value: string): number {
  const match = EXPIRES_PATTERN.exec(value)
  if (!match) throw new MalformedMetadataError(`expires must look like 2030-01-01T00:00:00Z, got ${JSON.stringify(value)}`)
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(epochMs)
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new MalformedMetadataError(`expires is not a valid date: ${value}`)
  }
  return epochMs
}

/**
 * Decodes the common header of a `signed` object and checks its `_type`.
 * @throws {MalformedMetadataError} wrong `_type`, spec_version major other than 1, bad version or expires
 */
export function decodeCommon(signed: JsonObject, expected: RoleType): SignedCommon {
  const type = expectString(signed['_type'], 'signed._type')
  if (type !== expected) throw new MalformedMetadataError(`expected ${expected} metadata, got _type ${JSON.stringify(type)}`)
  const specVersion = expectString(signed['spec_version'], 'signed.spec_version')
  const parts = specVersion.split('.')
  // TUF 4.3: clients refuse a different major version; python-tuf accepts X.Y and X.Y.Z
  if ((parts.length !== 2 && parts.length !== 3) || !parts.every((part) => /^\d+$/.test(part))) {
    throw new MalformedMetadataError(`cannot parse spec_version ${JSON.stringify(specVersion)}`)
  }
  if (parts[0] !== '1') throw new MalformedMetadataError(`unsupported spec_version ${specVersion} (major version must be 1)`)
  const version = expectInteger(signed['version'], 'signed.version', 1)
  const expires = expectString(signed['expires'], 'signed.expires')
  return { type, specVersion, version, expires, expiresEpochMs: parseExpires(expires) }
}

/** TUF 5.x "is expired": the reference time is at or past `expires` (python-tuf's `>=`). */
export function isExpired(common: SignedCommon, nowMs: number): boolean {
  return nowMs >= common.expiresEpochMs
}
