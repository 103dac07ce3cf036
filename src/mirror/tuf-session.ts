/**
 * The async driver of the TUF client workflow (TUF 5.3-5.7) around the pure trust engine,
 * after python-tuf's ngclient Updater: it fetches metadata, feeds the bytes to a TrustedSet,
 * persists only what the engine accepted (byte-identical, under plain names: `root.json`,
 * `timestamp.json`, `snapshot.json`, `targets.json`, `<quoted role>.json`) and answers target
 * lookups by walking delegations.
 *
 * It owns the request sequence (root N+1 probing until a 404, timestamp, snapshot, targets,
 * delegated roles in walk order; local copies first so nothing is fetched needlessly) and the
 * URL names (`N.snapshot.json` with consistent snapshots, percent-encoded role names).
 * It deliberately defines its own fetcher and store ports, so it depends on neither upstream/
 * nor store/; and it downloads no targets (callers verify them with `verifyTargetBytes`).
 */
import type { Clock } from '../base/index.js'
import {
  EqualVersionError,
  KeyCache,
  RepositoryError,
  TrustError,
  TrustedSet,
  metadataFileName,
  resolveTrustLimits,
  targetDownloadPath,
  walkDelegations,
  isSuccinctRoleName,
  TOP_LEVEL_ROLES,
  type TargetFile,
  type TrustLimits,
} from '../trust/index.js'

/** Fetches one URL, refusing bodies over `maxBytes`; throws on HTTP errors (see `isNotFound`). */
export interface MetadataFetcher {
  fetch(url: string, maxBytes: number): Promise<Uint8Array>
}

/** Persisted metadata by plain file name; `write` must be atomic (temp file + rename). */
export interface MetadataStore {
  read(name: string): Promise<Uint8Array | undefined>
  write(name: string, bytes: Uint8Array): Promise<void>
}

export interface TufSessionOptions {
  /** Base URL of the repository's metadata; a trailing slash is added if missing. */
  readonly metadataBaseUrl: string
  readonly fetcher: MetadataFetcher
  readonly store: MetadataStore
  readonly clock: Clock
  readonly limits?: Partial<TrustLimits>
  /** Root to start from when the store holds no `root.json` (it is then persisted). */
  readonly trustedRoot?: Uint8Array
  /** Whether a fetch error means "not there" (HTTP 403/404): ends root probing (TUF 5.3.3). */
  readonly isNotFound: (error: unknown) => boolean
  /** Called with the served name (e.g. `3.root.json`, `timestamp.json`) of each accepted download. */
  readonly onVerified?: (name: string, bytes: Uint8Array) => void
  /**
   * Count a complete, unexpired set of stored top-level metadata as refreshed, so lookups work
   * before the first refresh succeeds (the proxy's choice; a TUF client refreshes first, TUF 5.3).
   */
  readonly trustLocalMetadata?: boolean
  /** Also persist every verified root as `N.root.json` (off by default: a TUF client's metadata dir holds only plain names). */
  readonly keepRootHistory?: boolean
}

export interface RoleStatus {
  readonly version: number
  readonly expires: string
}

export interface TufStatus {
  readonly rootVersion: number
  readonly rootExpires: string
  readonly consistentSnapshot: boolean
  readonly thresholds: Readonly<Record<string, { readonly threshold: number; readonly keys: number }>>
  readonly timestamp?: RoleStatus
  readonly snapshot?: RoleStatus
  readonly targets?: RoleStatus
  readonly delegatedRoles: number
  readonly lastRefreshEpochMs?: number
}

const TOP_LEVEL_NAMES = ['timestamp.json', 'snapshot.json', 'targets.json'] as const

export class TufSession {
  readonly #options: TufSessionOptions
  readonly #limits: TrustLimits
  readonly #baseUrl: string
  readonly #keyCache = new KeyCache()
  /** Persisted bytes by plain name, mirroring the store so local copies are read once. */
  readonly #local = new Map<string, Uint8Array>()
  /** Verified roots by version, from the trusted root onward. */
  readonly #rootChain = new Map<number, Uint8Array>()
  #rootBytes: Uint8Array
  #set: TrustedSet
  /** Verified bytes by served name for the current trusted set. */
  #served = new Map<string, Uint8Array>()
  #ready = false
  #refreshing: Promise<void> | undefined
  #lastRefreshEpochMs: number | undefined

