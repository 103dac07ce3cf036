/**
 * An in-memory TUF repository for tests, modeled on python-tuf's tests/repository_simulator.py:
 * metadata lives as editable JSON objects plus a keyring per role, and is signed when bytes
 * are needed (cached until the role changes). Roots are published explicitly and keep their
 * `N.root.json` history. Attack knobs each return the simulator so tests read as stories.
 *
 * Served names: `N.root.json`, `root.json`, `timestamp.json`, `snapshot.json`,
 * `N.snapshot.json`, `<role>.json`, `N.<role>.json` (role percent-encoded as in URLs), and
 * targets by path or `dir/HASH.name`. Every request goes to `fetchLog`.
 *
 * Deliberately not a real repository: it does not check that what it serves is valid.
 */
import { createHash } from 'node:crypto'
import { canonicalJsonBytes } from '../../src/trust/index.js'
import { generateKey, signData, type KeyKind, type PublicKeyDict, type SimKey } from './sim-keys.js'

export type Json = Record<string, unknown>
export interface TargetEntry { length: number; hashes: Record<string, string>; custom?: unknown }
export interface DelegatedRoleDict {
  name: string
  keyids: string[]
  threshold: number
  terminating: boolean
  paths?: string[]
  path_hash_prefixes?: string[]
  [field: string]: unknown
}
export interface DelegationsDict {
  keys: Record<string, PublicKeyDict>
  roles?: DelegatedRoleDict[]
  succinct_roles?: { keyids: string[]; threshold: number; bit_length: number; name_prefix: string }
}
export interface SignedDict extends Json {
  _type: string
  spec_version: string
  version: number
  expires: string
}
export interface RoleDelegation {
  readonly name: string
  readonly paths?: string[]
  readonly pathHashPrefixes?: string[]
  readonly terminating?: boolean
  readonly threshold?: number
  /** Keys for the new role, default one fresh Ed25519 key. */
  readonly keys?: SimKey[]
}

export interface SimulatorOptions {
  /** Reference time for default expiries (default: the real clock, so tuf-js agrees). */
  readonly nowMs?: number
  readonly keyKind?: KeyKind
  readonly consistentSnapshot?: boolean
  /** List length+sha256 in timestamp/snapshot meta (python-tuf compute_metafile_hashes_length). */
  readonly metaHashes?: boolean
}

