/**
 * Root metadata (TUF 4.3): the keys and thresholds of the four top-level roles and the
 * `consistent_snapshot` switch. Verification of who signed it is in signatures.ts.
 */
import { MalformedMetadataError } from '../errors.js'
import { COMMON_FIELDS, decodeCommon, type SignedCommon } from './common.js'
import { expectBoolean, expectObject, unknownFields, type JsonObject } from './guards.js'
import { decodeKeys, decodeRoleKeys, type Key, type RoleKeys } from './keys.js'

export const TOP_LEVEL_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number]

export interface Root extends SignedCommon {
  readonly type: 'root'
  readonly consistentSnapshot: boolean
  readonly keys: ReadonlyMap<string, Key>
  readonly roles: Readonly<Record<TopLevelRole, RoleKeys>>
  readonly unrecognized: JsonObject
}

const ROOT_FIELDS = new Set([...COMMON_FIELDS, 'consistent_snapshot', 'keys', 'roles'])

/**
 * Decodes a root `signed` object.
 * @throws {MalformedMetadataError}
 */
export function decodeRoot(signed: JsonObject): Root {
  const common = decodeCommon(signed, 'root')
  // python-tuf defaults a missing consistent_snapshot to false; the spec makes it required
  // only for consistent repositories, so absence means "not consistent".
  const consistentSnapshot = signed['consistent_snapshot'] === undefined ? false : expectBoolean(signed['consistent_snapshot'], 'root.consistent_snapshot')
  const rolesRaw = expectObject(signed['roles'], 'root.roles')
  const names = Object.keys(rolesRaw)
  if (names.length !== TOP_LEVEL_ROLES.length || !TOP_LEVEL_ROLES.every((role) => names.includes(role))) {
    throw new MalformedMetadataError(`root.roles must name exactly ${TOP_LEVEL_ROLES.join(', ')}`)
  }
  const role = (name: TopLevelRole): RoleKeys => decodeRoleKeys(expectObject(rolesRaw[name], `root.roles.${name}`), `root.roles.${name}`)
  return {
    ...common,
    type: 'root',
    consistentSnapshot,
    keys: decodeKeys(signed['keys'], 'root.keys'),
    roles: { root: role('root'), timestamp: role('timestamp'), snapshot: role('snapshot'), targets: role('targets') },
    unrecognized: unknownFields(signed, ROOT_FIELDS),
  }
}
