/**
 * Delegations inside targets metadata (TUF 4.5 "delegations", TAP 15 "succinct_roles"): which
 * roles a targets role trusts, with which keys, for which target paths. The walk that uses
 * them is in delegation-walk.ts; path matching is here because it belongs to a role.
 */
import { createHash } from 'node:crypto'
import { MalformedMetadataError } from '../errors.js'
import { expectBoolean, expectInteger, expectObject, expectString, expectStringArray, type JsonObject } from './guards.js'
import { decodeKeys, decodeRoleKeys, type Key, type RoleKeys } from './keys.js'
import { TOP_LEVEL_ROLES } from './root.js'

export interface DelegatedRole extends RoleKeys {
  readonly name: string
  readonly terminating: boolean
  readonly paths?: readonly string[]
  readonly pathHashPrefixes?: readonly string[]
}

export interface SuccinctRoles extends RoleKeys {
  readonly bitLength: number
  readonly namePrefix: string
  /** Hex digits in a bin suffix: enough for the last bin, 2^bitLength - 1. */
  readonly suffixLength: number
}

export interface Delegations {
  readonly keys: ReadonlyMap<string, Key>
  /** In served order: the order is the trust order of TUF 5.6.7.2. */
  readonly roles?: readonly DelegatedRole[]
  readonly succinctRoles?: SuccinctRoles
}

/** A target path prepared once per lookup: its segments and SHA-256 (for hash prefixes and bins). */
export interface TargetPathQuery {
  readonly path: string
  readonly segments: readonly string[]
  readonly sha256Hex: string
  /** The first 32 bits of the SHA-256, as an unsigned integer (TAP 15 bin selection). */
  readonly hashHigh32: number
}

export function prepareTargetPath(path: string): TargetPathQuery {
  const digest = createHash('sha256').update(path, 'utf8').digest()
  return { path, segments: path.split('/'), sha256Hex: digest.toString('hex'), hashHigh32: digest.readUInt32BE(0) }
}

function decodeDelegatedRole(value: unknown, where: string): DelegatedRole {
  const raw = expectObject(value, where)
  const name = expectString(raw['name'], `${where}.name`)
  if (name === '' || (TOP_LEVEL_ROLES as readonly string[]).includes(name)) {
    throw new MalformedMetadataError(`${where}.name must not be empty or a top-level role name`)
  }
  const hasPaths = raw['paths'] !== undefined
  const hasPrefixes = raw['path_hash_prefixes'] !== undefined
  // TUF 4.5: exactly one of "paths" and "path_hash_prefixes"
  if (hasPaths === hasPrefixes) throw new MalformedMetadataError(`${where} must have exactly one of paths and path_hash_prefixes`)
  return {
    name,
    ...decodeRoleKeys(raw, where),
    terminating: expectBoolean(raw['terminating'], `${where}.terminating`),
    ...(hasPaths ? { paths: expectStringArray(raw['paths'], `${where}.paths`) } : {}),
    ...(hasPrefixes ? { pathHashPrefixes: expectStringArray(raw['path_hash_prefixes'], `${where}.path_hash_prefixes`) } : {}),
  }
}

function decodeSuccinctRoles(value: unknown, where: string): SuccinctRoles {
  const raw = expectObject(value, where)
  const bitLength = expectInteger(raw['bit_length'], `${where}.bit_length`, 1)
  if (bitLength > 32) throw new MalformedMetadataError(`${where}.bit_length must be between 1 and 32`)
  return {
    ...decodeRoleKeys(raw, where),
    bitLength,
    namePrefix: expectString(raw['name_prefix'], `${where}.name_prefix`),
    suffixLength: (2 ** bitLength - 1).toString(16).length,
  }
}

/**
 * @throws {MalformedMetadataError} both or neither of roles/succinct_roles, duplicate role names
 */
export function decodeDelegations(value: unknown): Delegations {
  const raw: JsonObject = expectObject(value, 'targets.delegations')
  const keys = decodeKeys(raw['keys'], 'targets.delegations.keys')
  const hasRoles = raw['roles'] !== undefined
  const hasSuccinct = raw['succinct_roles'] !== undefined
  // TAP 15: "roles" and "succinct_roles" are mutually exclusive, and one is required
  if (hasRoles === hasSuccinct) throw new MalformedMetadataError('targets.delegations must have exactly one of roles and succinct_roles')
  if (hasSuccinct) return { keys, succinctRoles: decodeSuccinctRoles(raw['succinct_roles'], 'targets.delegations.succinct_roles') }
  const list = raw['roles']
  if (!Array.isArray(list)) throw new MalformedMetadataError('targets.delegations.roles must be an array')
  const seen = new Set<string>()
  const roles = (list as readonly unknown[]).map((item, i) => {
    const role = decodeDelegatedRole(item, `targets.delegations.roles[${i}]`)
    if (seen.has(role.name)) throw new MalformedMetadataError(`duplicate delegated role ${JSON.stringify(role.name)}`)
    seen.add(role.name)
    return role
  })
  return { keys, roles }
}

/** TAP 15: the bin responsible for a target, `${prefix}-${hex index padded}`. */
export function succinctRoleFor(succinct: SuccinctRoles, query: TargetPathQuery): string {
  const bin = succinct.bitLength === 32 ? query.hashHigh32 : query.hashHigh32 >>> (32 - succinct.bitLength)
  return `${succinct.namePrefix}-${bin.toString(16).padStart(succinct.suffixLength, '0')}`
}