const DAY_MS = 86_400_000
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export class RepositorySimulator {
  readonly nowMs: number
  readonly keyKind: KeyKind
  readonly metaHashes: boolean
  /** Current `signed` objects by role name. Mutate through methods, or call `invalidate(role)`. */
  readonly roles = new Map<string, SignedDict>()
  /** Keys that sign each role. */
  readonly signers = new Map<string, SimKey[]>()
  /** Who delegates each targets role (`root` for top-level roles). */
  readonly delegatorOf = new Map<string, string>()
  readonly targetFiles = new Map<string, Uint8Array>()
  readonly fetchLog: string[] = []
  readonly #rootHistory: Uint8Array[] = []
  readonly #history = new Map<string, Map<number, Uint8Array>>()
  readonly #current = new Map<string, Uint8Array>()
  readonly #dirty = new Set<string>()
  readonly #serve = new Map<string, (bytes: Uint8Array) => Uint8Array>()
  readonly #serveTarget = new Map<string, (bytes: Uint8Array) => Uint8Array>()
  readonly #extraRootSigners: SimKey[] = []

  constructor(options: SimulatorOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now()
    this.keyKind = options.keyKind ?? 'ed25519'
    this.metaHashes = options.metaHashes ?? false
    const keys: Record<string, PublicKeyDict> = {}
    const roles: Json = {}
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
      const key = generateKey(this.keyKind)
      keys[key.keyid] = key.publicKey
      roles[role] = { keyids: [key.keyid], threshold: 1 }
      this.signers.set(role, [key])
      this.delegatorOf.set(role, 'root')
    }
    this.roles.set('root', { ...this.#header('root'), consistent_snapshot: options.consistentSnapshot ?? false, keys, roles })
    this.roles.set('targets', { ...this.#header('targets'), targets: {} })
    this.roles.set('snapshot', { ...this.#header('snapshot'), meta: { 'targets.json': { version: 1 } } })
    this.roles.set('timestamp', { ...this.#header('timestamp'), meta: { 'snapshot.json': { version: 1 } } })
    this.#rootHistory.push(this.#sign('root'))
    this.#publish('targets')
    this.#refreshTimestampMeta()
    this.#publish('snapshot')
    this.#publish('timestamp')
  }

  #header(type: string): SignedDict {
    return { _type: type, spec_version: '1.0.31', version: 1, expires: isoSeconds(this.nowMs + 365 * DAY_MS) }
  }

  signed(role: string): SignedDict {
    const signed = this.roles.get(role)
    if (!signed) throw new Error(`simulator has no role ${role}`)
    return signed
  }

  targetsOf(role: string): Record<string, TargetEntry> {
    return this.signed(role)['targets'] as Record<string, TargetEntry>
  }

  delegationsOf(role: string): DelegationsDict | undefined {
    return this.signed(role)['delegations'] as DelegationsDict | undefined
  }

  get rootDict(): SignedDict & { keys: Record<string, PublicKeyDict>; roles: Record<string, { keyids: string[]; threshold: number }> } {
    return this.signed('root') as ReturnType<RepositorySimulator['signed']> & { keys: Record<string, PublicKeyDict>; roles: Record<string, { keyids: string[]; threshold: number }> }
  }

  /** Forget cached bytes of `role` after editing its `signed` object directly. */
  invalidate(role: string): this {
    this.#current.delete(role)
    if (role !== 'root' && role !== 'timestamp' && role !== 'snapshot') this.#dirty.add(role)
    return this
  }

  // ---- repository operations ------------------------------------------------------------

  /** Root version 1, or another published version: what a client is initialised with. */
  trustedRoot(version = 1): Uint8Array {
    const bytes = this.#rootHistory[version - 1]
    if (!bytes) throw new Error(`root version ${version} was never published`)
    return bytes
  }

  get rootVersion(): number {
    return this.#rootHistory.length
  }

  /**
   * Bumps the root version and signs it with the root keys (plus, once, keys rotated away),
   * or with exactly `keys` when given.
   */
  publishRoot(keys?: SimKey[]): this {
    const root = this.signed('root')
    root.version = this.#rootHistory.length + 1
    this.#rootHistory.push(this.#sign('root', keys ?? [...this.#extraRootSigners, ...(this.signers.get('root') ?? [])]))
    this.#extraRootSigners.length = 0
    this.#current.delete('root')
    return this
  }

  /** Re-signs the current root as version 1 (with `keys` if given), forgetting published roots. */
  resetInitialRoot(keys?: SimKey[]): this {
    this.#rootHistory.length = 0
    return this.publishRoot(keys)
  }

  /** Sets which keys (by SimKey) and threshold root assigns to a top-level role; publish afterwards. */
  setRootRole(role: string, keys: SimKey[], threshold: number): this {
    const root = this.rootDict
    for (const key of keys) root.keys[key.keyid] = key.publicKey
    root.roles[role] = { keyids: keys.map((key) => key.keyid), threshold }
    return this
  }

  setConsistentSnapshot(value: boolean): this {
    this.signed('root')['consistent_snapshot'] = value
    return this
  }

  addTarget(role: string, path: string, bytes: Uint8Array, custom?: unknown): this {
    const entry: TargetEntry = { length: bytes.byteLength, hashes: { sha256: sha256(bytes) } }
    if (custom !== undefined) entry.custom = custom
    this.targetsOf(role)[path] = entry
    this.targetFiles.set(path, bytes)
    return this.invalidate(role)
  }

  addDelegation(delegator: string, delegation: RoleDelegation): this {
    const keys = delegation.keys ?? [generateKey(this.keyKind)]
    const parent = this.signed(delegator)
    const delegations = (parent['delegations'] ??= { keys: {}, roles: [] }) as DelegationsDict
    for (const key of keys) delegations.keys[key.keyid] = key.publicKey
    const role: DelegatedRoleDict = { name: delegation.name, keyids: keys.map((key) => key.keyid), threshold: delegation.threshold ?? 1, terminating: delegation.terminating ?? false }
    if (delegation.pathHashPrefixes) role.path_hash_prefixes = delegation.pathHashPrefixes
    else role.paths = delegation.paths ?? ['*']
    ;(delegations.roles ??= []).push(role)
    if (!this.roles.has(delegation.name)) {
      this.roles.set(delegation.name, { ...this.#header('targets'), targets: {} })
      this.signers.set(delegation.name, keys)
      this.invalidate(delegation.name)
    }
    this.delegatorOf.set(delegation.name, delegator)
    return this.invalidate(delegator)
  }

  /** TAP 15 hash bins: 2^bitLength roles `${prefix}-${hex}`, one shared key. */
  addSuccinctRoles(delegator: string, bitLength: number, prefix: string, keys: SimKey[] = [generateKey(this.keyKind)]): this {
    const parent = this.signed(delegator)
    const keyDicts: Record<string, PublicKeyDict> = {}
    for (const key of keys) keyDicts[key.keyid] = key.publicKey
    parent['delegations'] = { keys: keyDicts, succinct_roles: { keyids: keys.map((key) => key.keyid), threshold: 1, bit_length: bitLength, name_prefix: prefix } }
    const width = (2 ** bitLength - 1).toString(16).length
    for (let bin = 0; bin < 2 ** bitLength; bin++) {
      const name = `${prefix}-${bin.toString(16).padStart(width, '0')}`
      this.roles.set(name, { ...this.#header('targets'), targets: {} })
      this.signers.set(name, keys)
      this.delegatorOf.set(name, delegator)
      this.invalidate(name)
    }
    return this.invalidate(delegator)
  }

  /** The succinct bin of `delegator` responsible for `path`. */
  binOf(delegator: string, path: string): string {
    const succinct = this.delegationsOf(delegator)?.succinct_roles
    if (!succinct) throw new Error(`${delegator} has no succinct roles`)
    const high = createHash('sha256').update(path, 'utf8').digest().readUInt32BE(0)
    const bin = succinct.bit_length === 32 ? high : high >>> (32 - succinct.bit_length)
    return `${succinct.name_prefix}-${bin.toString(16).padStart((2 ** succinct.bit_length - 1).toString(16).length, '0')}`
  }

  /**
   * Replaces the keys of `role` with `count` fresh keys in its delegator. For root, the next
   * publishRoot() is signed by old and new keys (TUF 5.3.4); other top-level roles change in
   * root, so publish a root afterwards.
   */
  rotateKeys(role: string, options: { count?: number; threshold?: number } = {}): this {
    const fresh = Array.from({ length: options.count ?? 1 }, () => generateKey(this.keyKind))
    const old = this.signers.get(role) ?? []
    const delegator = this.delegatorOf.get(role)
    if (delegator === 'root') {
      const root = this.rootDict
      const entry = root.roles[role]
      if (!entry) throw new Error(`root has no role ${role}`)
      for (const keyid of entry.keyids) delete root.keys[keyid]
      for (const key of fresh) root.keys[key.keyid] = key.publicKey
      root.roles[role] = { keyids: fresh.map((key) => key.keyid), threshold: options.threshold ?? entry.threshold }
      if (role === 'root') this.#extraRootSigners.push(...old)
    } else if (delegator) {
      const delegations = this.delegationsOf(delegator)
      const entry = delegations?.roles?.find((candidate) => candidate.name === role)
      if (!delegations || !entry) throw new Error(`${delegator} does not delegate ${role}`)
      for (const key of fresh) delegations.keys[key.keyid] = key.publicKey
      entry.keyids = fresh.map((key) => key.keyid)
      if (options.threshold) entry.threshold = options.threshold
      this.invalidate(delegator)
    }
    this.signers.set(role, fresh)
    return this.invalidate(role)
  }

  /** Bumps every changed targets role, lists all of them in snapshot, then updates timestamp. */
  updateSnapshot(): this {
    const snapshot = this.signed('snapshot')
    const meta = snapshot['meta'] as Record<string, Json>
    for (const role of this.#dirty) {
      const signed = this.roles.get(role)
      if (!signed) continue
      const listed = meta[`${role}.json`]
      if (listed && listed['version'] === signed.version) signed.version += 1
      this.#current.delete(role)
      this.#publish(role)
      meta[`${role}.json`] = this.#metaFor(role)
    }
    this.#dirty.clear()
    snapshot.version += 1
    this.#current.delete('snapshot')
    this.#publish('snapshot')
    return this.updateTimestamp()
  }

  /** Points timestamp at the current snapshot and bumps its version. */
  updateTimestamp(): this {
    this.#refreshTimestampMeta()
    this.signed('timestamp').version += 1
    this.#current.delete('timestamp')
    this.#publish('timestamp')
    return this
  }

  #refreshTimestampMeta(): void {
    this.signed('timestamp')['meta'] = { 'snapshot.json': this.#metaFor('snapshot') }
  }

  #metaFor(role: string): Json {
    const info: Json = { version: this.signed(role).version }
    if (this.metaHashes) {
      const bytes = this.currentBytes(role)
      info['length'] = bytes.byteLength
      info['hashes'] = { sha256: sha256(bytes) }
    }
    return info
  }

  // ---- signing and serving ------------------------------------------------------------

  #sign(role: string, keys = this.signers.get(role) ?? [], signed: Json = this.signed(role)): Uint8Array {
    const payload = canonicalJsonBytes(signed)
    const signatures = keys.map((key) => ({ keyid: key.keyid, sig: signData(key, payload) }))
    return Buffer.from(JSON.stringify({ signatures, signed }))
  }

  #publish(role: string): void {
    const bytes = this.currentBytes(role)
    let versions = this.#history.get(role)
    if (!versions) this.#history.set(role, (versions = new Map()))
    versions.set(this.signed(role).version, bytes)
  }

  /** The bytes of the current version of `role`, signed by its current signers. */
  currentBytes(role: string): Uint8Array {
    if (role === 'root') return this.trustedRoot(this.#rootHistory.length)
    let bytes = this.#current.get(role)
    if (!bytes) this.#current.set(role, (bytes = this.#sign(role)))
    return bytes
  }

  /** Published bytes of `role` at `version`, if that version was ever published. */
  historicBytes(role: string, version: number): Uint8Array | undefined {
    return role === 'root' ? this.#rootHistory[version - 1] : this.#history.get(role)?.get(version)
  }

  /** Serves a metadata name (see the module header), or undefined for a 404. */
  fetch(name: string): Uint8Array | undefined {
    this.fetchLog.push(name)
    const parsed = this.#parseName(name)
    if (!parsed) return undefined
    const { role, version } = parsed
    let bytes: Uint8Array | undefined
    if (role === 'root') bytes = version === undefined ? this.currentBytes('root') : this.#rootHistory[version - 1]
    else if (role === 'timestamp') bytes = version === undefined ? this.currentBytes('timestamp') : undefined
    else if (version === undefined || version === this.signed(role).version) bytes = this.currentBytes(role)
    else bytes = this.historicBytes(role, version)
    const transform = this.#serve.get(role === 'root' ? `root@${version ?? 'current'}` : role)
    if (!transform) return bytes
    // A transformed root is served only where a root exists, so N+1 probing still ends in a 404.
    if (role === 'root' && !bytes) return undefined
    return transform(bytes ?? this.currentBytes(role))
  }

  #parseName(name: string): { role: string; version?: number } | undefined {
    if (!name.endsWith('.json')) return undefined
    const stem = name.slice(0, -'.json'.length)
    const plain = safeDecode(stem)
    if (plain !== undefined && this.roles.has(plain)) return { role: plain }
    const match = /^(\d+)\.(.+)$/.exec(stem)
    const role = match?.[2] === undefined ? undefined : safeDecode(match[2])
    if (!match || role === undefined || !this.roles.has(role)) return undefined
    return { role, version: Number(match[1]) }
  }

  /** Serves a target by path, or by `dir/HASH.name` for any of its listed hashes. */
  fetchTarget(path: string): Uint8Array | undefined {
    this.fetchLog.push(`targets/${path}`)
    let bytes = this.targetFiles.get(path)
    let canonical = path
    if (!bytes) {
      const slash = path.lastIndexOf('/')
      const match = /^([0-9a-f]{64}|[0-9a-f]{128})\.(.+)$/.exec(path.slice(slash + 1))
      if (match?.[1] && match[2]) {
        canonical = `${path.slice(0, slash + 1)}${match[2]}`
        const candidate = this.targetFiles.get(canonical)
        const algorithm = match[1].length === 64 ? 'sha256' : 'sha512'
        if (candidate && createHash(algorithm).update(candidate).digest('hex') === match[1]) bytes = candidate
      }
    }
    const transform = this.#serveTarget.get(canonical)
    return bytes && transform ? transform(bytes) : bytes
  }

  /** Requests for metadata only, in order. */
  metadataRequests(): string[] {
    return this.fetchLog.filter((entry) => !entry.startsWith('targets/'))
  }

  // ---- attack knobs ---------------------------------------------------------------------

  /** Signs `role` with these keys from now on (wrong keys, too few keys). */
  signWith(role: string, keys: SimKey[]): this {
    this.signers.set(role, keys)
    this.#current.delete(role)
    return this
  }

  /** Sets `expires` of `role` (indefinite freeze when in the past). */
  expire(role: string, atMs: number): this {
    this.signed(role).expires = isoSeconds(atMs)
    return role === 'root' ? this : this.invalidate(role)
  }

  /** Serves an earlier published version of `role` under every name of `role`. */
  rollback(role: string, toVersion: number): this {
    const old = this.historicBytes(role, toVersion)
    if (!old) throw new Error(`${role} version ${toVersion} was never published`)
    this.#serve.set(role, () => old)
    return this
  }

  /** Mix-and-match: serve the previous targets.json beside the current snapshot. */
  serveOldSnapshotTargets(): this {
    return this.rollback('targets', this.signed('targets').version - 1)
  }

  /** Flips one bit of the served bytes of a metadata name, after signing. */
  corruptBytes(name: string): this {
    return this.#transform(name, (bytes) => tamperSignedByte(bytes))
  }

  /** Flips one bit of a served target. */
  corruptTarget(path: string): this {
    this.#serveTarget.set(path, (bytes) => {
      const copy = Uint8Array.from(bytes)
      copy[0] = (copy[0] ?? 0) ^ 1
      return copy
    })
    return this
  }

  /** Serves `role` re-signed with a different `_type` (wrong role, valid signature). */
  mislabel(name: string, type: string): this {
    const role = this.#roleOf(name)
    return this.#transform(name, () => this.#sign(role, undefined, { ...this.signed(role), _type: type }))
  }

  /** Endless data: pads the served metadata (still valid JSON) to `totalBytes`. */
  inflate(name: string, totalBytes: number): this {
    return this.#transform(name, (bytes) => Buffer.concat([bytes, Buffer.alloc(Math.max(0, totalBytes - bytes.byteLength), 0x20)]))
  }

  /** Endless data for a target: serves it with `extraBytes` appended. */
  inflateTarget(path: string, extraBytes: number): this {
    this.#serveTarget.set(path, (bytes) => Buffer.concat([bytes, Buffer.alloc(extraBytes, 0x41)]))
    return this
  }

  /** Removes `role` from snapshot meta (the next snapshot no longer lists it). */
  dropFromSnapshot(role: string): this {
    delete (this.signed('snapshot')['meta'] as Json)[`${role}.json`]
    this.#dirty.delete(role)
    return this.invalidate('snapshot')
  }

  /** Serves the metadata with its first signature listed twice. */
  duplicateSignature(name: string): this {
    return this.#transform(name, (bytes) => {
      const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signatures: unknown[]; signed: unknown }
      envelope.signatures.push(envelope.signatures[0])
      return Buffer.from(JSON.stringify(envelope))
    })
  }

  /** Serves `text` verbatim for a metadata name. */
  malformed(name: string, text: string): this {
    return this.#transform(name, () => Buffer.from(text, 'utf8'))
  }

  /**
   * An attacker holding only the online keys (timestamp, snapshot) republishes snapshot and
   * timestamp with new versions but no new targets: TUF cannot tell this from a real update.
   */
  resignWithOnlineKeys(): this {
    this.#dirty.clear()
    return this.updateSnapshot()
  }

  /** Stops every attack transform: serve honest bytes again. */
  heal(): this {
    this.#serve.clear()
    this.#serveTarget.clear()
    return this
  }

  #roleOf(name: string): string {
    const role = this.#parseName(name)?.role
    if (!role) throw new Error(`simulator serves no metadata named ${name}`)
    return role
  }

  /** Attacks on root target one version (`N.root.json`); on other roles, every name of the role. */
  #transform(name: string, transform: (bytes: Uint8Array) => Uint8Array): this {
    const parsed = this.#parseName(name)
    if (!parsed) throw new Error(`simulator serves no metadata named ${name}`)
    this.#serve.set(parsed.role === 'root' ? `root@${parsed.version ?? 'current'}` : parsed.role, transform)
    return this
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** Changes one signed byte: the `version` digits are rewritten, so JSON stays valid but the signature fails. */
function tamperSignedByte(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('utf8')
  const index = text.lastIndexOf('"version":')
  if (index < 0) return Buffer.concat([bytes, Buffer.from('x')])
  const digit = index + '"version":'.length
  const copy = Buffer.from(bytes)
  const current = copy[digit] ?? 0x31
  copy[digit] = current === 0x39 ? 0x38 : current + 1
  return copy
}
