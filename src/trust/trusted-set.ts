/**
 * The ordered, in-memory set of trusted metadata for one run of the TUF client workflow
 * (TUF 5.3-5.6), after python-tuf's TrustedMetadataSet: bytes in, verified typed metadata
 * out, or a TrustError. The reference time is fixed when the set is created.
 *
 * Deliberately not here: fetching, persisting, choosing file names and the delegation walk
 * (the driver, mirror/tuf-session.ts, does those and feeds bytes in). Calling the steps out of
 * order is a programming error and throws a plain Error.
 *
 * Intermediate timestamp/snapshot are kept even when they fail a "final" check (expired, or a
 * snapshot version that does not match timestamp), so that an older local copy still serves as
 * rollback protection for a newer remote one, exactly as python-tuf does.
 */
import { BadVersionError, EqualVersionError, ExpiredMetadataError, LengthOrHashMismatchError, RepositoryError } from './errors.js'
import { isExpired, type SignedCommon } from './models/common.js'
import { delegatedRoleKeys } from './models/delegations.js'
import { decodeEnvelope, type Envelope } from './models/envelope.js'
import { verifyLengthAndHashes } from './models/file-info.js'
import type { RoleKeys } from './models/keys.js'
import { decodeRoot, type Root } from './models/root.js'
import { decodeSnapshot, type Snapshot } from './models/snapshot.js'
import { decodeTargets, type Targets } from './models/targets.js'
import { decodeTimestamp, type Timestamp } from './models/timestamp.js'
import { KeyCache, verifyThreshold } from './signatures.js'
import { resolveTrustLimits, type TrustLimits } from './limits.js'

export interface TrustedSetOptions {
  /** The reference time of this workflow run (a Date or epoch ms). */
  readonly now: Date | number
  readonly limits?: Partial<TrustLimits>
  /** Share parsed public keys across runs. */
  readonly keyCache?: KeyCache
}

function checkSize(what: string, bytes: Uint8Array, maxBytes: number): void {
  // TUF 5.2 "endless data": bound metadata whose length nothing pins
  if (bytes.byteLength > maxBytes) throw new LengthOrHashMismatchError(`${what} is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`)
}

export class TrustedSet {
  readonly nowMs: number
  readonly limits: TrustLimits
  readonly #keyCache: KeyCache
  #root: Root
  #timestamp: Timestamp | undefined
  #snapshot: Snapshot | undefined
  /** role → delegator → verified targets: a role is trusted only through the delegator that verified it. */
  readonly #targets = new Map<string, Map<string, Targets>>()

  private constructor(root: Root, nowMs: number, limits: TrustLimits, keyCache: KeyCache) {
    this.#root = root
    this.nowMs = nowMs
    this.limits = limits
    this.#keyCache = keyCache
  }

  /**
   * Starts a workflow run from a trusted root (TUF 5.2). The root must be signed by its own
   * threshold; its expiry is deliberately not checked yet (an expired trusted root may still
   * chain to a fresh one, TUF 5.3.10 checks the final root).
   * @throws {TrustError} malformed or not self-signed
   */
  static fromTrustedRoot(bytes: Uint8Array, options: TrustedSetOptions): TrustedSet {
    const limits = resolveTrustLimits(options.limits)
    checkSize('root', bytes, limits.rootMaxBytes)
    const nowMs = typeof options.now === 'number' ? options.now : options.now.getTime()
    const keyCache = options.keyCache ?? new KeyCache()
    const envelope = decodeEnvelope(bytes)
    const root = decodeRoot(envelope.signed)
    verifyThreshold({ roleName: 'root', roleKeys: root.roles.root, keys: root.keys, envelope, cache: keyCache })
    return new TrustedSet(root, nowMs, limits, keyCache)
  }

  get root(): Root {
    return this.#root
  }

  get timestamp(): Timestamp | undefined {
    return this.#timestamp
  }

  get snapshot(): Snapshot | undefined {
    return this.#snapshot
  }

  get targets(): Targets | undefined {
    return this.#targets.get('targets')?.get('root')
  }

  /** A targets role verified through `delegator` ("root" for top-level targets). */
  getTargets(role: string, delegator: string): Targets | undefined {
    return this.#targets.get(role)?.get(delegator)
  }