/** TAP 15: whether `name` is one of the bins `succinct` describes. */
export function isSuccinctRoleName(succinct: SuccinctRoles, name: string): boolean {
  const prefix = `${succinct.namePrefix}-`
  if (!name.startsWith(prefix)) return false
  const suffix = name.slice(prefix.length)
  if (suffix.length !== succinct.suffixLength || !/^[0-9a-f]+$/.test(suffix)) return false
  return Number.parseInt(suffix, 16) < 2 ** succinct.bitLength
}

/** The keys and threshold `delegations` assigns to `name`, if it delegates to it at all. */
export function delegatedRoleKeys(delegations: Delegations, name: string): RoleKeys | undefined {
  if (delegations.succinctRoles) return isSuccinctRoleName(delegations.succinctRoles, name) ? delegations.succinctRoles : undefined
  return delegations.roles?.find((role) => role.name === name)
}

/**
 * Python's fnmatch for one path segment: `*` any run, `?` one character, `[...]`/`[!...]` sets;
 * an unclosed `[` is literal. Segments are compared one to one, so `*` never crosses `/`
 * (TUF 4.5 "paths": "the * wildcard does not match the path separator").
 */
function segmentPattern(pattern: string): RegExp {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i)
    if (c === '*') {
      if (!out.endsWith('.*')) out += '.*'
    } else if (c === '?') {
      out += '.'
    } else if (c === '[') {
      let j = i + 1
      if (pattern.charAt(j) === '!') j++
      if (pattern.charAt(j) === ']') j++
      while (j < pattern.length && pattern.charAt(j) !== ']') j++
      if (j >= pattern.length) {
        out += '\\['
      } else {
        let set = pattern.slice(i + 1, j).replace(/\\/g, '\\\\')
        if (set.startsWith('!')) set = `^${set.slice(1)}`
        else if (set.startsWith('^')) set = `\\${set}`
        out += `[${set.replace(/\[/g, '\\[')}]`
        i = j
      }
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
    }
  }
  return new RegExp(`^(?:${out})$`, 's')
}

function matchesPattern(query: TargetPathQuery, pattern: string, compiled: RegExp[]): boolean {
  const parts = pattern.split('/')
  if (parts.length !== query.segments.length) return false
  return parts.every((part, i) => {
    let regex = compiled[i]
    if (!regex) compiled[i] = regex = segmentPattern(part)
    return regex.test(query.segments[i] ?? '')
  })
}

/** Compiled segment patterns per `paths` array, filled lazily: parse once, match many. */
const compiledSegments = new WeakMap<readonly string[], RegExp[][]>()

/** TUF 5.6.7.2: whether `role` is trusted for the target path (paths or path_hash_prefixes). */
export function isDelegatedPath(role: DelegatedRole, query: TargetPathQuery): boolean {
  if (role.pathHashPrefixes) return role.pathHashPrefixes.some((prefix) => query.sha256Hex.startsWith(prefix))
  const paths = role.paths ?? []
  let compiled = compiledSegments.get(paths)
  if (!compiled) {
    compiled = paths.map(() => [])
    compiledSegments.set(paths, compiled)
  }
  const holders = compiled
  return paths.some((pattern, i) => matchesPattern(query, pattern, holders[i] ?? []))
}

/** Role positions by hash prefix, per prefix length; roles with `paths` are tested one by one. */
interface PrefixIndex {
  readonly byLength: ReadonlyMap<number, ReadonlyMap<string, number | readonly number[]>>
  readonly patternRoles: readonly number[]
}

/** Below this many roles, testing each role is as fast as building and using an index. */
const INDEX_MIN_ROLES = 64
const prefixIndexes = new WeakMap<readonly DelegatedRole[], PrefixIndex>()

function buildPrefixIndex(roles: readonly DelegatedRole[]): PrefixIndex {
  const byLength = new Map<number, Map<string, number | number[]>>()
  const patternRoles: number[] = []
  roles.forEach((role, position) => {
    if (!role.pathHashPrefixes) return void patternRoles.push(position)
    for (const prefix of role.pathHashPrefixes) {
      let byPrefix = byLength.get(prefix.length)
      if (!byPrefix) byLength.set(prefix.length, (byPrefix = new Map()))
      const seen = byPrefix.get(prefix)
      if (seen === undefined) byPrefix.set(prefix, position)
      else if (typeof seen === 'number') byPrefix.set(prefix, seen === position ? seen : [seen, position])
      else if (seen[seen.length - 1] !== position) seen.push(position)
    }
  })
  return { byLength, patternRoles }
}

/**
 * TUF 5.6.7.2: the roles in `roles` trusted for the target, in served order (the trust
 * order). Exactly the roles `isDelegatedPath` accepts; a large hash-bin delegation (PEP 458:
 * 16,384 roles) is looked up by prefix instead of testing every role on every lookup.
 */
export function delegatedRolesFor(roles: readonly DelegatedRole[], query: TargetPathQuery): DelegatedRole[] {
  if (roles.length < INDEX_MIN_ROLES) return roles.filter((role) => isDelegatedPath(role, query))
  let index = prefixIndexes.get(roles)
  if (!index) prefixIndexes.set(roles, (index = buildPrefixIndex(roles)))
  const positions = new Set<number>()
  for (const [length, byPrefix] of index.byLength) {
    // a prefix longer than the digest, or not lowercase hex, equals no slice: as startsWith
    const found = byPrefix.get(query.sha256Hex.slice(0, length))
    if (typeof found === 'number') positions.add(found)
    else for (const position of found ?? []) positions.add(position)
  }
  for (const position of index.patternRoles) {
    const role = roles[position]
    if (role && isDelegatedPath(role, query)) positions.add(position)
  }
  const matched: DelegatedRole[] = []
  for (const position of [...positions].sort((a, b) => a - b)) {
    const role = roles[position]
    if (role) matched.push(role)
  }
  return matched
}
