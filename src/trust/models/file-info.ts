/**
 * METAFILES and TARGETS entries (TUF 4.4, 4.5): the version/length/hashes that bind one
 * file's bytes, and the check of bytes against them. Hash names are read through base/'s table
 * (TUF spells BLAKE2b-256 `blake2b-256`); an algorithm it lacks, or a weak one, is a mismatch,
 * never a pass (tuf-conformance test_download_with_unknown_hash_algorithm; python-tuf raises
 * LengthOrHashMismatchError too). Weak ones are refused because signed metadata is the only
 * evidence a target has, and md5 or sha1 would let a colliding file through.
 */
import { findHashAlgorithm } from '../../base/index.js'
import { LengthOrHashMismatchError } from '../errors.js'
import { expectHashes, expectInteger, expectObject, unknownFields, type JsonObject } from './guards.js'

export interface MetaFile {
  readonly version: number
  readonly length?: number
  readonly hashes?: Readonly<Record<string, string>>
}

export interface TargetFile {
  readonly path: string
  readonly length: number
  readonly hashes: Readonly<Record<string, string>>
  /** `custom` and any other unrecognized fields, as served. */
  readonly unrecognized: JsonObject
}

const TARGET_FIELDS = new Set(['length', 'hashes'])

/**
 * @throws {MalformedMetadataError}
 */
export function decodeMetaFile(value: unknown, where: string): MetaFile {
  const raw = expectObject(value, where)
  const version = expectInteger(raw['version'], `${where}.version`, 1)
  const length = raw['length'] === undefined ? undefined : expectInteger(raw['length'], `${where}.length`, 0)
  const hashes = raw['hashes'] === undefined ? undefined : expectHashes(raw['hashes'], `${where}.hashes`)
  return { version, ...(length === undefined ? {} : { length }), ...(hashes === undefined ? {} : { hashes }) }
}

/**
 * @throws {MalformedMetadataError}
 */
export function decodeTargetFile(path: string, value: unknown, where: string): TargetFile {
  const raw: JsonObject = expectObject(value, where)
  return {
    path,
    length: expectInteger(raw['length'], `${where}.length`, 0),
    hashes: expectHashes(raw['hashes'], `${where}.hashes`),
    unrecognized: unknownFields(raw, TARGET_FIELDS),
  }
}

/**
 * Checks `bytes` against an optional length and every listed hash.
 * @throws {LengthOrHashMismatchError} wrong length, wrong digest, or an algorithm that is unknown or weak
 */
export function verifyLengthAndHashes(what: string, bytes: Uint8Array, expected: { readonly length?: number | undefined; readonly hashes?: Readonly<Record<string, string>> | undefined }): void {
  if (expected.length !== undefined && bytes.byteLength !== expected.length) {
    throw new LengthOrHashMismatchError(`${what}: length ${bytes.byteLength} does not match the expected ${expected.length}`)
  }
  for (const [algorithm, hex] of Object.entries(expected.hashes ?? {})) {
    const known = findHashAlgorithm(algorithm)
    if (known === undefined || !known.isStrong) throw new LengthOrHashMismatchError(`${what}: unsupported hash algorithm ${JSON.stringify(algorithm)}`)
    const hasher = known.createHasher()
    hasher.update(bytes)
    if (hasher.digestHex() !== hex) throw new LengthOrHashMismatchError(`${what}: ${algorithm} digest does not match`)
  }
}

/**
 * Verifies downloaded target bytes against their TUF target info: length and every hash.
 * @throws {LengthOrHashMismatchError}
 */
export function verifyTargetBytes(info: TargetFile, bytes: Uint8Array): void {
  verifyLengthAndHashes(`target ${info.path}`, bytes, info)
}