  /**
   * The earliest `expires` among every role in the set (root, timestamp, snapshot and each
   * loaded targets role), in ms since the epoch: until then the whole set is still valid.
   */
  earliestExpiryMs(): number {
    let earliest = this.#root.expiresEpochMs
    for (const role of [this.timestamp, this.snapshot]) if (role) earliest = Math.min(earliest, role.expiresEpochMs)
    for (const byDelegator of this.#targets.values()) for (const targets of byDelegator.values()) earliest = Math.min(earliest, targets.expiresEpochMs)
    return earliest
  }

  /**
   * Whether the verified `delegator` (through any of its own delegators) delegates to `role`:
   * after a refresh, a role loaded before is reloaded only while this still holds.
   */
  delegatesTo(delegator: string, role: string): boolean {
    if (delegator === 'root') return role === 'targets'
    const delegations = this.#targets.get(delegator)?.values().next().value?.delegations
    return delegations !== undefined && delegatedRoleKeys(delegations, role) !== undefined
  }

  /** Whether `role` was verified through any delegator (it may still need one for another). */
  hasRole(role: string): boolean {
    return this.#targets.has(role)
  }

  /**
   * TUF 5.3.4-5.3.8: accepts root N+1, signed by the trusted root's threshold and its own.
   * @throws {TrustError} malformed, unsigned, or not exactly version N+1
   */
  updateRoot(bytes: Uint8Array): Root {
    if (this.#timestamp) throw new Error('cannot update root after timestamp')
    checkSize('root', bytes, this.limits.rootMaxBytes)
    const envelope = decodeEnvelope(bytes)
    const next = decodeRoot(envelope.signed)
    // TUF 5.3.4: signed by a threshold of keys of the trusted root
    verifyThreshold({ roleName: 'root', roleKeys: this.#root.roles.root, keys: this.#root.keys, envelope, cache: this.#keyCache })
    // TUF 5.3.5: version must be exactly N+1
    if (next.version !== this.#root.version + 1) {
      throw new BadVersionError(`expected root version ${this.#root.version + 1}, got ${next.version}`, next.version <= this.#root.version ? 'rollback' : 'mix_and_match')
    }
    // TUF 5.3.4: and by a threshold of its own keys
    verifyThreshold({ roleName: 'root', roleKeys: next.roles.root, keys: next.keys, envelope, cache: this.#keyCache })
    this.#root = next
    return next
  }

  /**
   * TUF 5.4: accepts a timestamp signed by the final root's timestamp keys, refusing rollback.
   * The new timestamp is kept even if expired (rollback protection), but then this throws.
   * @throws {ExpiredMetadataError} the final root (TUF 5.3.10) or the timestamp (5.4.4) is expired
   * @throws {EqualVersionError} same version as the trusted one: keep using the trusted one
   * @throws {TrustError} malformed, unsigned, rollback
   */
  updateTimestamp(bytes: Uint8Array): Timestamp {
    if (this.#snapshot) throw new Error('cannot update timestamp after snapshot')
    // TUF 5.3.10: the final root must not be expired
    if (isExpired(this.#root, this.nowMs)) throw new ExpiredMetadataError(`root version ${this.#root.version} expired at ${this.#root.expires}`, { role: 'root', version: this.#root.version, expires: this.#root.expires })
    checkSize('timestamp', bytes, this.limits.timestampMaxBytes)
    const envelope = decodeEnvelope(bytes)
    const next = decodeTimestamp(envelope.signed)
    this.#verify('timestamp', this.#root.roles.timestamp, this.#root.keys, envelope)
    const trusted = this.#timestamp
    if (trusted) {
      // TUF 5.4.3.1: timestamp version must not go backwards
      if (next.version < trusted.version) throw new BadVersionError(`timestamp version ${next.version} is older than the trusted ${trusted.version}`)
      if (next.version === trusted.version) throw new EqualVersionError(`timestamp version ${next.version} is the one already trusted`)
      // TUF 5.4.3.2: the snapshot version it announces must not go backwards
      if (next.snapshotMeta.version < trusted.snapshotMeta.version) {
        throw new BadVersionError(`timestamp announces snapshot version ${next.snapshotMeta.version}, older than the trusted ${trusted.snapshotMeta.version}`)
      }
    }
    this.#timestamp = next
    this.#checkFinalTimestamp()
    return next
  }

  /**
   * TUF 5.5: accepts a snapshot matching the timestamp's meta, signed by the snapshot keys,
   * with no targets role removed or rolled back. `fromLocalCache` skips the hash/length check
   * (bytes this engine verified before; the current timestamp may pin a newer snapshot), as
   * python-tuf's `trusted=True`. The new snapshot is kept even if it then fails as final.
   * @throws {TrustError}
   */
  updateSnapshot(bytes: Uint8Array, options: { readonly fromLocalCache?: boolean } = {}): Snapshot {
    const timestamp = this.#timestamp
    if (!timestamp) throw new Error('cannot update snapshot before timestamp')
    if (this.#targets.size > 0) throw new Error('cannot update snapshot after targets')
    this.#checkFinalTimestamp()
    const meta = timestamp.snapshotMeta
    if (!options.fromLocalCache) {
      if (meta.length === undefined) checkSize('snapshot', bytes, this.limits.snapshotMaxBytes)
      // TUF 5.5.2: hashes and length from timestamp, when listed
      verifyLengthAndHashes('snapshot', bytes, meta)
    }
    const envelope = decodeEnvelope(bytes)
    const next = decodeSnapshot(envelope.signed)
    this.#verify('snapshot', this.#root.roles.snapshot, this.#root.keys, envelope)
    const trusted = this.#snapshot
    if (trusted) {
      for (const [name, info] of trusted.meta) {
        const nextInfo = next.meta.get(name)
        // TUF 5.5.5: no targets metadata may disappear ...
        if (!nextInfo) throw new RepositoryError(`new snapshot no longer lists ${name}`)
        // ... or go back in version
        if (nextInfo.version < info.version) throw new BadVersionError(`new snapshot lists ${name} version ${nextInfo.version}, older than the trusted ${info.version}`)
      }
    }
    this.#snapshot = next
    this.#checkFinalSnapshot()
    return next
  }

  /**
   * TUF 5.6: top-level targets, delegated by root.
   * @throws {TrustError}
   */
  updateTargets(bytes: Uint8Array): Targets {
    return this.updateDelegatedTargets(bytes, 'targets', 'root')
  }

  /**
   * TUF 5.6 / 5.6.7.2.1: a targets role, verified against the snapshot meta and the keys its
   * delegator (already trusted) assigns to it. Calling again for a role already verified
   * through another delegator verifies it through this one too.
   * @throws {TrustError}
   */
  updateDelegatedTargets(bytes: Uint8Array, role: string, delegator: string): Targets {
    const snapshot = this.#snapshot
    if (!snapshot) throw new Error('cannot update targets before snapshot')
    this.#checkFinalSnapshot()
    const delegatorKeys = this.#delegatorFor(role, delegator)
    const name = `${role}.json`
    const meta = snapshot.meta.get(name)
    // TUF 5.6.1: the role must be listed in snapshot
    if (!meta) throw new RepositoryError(`snapshot does not list ${name}`)
    if (meta.length === undefined) checkSize(name, bytes, this.limits.targetsMaxBytes)
    // TUF 5.6.2: hashes and length from snapshot, when listed
    verifyLengthAndHashes(name, bytes, meta)
    const envelope = decodeEnvelope(bytes)
    const next = decodeTargets(envelope.signed)
    // TUF 5.6.3: signed by the delegator's threshold of keys for this role
    this.#verify(role, delegatorKeys.roleKeys, delegatorKeys.keys, envelope)
    // TUF 5.6.4: the version snapshot lists (a mismatch is a mix-and-match)
    if (next.version !== meta.version) throw new BadVersionError(`${name} version ${next.version} is not the version ${meta.version} snapshot lists`, 'mix_and_match')
    // TUF 5.6.5
    if (isExpired(next, this.nowMs)) throw new ExpiredMetadataError(`${name} version ${next.version} expired at ${next.expires}`, { role, version: next.version, expires: next.expires })
    let byDelegator = this.#targets.get(role)
    if (!byDelegator) this.#targets.set(role, (byDelegator = new Map()))
    byDelegator.set(delegator, next)
    return next
  }

  #delegatorFor(role: string, delegator: string): { roleKeys: RoleKeys; keys: Root['keys'] } {
    if (delegator === 'root') {
      if (role !== 'targets') throw new Error(`root delegates only top-level roles, not ${role}`)
      return { roleKeys: this.#root.roles.targets, keys: this.#root.keys }
    }
    const parent = this.#targets.get(delegator)?.values().next().value
    if (!parent) throw new Error(`cannot load ${role} before its delegator ${delegator}`)
    const delegations = parent.delegations
    const roleKeys = delegations ? delegatedRoleKeys(delegations, role) : undefined
    if (!delegations || !roleKeys) throw new Error(`${delegator} does not delegate to ${role}`)
    return { roleKeys, keys: delegations.keys }
  }

  #verify(roleName: string, roleKeys: RoleKeys, keys: Root['keys'], envelope: Envelope): void {
    verifyThreshold({ roleName, roleKeys, keys, envelope, cache: this.#keyCache })
  }

  #checkFinalTimestamp(): void {
    const timestamp = this.#timestamp
    // TUF 5.4.4
    if (timestamp && isExpired(timestamp, this.nowMs)) throw expired('timestamp', timestamp)
  }

  #checkFinalSnapshot(): void {
    const snapshot = this.#snapshot
    const timestamp = this.#timestamp
    if (!snapshot || !timestamp) return
    // TUF 5.5.6
    if (isExpired(snapshot, this.nowMs)) throw expired('snapshot', snapshot)
    // TUF 5.5.4: the version timestamp announced (else mix-and-match of snapshot and timestamp)
    if (snapshot.version !== timestamp.snapshotMeta.version) {
      throw new BadVersionError(`snapshot version ${snapshot.version} is not the version ${timestamp.snapshotMeta.version} timestamp announces`, 'mix_and_match')
    }
  }
}

function expired(role: string, metadata: SignedCommon): ExpiredMetadataError {
  return new ExpiredMetadataError(`${role} version ${metadata.version} expired at ${metadata.expires}`, { role, version: metadata.version, expires: metadata.expires })
}