  private constructor(options: TufSessionOptions, limits: TrustLimits, rootBytes: Uint8Array, set: TrustedSet) {
    this.#options = options
    this.#limits = limits
    this.#baseUrl = options.metadataBaseUrl.endsWith('/') ? options.metadataBaseUrl : `${options.metadataBaseUrl}/`
    this.#rootBytes = rootBytes
    this.#set = set
  }

  /**
   * Opens a session on persisted metadata (re-verified, never trusted blindly), or on
   * `trustedRoot` when the store has no root yet. No network request is made.
   * @throws {TrustError} the stored root (or `trustedRoot`) is malformed or not self-signed
   * @throws {Error} there is no root at all
   */
  static async open(options: TufSessionOptions): Promise<TufSession> {
    const limits = resolveTrustLimits(options.limits)
    const stored = await options.store.read('root.json')
    const rootBytes = stored ?? options.trustedRoot
    if (!rootBytes) throw new Error('TUF session has no trusted root: none stored as root.json and no trustedRoot given')
    const set = TrustedSet.fromTrustedRoot(rootBytes, { now: options.clock.nowMs(), limits })
    const session = new TufSession(options, limits, rootBytes, set)
    if (!stored) await session.#persist('root.json', rootBytes)
    else session.#local.set('root.json', rootBytes)
    session.#rootChain.set(set.root.version, rootBytes)
    session.#served.set('root.json', rootBytes)
    session.#served.set(`${set.root.version}.root.json`, rootBytes)
    if (options.keepRootHistory) await session.#loadRootHistory(set.root.version)
    await session.#loadLocalTopLevel()
    return session
  }

