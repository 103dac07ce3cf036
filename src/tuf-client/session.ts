/**
 * The async driver of the TUF client workflow (TUF 5.3-5.7) around the pure trust engine,
 * after python-tuf's ngclient Updater: it fetches metadata, feeds the bytes to a TrustedSet,
 * persists only what the engine accepted (byte-identical, under plain names: `root.json`,
 * `timestamp.json`, `snapshot.json`, `targets.json`, `<quoted role>.json`) and answers target
 * lookups by walking delegations.
 *
 * It holds one current verified state: root, timestamp, snapshot, targets and every delegated
 * role loaded so far, mutually consistent. A refresh builds a candidate beside it (new
 * timestamp and snapshot, plus every role already loaded, reloaded against the new snapshot)
 * and only when all of it verifies does the candidate replace the current state, in memory and
 * on disk, as one. A refresh that fails anywhere leaves the current state as it was, so what is
 * served always verifies together, and the next refresh starts again from it. Roles not loaded
 * yet are loaded lazily into the current state, as the client workflow does (TUF 5.6.7).
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
  ExpiredMetadataError,
  type ExpiredRole,
  KeyCache,
  RepositoryError,
  TrustError,
  TrustedSet,
  metadataFileName,
  resolveTrustLimits,
  targetDownloadPath,
  walkDelegations,
  walkToRole,
  TOP_LEVEL_ROLES,
  type RoleRequest,
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
  /** One file: a root, or a role added to the stored set. */
  write(name: string, bytes: Uint8Array): Promise<void>
  /**
   * Replaces the stored non-root metadata with `files`, as one: after a crash at any moment the
   * store holds the old set or the new one. Stored delegated roles not named in `files` are
   * carried over as a cache (each is verified against the snapshot before any use). Without
   * it, each file is written on its own (a plain TUF client's metadata directory), and a crash
   * can leave a mix that the next open refuses to use rather than serves.
   */
  writeSet?(files: ReadonlyMap<string, Uint8Array>): Promise<void>
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
  /**
   * Persist the newest timestamp verified, even by a refused refresh, as `newest-timestamp.json`,
   * so that after a restart rollback is still judged against it and the session still knows its
   * state is behind the repository (off by default, for the same reason as keepRootHistory).
   */
  readonly keepNewestTimestamp?: boolean
  /**
   * Never fetch (an air-gapped mirror's imported state): a role is loaded from the store or not
   * at all, and a stored role that does not verify (an expired one included, TUF 5.6.5) is the
   * lookup's error rather than a reason to download it again.
   */
  readonly isOffline?: boolean
}

/** A target's verified info, and until when the roles that vouch for it are all unexpired. */
export interface TargetLookup {
  readonly info: TargetFile
  readonly validUntilMs: number
  /** the generation of the state the lookup was answered from */
  readonly generation: number
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
const NEWEST_TIMESTAMP = 'newest-timestamp.json'

/** A verified state: the engine's set and the bytes it accepted. */
interface State {
  readonly set: TrustedSet
  /** verified bytes by every name a client may request (plain and versioned) */
  readonly served: Map<string, Uint8Array>
  /** verified non-root bytes by plain name: what is persisted as the set */
  readonly files: Map<string, Uint8Array>
  /** delegated roles loaded, in load order (each after its delegator) */
  readonly loaded: RoleRequest[]
}

function emptyState(set: TrustedSet, rootBytes: Uint8Array): State {
  const served = new Map([['root.json', rootBytes], [`${set.root.version}.root.json`, rootBytes]])
  return { set, served, files: new Map(), loaded: [] }
}

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
  #state: State
  /**
   * The newest timestamp verified, even by a refresh that failed later on: the next refresh
   * checks rollback against it (TUF 5.4.3), not only against the older committed one.
   */
  #newestTimestamp: { readonly bytes: Uint8Array; readonly version: number } | undefined
  /**
   * Set when a refresh verified a newer timestamp but its state was refused (or at open, when the
   * stored newest timestamp is newer than the stored state): the state in force is then behind
   * the repository. Cleared when a state is adopted.
   */
  #isBehind = false
  /** Disk writes in one order, so a lazily loaded role never lands after (and over) a newer set. */
  #writes: Promise<void> = Promise.resolve()
  #ready = false
  #generation = 0
  #refreshing: Promise<void> | undefined
  #lastRefreshEpochMs: number | undefined
  /** top-level roles whose stored copy was refused at open because it had expired */
  readonly #expiredAtOpen: ExpiredRole[] = []

