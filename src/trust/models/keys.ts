/**
 * Public keys and role key assignments (TUF 4.2 KEY, 4.3 "roles"). A key is kept as served;
 * its keyid is the one the delegator lists, never recomputed (TUF 4.2 leaves the keyid
 * derivation to the repository). Unknown keytypes or schemes are kept, not refused: a key we
 * cannot use simply never produces a valid signature (as tuf-js), so a repository may add new
 * key types alongside ones we know.
 */
import { MalformedMetadataError } from '../errors.js'
import { expectInteger, expectObject, expectString, expectStringArray, unknownFields, type JsonObject } from './guards.js'

export interface Key {
  readonly keyid: string
  readonly keytype: string
  readonly scheme: string
  /** `keyval.public`: hex for ed25519, PEM for rsa and ecdsa. */
  readonly publicValue: string
  readonly unrecognized: JsonObject
}

export interface RoleKeys {
  readonly keyids: readonly string[]
  readonly threshold: number
}

const KEY_FIELDS = new Set(['keytype', 'scheme', 'keyval'])

/**
 * Decodes a `keys` object (keyid → key).
 * @throws {MalformedMetadataError}
 */
export function decodeKeys(value: unknown, where: string): ReadonlyMap<string, Key> {
  const object = expectObject(value, where)
  const keys = new Map<string, Key>()
  for (const keyid of Object.keys(object)) {
    const raw = expectObject(object[keyid], `${where}[${keyid}]`)
    const keyval = expectObject(raw['keyval'], `${where}[${keyid}].keyval`)
    keys.set(keyid, {
      keyid,
      keytype: expectString(raw['keytype'], `${where}[${keyid}].keytype`),
      scheme: expectString(raw['scheme'], `${where}[${keyid}].scheme`),
      publicValue: expectString(keyval['public'], `${where}[${keyid}].keyval.public`),
      unrecognized: unknownFields(raw, KEY_FIELDS),
    })
  }
  return keys
}

/**
 * Decodes the `keyids` + `threshold` pair shared by root roles and delegated roles.
 * @throws {MalformedMetadataError} duplicate keyids (python-tuf "Nonunique keyids") or threshold < 1
 */
export function decodeRoleKeys(raw: JsonObject, where: string): RoleKeys {
  const keyids = expectStringArray(raw['keyids'], `${where}.keyids`)
  if (new Set(keyids).size !== keyids.length) throw new MalformedMetadataError(`${where}.keyids has duplicates`)
  const threshold = expectInteger(raw['threshold'], `${where}.threshold`, 1)
  return { keyids, threshold }
}