  /**
   * Runs the top-level client workflow (TUF 5.3-5.6): root chain, timestamp, snapshot,
   * targets. Concurrent calls share one run.
   * @throws {TrustError} the repository served metadata the workflow must refuse
   * @throws whatever the fetcher throws for failed downloads (timeouts, HTTP errors)
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  /**
   * TUF 5.6.7: the target info for `path`, walking delegations (fetching delegated roles as
   * needed), or undefined if no trusted role lists it. Refreshes first if this session has
   * not completed a refresh yet.
   * @throws {TrustError} a role on the walk failed verification
   */
  async findTarget(path: string): Promise<TargetFile | undefined> {
    if (!this.#ready) await this.refresh()
    const set = this.#set
    const served = this.#served
    const walk = walkDelegations(set, path, this.#limits.maxDelegations)
    let step = walk.next()
    while (!step.done) {
      await this.#loadTargets(set, served, step.value.role, step.value.delegator)
      step = walk.next()
    }
    return step.value
  }

  /** Where to download `info` relative to the targets base URL (`dir/HASH.name` with consistent snapshots, TUF 5.7.3). */
  targetDownloadPath(info: TargetFile): string {
    return targetDownloadPath(info, this.#set.root.consistentSnapshot)
  }

  /**
   * Verified metadata bytes by the name a TUF client would request: `root.json`,
   * `N.root.json` (any root verified since the trusted root), `timestamp.json`,
   * `snapshot.json`/`N.snapshot.json`, `targets.json`/`N.targets.json` and
   * `<role>.json`/`N.<role>.json` (role percent-encoded or not), for the current versions.
   */
  verifiedBytes(name: string): Uint8Array | undefined {
    const direct = this.#served.get(name)
    if (direct) return direct
    const match = /^(?:(\d+)\.)?(.+)\.json$/.exec(name)
    if (!match?.[2]) return undefined
    const roleName = safeDecode(match[2])
    const version = match[1] === undefined ? undefined : Number(match[1])
    const requoted = roleName === undefined ? undefined : this.#served.get(metadataFileName(roleName, version))
    if (requoted) return requoted
    // a role literally named like "7.x" without consistent snapshots
    const whole = safeDecode(name.slice(0, -'.json'.length))
    return whole === undefined ? undefined : this.#served.get(metadataFileName(whole))
  }

  /**
   * Like `verifiedBytes`, but a delegated role the walk has not reached yet is verified on
   * demand: a TUF client behind the proxy asks for roles in its own walk order. The role is
   * looked for breadth-first from the top-level targets, loading (and verifying against their
   * delegators) at most `maxDelegations` intermediate roles; only a role the snapshot lists, at
   * the version asked for, is considered.
   * @throws {TrustError} a role on the way failed verification
   */
  async verifiedMetadata(name: string): Promise<Uint8Array | undefined> {
    const known = this.verifiedBytes(name)
    if (known) return known
    const match = /^(?:(\d+)\.)?(.+)\.json$/.exec(name)
    const role = match?.[2] === undefined ? undefined : safeDecode(match[2])
    if (!match || role === undefined || (TOP_LEVEL_ROLES as readonly string[]).includes(role)) return undefined
    const set = this.#set
    const served = this.#served
    const meta = set.snapshot?.meta.get(`${role}.json`)
    if (!meta || (match[1] !== undefined && Number(match[1]) !== meta.version)) return undefined
    const queue: Array<{ role: string; delegator: string }> = [{ role: 'targets', delegator: 'root' }]
    const visited = new Set<string>(['targets'])
    let loaded = 0
    for (let next = queue.shift(); next; next = queue.shift()) {
      const delegations = set.getTargets(next.role, next.delegator)?.delegations
      if (!delegations) continue
      const delegatesIt = delegations.succinctRoles ? isSuccinctRoleName(delegations.succinctRoles, role) : (delegations.roles ?? []).some((child) => child.name === role)
      if (delegatesIt) {
        await this.#loadTargets(set, served, role, next.role)
        return this.verifiedBytes(name)
      }
      for (const child of delegations.roles ?? []) {
        if (visited.has(child.name) || !set.snapshot?.meta.has(`${child.name}.json`)) continue
        if (++loaded > this.#limits.maxDelegations) return undefined
        visited.add(child.name)
        await this.#loadTargets(set, served, child.name, next.role)
        queue.push({ role: child.name, delegator: next.role })
      }
    }
    return undefined
  }

  /** Versions, expiries and thresholds of the trusted metadata, for a status page. */
  status(): TufStatus {
    const set = this.#set
    const role = (metadata: { version: number; expires: string } | undefined): RoleStatus | undefined =>
      metadata ? { version: metadata.version, expires: metadata.expires } : undefined
    const thresholds: Record<string, { threshold: number; keys: number }> = {}
    for (const [name, keys] of Object.entries(set.root.roles)) thresholds[name] = { threshold: keys.threshold, keys: keys.keyids.length }
    const timestamp = role(set.timestamp)
    const snapshot = role(set.snapshot)
    const targets = role(set.targets)
    let delegatedRoles = 0
    for (const name of this.#served.keys()) if (!/^\d+\./.test(name) && !['root.json', ...TOP_LEVEL_NAMES].includes(name)) delegatedRoles++
    return {
      rootVersion: set.root.version,
      rootExpires: set.root.expires,
      consistentSnapshot: set.root.consistentSnapshot,
      thresholds,
      ...(timestamp ? { timestamp } : {}),
      ...(snapshot ? { snapshot } : {}),
      ...(targets ? { targets } : {}),
      delegatedRoles,
      ...(this.#lastRefreshEpochMs === undefined ? {} : { lastRefreshEpochMs: this.#lastRefreshEpochMs }),
    }
  }

  async #refresh(): Promise<void> {
    const nowMs = this.#options.clock.nowMs()
    const set = TrustedSet.fromTrustedRoot(this.#rootBytes, { now: nowMs, limits: this.#limits, keyCache: this.#keyCache })
    const served = new Map<string, Uint8Array>()
    await this.#updateRoot(set)
    const current = this.#set
    const trustedTimestamp = this.#served.get('timestamp.json')
    let remoteTimestamp: Uint8Array | undefined
    if (this.#ready && trustedTimestamp && set.root.version === current.root.version) {
      remoteTimestamp = await this.#fetchTimestamp()
      // TUF 5.4.3.1, "nothing new": the same root and the very same timestamp mean the same
      // snapshot and roles, so the trusted set stays, loaded delegations included, as long as
      // none of its roles has expired by now. A routine refresh then re-verifies nothing large.
      if (Buffer.compare(remoteTimestamp, trustedTimestamp) === 0 && nowMs < current.earliestExpiryMs()) {
        this.#lastRefreshEpochMs = nowMs
        return
      }
    }
    served.set('root.json', this.#rootBytes)
    for (const [version, bytes] of this.#rootChain) served.set(`${version}.root.json`, bytes)
    await this.#updateTimestamp(set, served, remoteTimestamp)
    await this.#updateSnapshot(set, served)
    await this.#loadTargets(set, served, 'targets', 'root')
    this.#set = set
    this.#served = served
    this.#ready = true
    this.#lastRefreshEpochMs = nowMs
  }

  /** TUF 5.3: N+1.root.json until the repository says there is none, at most maxRootRotations. */
  async #updateRoot(set: TrustedSet): Promise<void> {
    const first = set.root.version + 1
    for (let version = first; version < first + this.#limits.maxRootRotations; version++) {
      const name = `${version}.root.json`
      let bytes: Uint8Array
      try {
        bytes = await this.#options.fetcher.fetch(this.#baseUrl + name, this.#limits.rootMaxBytes)
      } catch (error) {
        if (this.#options.isNotFound(error)) break
        throw error
      }
      set.updateRoot(bytes)
      // TUF 5.3.8: persist each root as soon as it is trusted
      await this.#persist('root.json', bytes)
      if (this.#options.keepRootHistory) await this.#options.store.write(name, bytes)
      this.#rootBytes = bytes
      this.#rootChain.set(version, bytes)
      this.#options.onVerified?.(name, bytes)
    }
  }

  /** TUF 5.4: the local timestamp (if still valid) guards against rollback of the remote one. */
  #fetchTimestamp(): Promise<Uint8Array> {
    return this.#options.fetcher.fetch(`${this.#baseUrl}timestamp.json`, this.#limits.timestampMaxBytes)
  }

  async #updateTimestamp(set: TrustedSet, served: Map<string, Uint8Array>, prefetched: Uint8Array | undefined): Promise<void> {
    const local = await this.#readLocal('timestamp.json')
    let trusted: Uint8Array | undefined
    if (local && tryTrust(() => set.updateTimestamp(local))) trusted = local
    const remote = prefetched ?? (await this.#fetchTimestamp())
    try {
      set.updateTimestamp(remote)
      trusted = remote
      await this.#persist('timestamp.json', remote)
      this.#options.onVerified?.('timestamp.json', remote)
    } catch (error) {
      // TUF 5.4.3.1: the same version again is "nothing new": keep the local one, write nothing
      if (!(error instanceof EqualVersionError)) throw error
    }
    if (trusted) served.set('timestamp.json', trusted)
  }

  /** TUF 5.5: a local snapshot that is still the final one saves the download. */
  async #updateSnapshot(set: TrustedSet, served: Map<string, Uint8Array>): Promise<void> {
    const timestamp = set.timestamp
    if (!timestamp) throw new Error('snapshot update before timestamp')
    const local = await this.#readLocal('snapshot.json')
    let bytes: Uint8Array
    if (local && tryTrust(() => set.updateSnapshot(local, { fromLocalCache: true }))) {
      bytes = local
    } else {
      const meta = timestamp.snapshotMeta
      const name = set.root.consistentSnapshot ? `${meta.version}.snapshot.json` : 'snapshot.json'
      bytes = await this.#options.fetcher.fetch(this.#baseUrl + name, meta.length ?? this.#limits.snapshotMaxBytes)
      set.updateSnapshot(bytes)
      await this.#persist('snapshot.json', bytes)
      this.#options.onVerified?.(name, bytes)
    }
    served.set('snapshot.json', bytes)
    served.set(`${timestamp.snapshotMeta.version}.snapshot.json`, bytes)
  }

  /**
   * TUF 5.6: a targets role, trusted through `delegator`. A role already verified through
   * another delegator is verified again through this one (a role must not inherit authority
   * from another search path); a local copy is used when it still verifies; else it is fetched.
   */
  async #loadTargets(set: TrustedSet, served: Map<string, Uint8Array>, role: string, delegator: string): Promise<void> {
    if (set.getTargets(role, delegator)) return
    const plainName = metadataFileName(role)
    const known = set.hasRole(role) ? served.get(plainName) : undefined
    if (known) {
      set.updateDelegatedTargets(known, role, delegator)
      return
    }
    const meta = set.snapshot?.meta.get(`${role}.json`)
    // TUF 5.6.1: checked before any download; the engine would refuse it too
    if (!meta) throw new RepositoryError(`snapshot does not list ${role}.json, so ${delegator}'s delegation to it cannot be followed`)
    const local = await this.#readLocal(plainName)
    let bytes: Uint8Array
    if (local && tryTrust(() => set.updateDelegatedTargets(local, role, delegator))) {
      bytes = local
    } else {
      const name = set.root.consistentSnapshot ? metadataFileName(role, meta.version) : plainName
      bytes = await this.#options.fetcher.fetch(this.#baseUrl + name, meta.length ?? this.#limits.targetsMaxBytes)
      set.updateDelegatedTargets(bytes, role, delegator)
      await this.#persist(plainName, bytes)
      this.#options.onVerified?.(name, bytes)
    }
    served.set(plainName, bytes)
    served.set(metadataFileName(role, meta.version), bytes)
  }

  /** The offline view at open: local top-level metadata that still verifies, for status and serving. */
  async #loadLocalTopLevel(): Promise<void> {
    const set = this.#set
    const [timestamp, snapshot, targets] = await Promise.all(TOP_LEVEL_NAMES.map((name) => this.#readLocal(name)))
    if (!timestamp || !tryTrust(() => set.updateTimestamp(timestamp))) return
    this.#served.set('timestamp.json', timestamp)
    if (!snapshot || !tryTrust(() => set.updateSnapshot(snapshot, { fromLocalCache: true }))) return
    this.#served.set('snapshot.json', snapshot)
    const snapshotVersion = set.timestamp?.snapshotMeta.version
    if (snapshotVersion !== undefined) this.#served.set(`${snapshotVersion}.snapshot.json`, snapshot)
    if (!targets || !tryTrust(() => set.updateTargets(targets))) return
    this.#served.set('targets.json', targets)
    const targetsVersion = set.snapshot?.meta.get('targets.json')?.version
    if (targetsVersion !== undefined) this.#served.set(`${targetsVersion}.targets.json`, targets)
    // A complete, unexpired local set is usable before any refresh when the caller says so: a
    // proxy restarted while its upstream is down keeps serving what it verified before.
    if (this.#options.trustLocalMetadata && this.#options.clock.nowMs() < set.earliestExpiryMs()) this.#ready = true
  }

  async #loadRootHistory(currentVersion: number): Promise<void> {
    for (let version = currentVersion - 1; version >= 1; version--) {
      const bytes = await this.#options.store.read(`${version}.root.json`)
      if (!bytes) return
      this.#rootChain.set(version, bytes)
      this.#served.set(`${version}.root.json`, bytes)
    }
  }

  async #readLocal(name: string): Promise<Uint8Array | undefined> {
    const cached = this.#local.get(name)
    if (cached) return cached
    const bytes = await this.#options.store.read(name)
    if (bytes) this.#local.set(name, bytes)
    return bytes
  }

  async #persist(name: string, bytes: Uint8Array): Promise<void> {
    await this.#options.store.write(name, bytes)
    this.#local.set(name, bytes)
  }
}

/** Runs one engine step on local bytes: a refusal only means the local copy is not usable. */
function tryTrust(step: () => unknown): boolean {
  try {
    step()
    return true
  } catch (error) {
    if (error instanceof TrustError) return false
    throw error
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}