  private constructor(options: TufSessionOptions, limits: TrustLimits, rootBytes: Uint8Array, set: TrustedSet) {
    this.#options = options
    this.#limits = limits
    this.#baseUrl = options.metadataBaseUrl.endsWith('/') ? options.metadataBaseUrl : `${options.metadataBaseUrl}/`
    this.#rootBytes = rootBytes
    this.#state = emptyState(set, rootBytes)
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
    if (options.keepRootHistory) await session.#loadRootHistory(set.root.version)
    await session.#loadLocalTopLevel()
    if (options.keepNewestTimestamp) await session.#loadNewestTimestamp()
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
   * TUF 5.6.7: the target info for `path`, walking delegations (loading delegated roles into the
   * current state as needed), or undefined if no trusted role lists it. Refreshes first if this
   * session has not completed a refresh yet.
   * @throws {TrustError} a role on the walk failed verification
   */
  async findTarget(path: string): Promise<TargetFile | undefined> {
    return (await this.lookupTarget(path))?.info
  }

  /**
   * Like findTarget, with the earliest expiry among the top-level roles and every role the walk
   * read: nothing may be served for `path` past it.
   * @throws {ExpiredMetadataError} a role on the way has expired by now (a state can outlive
   *   the expiry of a role it holds)
   * @throws {TrustError} a role on the walk failed verification
   */
  async lookupTarget(path: string): Promise<TargetLookup | undefined> {
    if (!this.#ready) await this.refresh()
    const state = this.#state
    const generation = this.#generation
    let validUntilMs = topLevelExpiryMs(state.set)
    const walk = walkDelegations(state.set, path, this.#limits.maxDelegations, (targets) => {
      validUntilMs = Math.min(validUntilMs, targets.expiresEpochMs)
    })
    let step = walk.next()
    while (!step.done) {
      await this.#loadLazily(state, step.value)
      step = walk.next()
    }
    if (!step.value) return undefined
    // TUF 5.6.5 and 5.4.4/5.5.6, judged now rather than when the state was verified.
    if (this.#options.clock.nowMs() >= validUntilMs) {
      throw new ExpiredMetadataError(`the metadata vouching for ${JSON.stringify(path)} expired at ${new Date(validUntilMs).toISOString()}`)
    }
    return { info: step.value, validUntilMs, generation }
  }

  /** Counts the states adopted: what was verified under an older one may be stale. */
  get generation(): number {
    return this.#generation
  }

  /** Where to download `info` relative to the targets base URL (`dir/HASH.name` with consistent snapshots, TUF 5.7.3). */
  targetDownloadPath(info: TargetFile): string {
    return targetDownloadPath(info, this.#state.set.root.consistentSnapshot)
  }

  /**
   * Verified metadata bytes by the name a TUF client would request: `root.json`,
   * `N.root.json` (any root verified since the trusted root), `timestamp.json`,
   * `snapshot.json`/`N.snapshot.json`, `targets.json`/`N.targets.json` and
   * `<role>.json`/`N.<role>.json` (role percent-encoded or not), for the current versions.
   */
  verifiedBytes(name: string): Uint8Array | undefined {
    const served = this.#state.served
    const direct = served.get(name)
    if (direct) return direct
    const match = /^(?:(\d+)\.)?(.+)\.json$/.exec(name)
    if (!match?.[2]) return undefined
    const roleName = safeDecode(match[2])
    const version = match[1] === undefined ? undefined : Number(match[1])
    const requoted = roleName === undefined ? undefined : served.get(metadataFileName(roleName, version))
    if (requoted) return requoted
    // a role literally named like "7.x" without consistent snapshots
    const whole = safeDecode(name.slice(0, -'.json'.length))
    return whole === undefined ? undefined : served.get(metadataFileName(whole))
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
    const state = this.#state
    const meta = state.set.snapshot?.meta.get(`${role}.json`)
    if (!meta || (match[1] !== undefined && Number(match[1]) !== meta.version)) return undefined
    const walk = walkToRole(state.set, role, this.#limits.maxDelegations)
    let step = walk.next()
    while (!step.done) {
      await this.#loadLazily(state, step.value)
      step = walk.next()
    }
    if (step.value === undefined) return undefined
    await this.#loadLazily(state, { role, delegator: step.value })
    return this.verifiedBytes(name)
  }

  /** Top-level roles whose stored copy was refused at open because it had expired (so they are not in `status()`). */
  storedRolesExpired(): readonly ExpiredRole[] {
    return this.#expiredAtOpen
  }

  /** Versions, expiries and thresholds of the trusted metadata, for a status page. */
  status(): TufStatus {
    const set = this.#state.set
    const role = (metadata: { version: number; expires: string } | undefined): RoleStatus | undefined =>
      metadata ? { version: metadata.version, expires: metadata.expires } : undefined
    const thresholds: Record<string, { threshold: number; keys: number }> = {}
    for (const [name, keys] of Object.entries(set.root.roles)) thresholds[name] = { threshold: keys.threshold, keys: keys.keyids.length }
    const timestamp = role(set.timestamp)
    const snapshot = role(set.snapshot)
    const targets = role(set.targets)
    let delegatedRoles = 0
    for (const name of this.#state.served.keys()) if (!/^\d+\./.test(name) && !['root.json', ...TOP_LEVEL_NAMES].includes(name)) delegatedRoles++
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
    await this.#updateRoot(set)
    const current = this.#state
    const trustedTimestamp = current.served.get('timestamp.json')
    let remoteTimestamp: Uint8Array | undefined
    if (this.#ready && trustedTimestamp && set.root.version === current.set.root.version) {
      remoteTimestamp = await this.#fetchTimestamp()
      // TUF 5.4.3.1, "nothing new": the same root and the very same timestamp mean the same
      // snapshot and roles, so the current state stays, loaded delegations included, as long as
      // none of its roles has expired by now. A routine refresh then re-verifies nothing large.
      if (Buffer.compare(remoteTimestamp, trustedTimestamp) === 0 && nowMs < current.set.earliestExpiryMs()) {
        this.#lastRefreshEpochMs = nowMs
        return
      }
    }
    try {
      await this.#buildCandidate(set, current, remoteTimestamp)
    } catch (error) {
      if ((this.#newestTimestamp?.version ?? 0) > (current.set.timestamp?.version ?? 0)) this.#isBehind = true
      throw error
    }
    this.#lastRefreshEpochMs = nowMs
  }

  /** Builds the candidate state beside `current`, and adopts it (memory and disk) only whole. */
  async #buildCandidate(set: TrustedSet, current: State, remoteTimestamp: Uint8Array | undefined): Promise<void> {
    const candidate = emptyState(set, this.#rootBytes)
    for (const [version, bytes] of this.#rootChain) candidate.served.set(`${version}.root.json`, bytes)
    await this.#updateTimestamp(candidate, remoteTimestamp)
    await this.#updateSnapshot(candidate)
    await this.#loadTargets(candidate, { role: 'targets', delegator: 'root' })
    // The roles the current state holds were part of what clients were given. One whose version
    // the new snapshot changes must verify, or the candidate is not adopted (else the state
    // served would pair the new snapshot with a role it no longer vouches for). One left as it
    // was is carried along while it still verifies, and otherwise left to the walk, which
    // refuses it exactly as a TUF client would.
    for (const request of current.loaded) {
      const name = `${request.role}.json`
      const meta = set.snapshot?.meta.get(name)
      // A role its delegator no longer delegates to is out of every walk: nothing to reload.
      if (!meta || !set.delegatesTo(request.delegator, request.role)) continue
      if (meta.version === current.set.snapshot?.meta.get(name)?.version) {
        try {
          await this.#loadTargets(candidate, request)
        } catch (error) {
          if (error instanceof TrustError) continue
          throw error
        }
      } else {
        await this.#loadTargets(candidate, request)
      }
      candidate.loaded.push(request)
    }
    await this.#enqueueWrite(async () => {
      await this.#persistSet(candidate.files)
      this.#state = candidate
      this.#generation++
      this.#ready = true
      this.#isBehind = false
    })
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

  async #updateTimestamp(candidate: State, prefetched: Uint8Array | undefined): Promise<void> {
    const { set } = candidate
    const local = this.#newestTimestamp?.bytes ?? (await this.#readLocal('timestamp.json'))
    let trusted: Uint8Array | undefined
    if (local && tryTrust(() => set.updateTimestamp(local))) trusted = local
    const remote = prefetched ?? (await this.#fetchTimestamp())
    try {
      const accepted = set.updateTimestamp(remote)
      trusted = remote
      this.#newestTimestamp = { bytes: remote, version: accepted.version }
      if (this.#options.keepNewestTimestamp) await this.#options.store.write(NEWEST_TIMESTAMP, remote)
      this.#options.onVerified?.('timestamp.json', remote)
    } catch (error) {
      // TUF 5.4.3.1: the same version again is "nothing new": keep the local one
      if (!(error instanceof EqualVersionError)) throw error
    }
    if (trusted) {
      candidate.served.set('timestamp.json', trusted)
      candidate.files.set('timestamp.json', trusted)
    }
  }

  /** TUF 5.5: a local snapshot that is still the final one saves the download. */
  async #updateSnapshot(candidate: State): Promise<void> {
    const { set, served } = candidate
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
      this.#options.onVerified?.(name, bytes)
    }
    candidate.files.set('snapshot.json', bytes)
    served.set('snapshot.json', bytes)
    served.set(`${timestamp.snapshotMeta.version}.snapshot.json`, bytes)
  }

  /**
   * TUF 5.6: a targets role, trusted through `delegator`, into `state`. A role already verified
   * through another delegator is verified again through this one (a role must not inherit
   * authority from another search path); a local copy is used when it still verifies; else it
   * is fetched.
   * @returns whether the bytes are new to the store (fetched rather than found locally)
   */
  async #loadTargets(state: State, request: RoleRequest, mayFetch = true): Promise<boolean> {
    const { set, served } = state
    const { role, delegator } = request
    if (set.getTargets(role, delegator)) return false
    const plainName = metadataFileName(role)
    const known = set.hasRole(role) ? served.get(plainName) : undefined
    if (known) {
      set.updateDelegatedTargets(known, role, delegator)
      return false
    }
    const meta = set.snapshot?.meta.get(`${role}.json`)
    // TUF 5.6.1: checked before any download; the engine would refuse it too
    if (!meta) throw new RepositoryError(`snapshot does not list ${role}.json, so ${delegator}'s delegation to it cannot be followed`)
    const local = await this.#readLocal(plainName)
    let bytes: Uint8Array
    let fetched = false
    let localRefusal: TrustError | undefined
    if (local && tryTrustNoting(() => set.updateDelegatedTargets(local, role, delegator), undefined, (error) => (localRefusal = error))) {
      bytes = local
    } else if (this.#options.isOffline) {
      throw localRefusal ?? new RepositoryError(`${plainName} is not stored, and an offline session fetches nothing`)
    } else if (!mayFetch) {
      throw new RepositoryError(`cannot load ${role}: the repository has moved past the verified state in force, to a state that did not verify, and serves only its newest ${plainName}`)
    } else {
      const name = set.root.consistentSnapshot ? metadataFileName(role, meta.version) : plainName
      bytes = await this.#options.fetcher.fetch(this.#baseUrl + name, meta.length ?? this.#limits.targetsMaxBytes)
      set.updateDelegatedTargets(bytes, role, delegator)
      this.#options.onVerified?.(name, bytes)
      fetched = true
    }
    state.files.set(plainName, bytes)
    served.set(plainName, bytes)
    served.set(metadataFileName(role, meta.version), bytes)
    return fetched
  }

  /**
   * A delegated role needed by a lookup, loaded into `state` and recorded, so the next refresh
   * reloads it too. It is persisted only while `state` is still the current one: a lookup that
   * started before a refresh must not add its role to the newer set on disk.
   */
  async #loadLazily(state: State, request: RoleRequest): Promise<void> {
    // Without consistent snapshots the repository serves only its newest role files. While the
    // state in force is behind a timestamp already verified whose state was refused, a role
    // fetched now would be paired with a snapshot it was not made for, and TUF 5.6.4 can only
    // compare versions; so only a stored copy may be used. With consistent snapshots,
    // `N.role.json` names the very version the older state lists.
    const mayFetch = !this.#isBehind || state.set.root.consistentSnapshot
    const isNew = await this.#loadTargets(state, request, mayFetch)
    if (!state.loaded.some((known) => known.role === request.role && known.delegator === request.delegator)) state.loaded.push(request)
    const name = metadataFileName(request.role)
    const bytes = state.files.get(name)
    if (!isNew || !bytes) return
    // Checked when the write's turn comes: a newer set written meanwhile holds its own copy.
    await this.#enqueueWrite(async () => {
      if (state === this.#state) await this.#persist(name, bytes)
    })
  }

  #enqueueWrite(write: () => Promise<void>): Promise<void> {
    const next = this.#writes.then(write)
    this.#writes = next.catch(() => undefined)
    return next
  }

  /** The offline view at open: local top-level metadata that still verifies, for status and serving. */
  async #loadLocalTopLevel(): Promise<void> {
    const state = this.#state
    const { set, served } = state
    for (const [version, bytes] of this.#rootChain) served.set(`${version}.root.json`, bytes)
    const [timestamp, snapshot, targets] = await Promise.all(TOP_LEVEL_NAMES.map((name) => this.#readLocal(name)))
    // Each step verifies against the one before: a stored mix (a crash between two writes of
    // a store without writeSet) stops here and is never served.
    // An expired stored role is remembered, so an offline mirror can name it (TUF 5.4.4, 5.5.6, 5.6.5).
    const tryTrust = (step: () => unknown) => tryTrustNoting(step, (expired) => this.#expiredAtOpen.push(expired))
    if (!timestamp || !tryTrust(() => set.updateTimestamp(timestamp))) return
    served.set('timestamp.json', timestamp)
    state.files.set('timestamp.json', timestamp)
    if (!snapshot || !tryTrust(() => set.updateSnapshot(snapshot, { fromLocalCache: true }))) return
    served.set('snapshot.json', snapshot)
    state.files.set('snapshot.json', snapshot)
    const snapshotVersion = set.timestamp?.snapshotMeta.version
    if (snapshotVersion !== undefined) served.set(`${snapshotVersion}.snapshot.json`, snapshot)
    if (!targets || !tryTrust(() => set.updateTargets(targets))) return
    served.set('targets.json', targets)
    state.files.set('targets.json', targets)
    const targetsVersion = set.snapshot?.meta.get('targets.json')?.version
    if (targetsVersion !== undefined) served.set(`${targetsVersion}.targets.json`, targets)
    // A complete, unexpired local set is usable before any refresh when the caller says so: a
    // proxy restarted while its upstream is down keeps serving what it verified before.
    if (this.#options.trustLocalMetadata && this.#options.clock.nowMs() < set.earliestExpiryMs()) this.#ready = true
  }

  /**
   * The stored `N.root.json` history, served so that clients behind the proxy can rotate
   * through every root. Each is re-verified as a TUF client would (TUF 5.3.4-5.3.5: signed by
   * its predecessor's threshold and its own, version N+1), starting from the operator's
   * trusted root; a stored root that does not chain from it is not served.
   */
  /** The stored newest timestamp, when it is signed by the trusted root's timestamp keys (expired or not). */
  async #loadNewestTimestamp(): Promise<void> {
    const bytes = await this.#options.store.read(NEWEST_TIMESTAMP)
    if (!bytes) return
    const scratch = TrustedSet.fromTrustedRoot(this.#rootBytes, { now: this.#options.clock.nowMs(), limits: this.#limits, keyCache: this.#keyCache })
    try {
      scratch.updateTimestamp(bytes)
    } catch (error) {
      // TUF 5.4: an expired timestamp still counts for rollback; anything else is not trusted.
      if (!(error instanceof ExpiredMetadataError)) return
    }
    const version = scratch.timestamp?.version
    if (version !== undefined && version > (this.#state.set.timestamp?.version ?? 0)) {
      this.#newestTimestamp = { bytes, version }
      this.#isBehind = true
    }
  }

  async #loadRootHistory(currentVersion: number): Promise<void> {
    const anchor = this.#options.trustedRoot
    if (!anchor) return
    const chain = TrustedSet.fromTrustedRoot(anchor, { now: this.#options.clock.nowMs(), limits: this.#limits, keyCache: this.#keyCache })
    const verified = new Map([[chain.root.version, anchor]])
    for (let version = chain.root.version + 1; version < currentVersion; version++) {
      const bytes = await this.#options.store.read(`${version}.root.json`)
      if (!bytes || !tryTrust(() => chain.updateRoot(bytes))) break
      verified.set(version, bytes)
    }
    for (const [version, bytes] of verified) if (version < currentVersion) this.#rootChain.set(version, bytes)
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

  /** The candidate's non-root files replace the stored set, as one where the store can. */
  async #persistSet(files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const { store } = this.#options
    if (store.writeSet) await store.writeSet(files)
    else for (const [name, bytes] of files) await store.write(name, bytes)
    for (const [name, bytes] of files) this.#local.set(name, bytes)
  }
}

/** Runs one engine step on local bytes: a refusal only means the local copy is not usable. */
function tryTrust(step: () => unknown): boolean {
  return tryTrustNoting(step, undefined)
}

/** tryTrust, telling `onExpired` which role had expired when that was the refusal, and `onRefused` any refusal. */
function tryTrustNoting(step: () => unknown, onExpired: ((expired: ExpiredRole) => void) | undefined, onRefused?: (error: TrustError) => void): boolean {
  try {
    step()
    return true
  } catch (error) {
    if (!(error instanceof TrustError)) throw error
    if (error instanceof ExpiredMetadataError && error.expiredRole) onExpired?.(error.expiredRole)
    onRefused?.(error)
    return false
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** The earliest expiry of root, timestamp and snapshot (targets roles are added by the walk). */
function topLevelExpiryMs(set: TrustedSet): number {
  let earliest = set.root.expiresEpochMs
  for (const role of [set.timestamp, set.snapshot]) if (role) earliest = Math.min(earliest, role.expiresEpochMs)
  return earliest
}
