/**
 * Verifying mode: pages and files are served only when TUF metadata the proxy verified itself
 * vouches for their bytes, and TUF clients behind the proxy get the verified metadata and targets
 * byte-identical under `/tuf/`.
 *
 * Refresh policy: a request that needs metadata older than `refreshSeconds` (0: any) waits for
 * the single-flight refresh, at most `refreshWaitMs`, and is answered from its result; the
 * previous verified state answers only when that refresh failed or is still running. A refresh
 * that fails verification is a drop: the session keeps its current state (it adopts a new one
 * only whole), and nothing is served past the earliest expiry of the roles that vouch for it,
 * judged by the proxy's own clock, so a frozen or rolled-back upstream cannot make the proxy
 * serve expired data as fresh.
 */
import { describeError, errorCode, formatDuration, hasStrongHash, IntegrityError, maskUrl, type Clock, type Logger, type Metrics } from '../base/index.js'
import { createDigestVerifier } from '../policy/index.js'
import type { BlobStore } from '../store/index.js'
import { ExpiredMetadataError, TrustError, parseExpires, type TargetFile } from '../trust/index.js'
import { UpstreamError, type UpstreamClient } from '../upstream/index.js'
import type { DropLog } from './drops.js'
import { NotFoundError, OfflineExpiredError, UnavailableError } from './errors.js'
import type { FileResult, Files, FileTarget } from './files.js'
import type { OfflineTrustView, TrustStatusView, TufFrontend } from './mirror.js'
import { pourInto, type PageSource } from './page-source.js'
import { resolveProjectFile } from './project-files.js'
import type { SimplePages } from './simple-pages.js'
import { evidenceHashes, type TufLayout } from './tuf-layout.js'
import type { TargetLookup, TufSession } from '../tuf-client/index.js'

export interface TrustGeneration {
  readonly current: number
  readonly isDue: boolean
}

export interface TufMirrorOptions {
  readonly layout: TufLayout
  readonly refreshSeconds: number
  /** how long a request waits for a due refresh before the previous state answers it */
  readonly refreshWaitMs: number
  readonly maxPageBytes: number
  /**
   * `serve --offline` of an imported state: no refresh is ever attempted, and past the expiry of
   * a top-level role (plus `graceMs`, the operator's explicit acceptance) requests are refused
   * with OfflineExpiredError. The session must judge expiry by a clock `graceMs` behind, too.
   */
  readonly offline?: { readonly graceMs: number }
  /** a `sources:` entry's name, put on this mirror's metrics as the trust metrics have it */
  readonly source?: string
}

export interface TufMirrorDeps {
  readonly session: TufSession
  readonly upstream: UpstreamClient
  readonly files: Files
  readonly blobs: BlobStore
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  readonly drops: DropLog
  /**
   * Runs a refresh so that one process sharing the cache directory refreshes at a time (see
   * cli/shared-refresh.ts); without it, the refresh simply runs.
   */
  readonly exclusiveRefresh?: (refresh: () => Promise<void>) => Promise<void>
}

const REFRESH_METRIC = 'tuf_proxy_tuf_refresh_total'
const REFRESH_HELP = 'TUF metadata refreshes by outcome'
/** A consistent-snapshot target name: `HASH.name`. */
const CONSISTENT_NAME = /^([0-9a-f]{32,128})\.(.+)$/

export class TufMirror implements TufFrontend {
  #lastAttemptMs: number | undefined
  #lastSuccessMs: number | undefined
  #lastError: unknown
  /** the earliest expiry among the trusted timestamp, snapshot and targets */
  #validUntilMs: number | undefined
  #refreshing: Promise<void> | undefined
  readonly #sourceLabel: { readonly source?: string }

  constructor(
    private readonly options: TufMirrorOptions,
    private readonly deps: TufMirrorDeps,
  ) {
    deps.metrics.declareCounter(REFRESH_METRIC, REFRESH_HELP)
    this.#sourceLabel = options.source === undefined ? {} : { source: options.source }
    this.#validUntilMs = this.#computeValidUntil()
  }

  /** Starts the first refresh without waiting for it (none offline: nothing can be fetched). */
  start(): void {
    if (!this.options.offline) void this.#refresh()
  }

  get isReady(): boolean {
    return this.#isUsable(this.deps.clock.nowMs())
  }

  /** Whether the trusted metadata may still vouch for cached data (used for stale pages). */
  isUsable(): boolean {
    return this.#isUsable(this.deps.clock.nowMs())
  }

  async metadata(name: string): Promise<Uint8Array> {
    // Roots are served whatever their age: a client needs the chain to rotate to the current one.
    // They too wait for a due refresh, or a client would miss the root that signs what follows.
    if (/^(\d+\.)?root\.json$/.test(name)) await this.#awaitDueRefresh()
    else await this.#current()
    const bytes = await this.deps.session.verifiedMetadata(name).catch((error: unknown) => {
      throw this.#offlineExpiry(error)
    })
    if (!bytes) throw new NotFoundError(`no verified metadata named ${JSON.stringify(name)}`)
    return bytes
  }

  async target(path: string): Promise<FileResult> {
    let info: TargetLookup
    try {
      info = await this.targetInfo(path)
    } catch (error) {
      const consistent = CONSISTENT_NAME.exec(path.split('/').pop() ?? '')
      if (!(error instanceof TrustError && error.code === 'unknown_target') || !consistent?.[2]) throw error
      // TUF 5.7.3: `dir/HASH.name` is target `dir/name`, and HASH must be one of its digests.
      const plain = [...path.split('/').slice(0, -1), consistent[2]].join('/')
      info = await this.targetInfo(plain)
      if (!Object.values(info.info.hashes).some((hex) => hex.toLowerCase() === consistent[1])) throw error
    }
    return this.deps.files.get(this.#fileTarget(info.info))
  }

  status(): TrustStatusView {
    const status = this.deps.session.status()
    const role = (name: string, meta: { version: number; expires: string } | undefined) => ({
      name,
      version: meta?.version,
      expires: meta?.expires,
      threshold: status.thresholds[name]?.threshold,
      keyCount: status.thresholds[name]?.keys,
    })
    const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString())
    const lastError = this.#lastError
    return {
      rootVersion: status.rootVersion,
      lastRefresh: iso(this.#lastSuccessMs),
      lastRefreshAttempt: iso(this.#lastAttemptMs),
      nextRefresh: iso(this.#lastAttemptMs === undefined ? undefined : this.#lastAttemptMs + this.options.refreshSeconds * 1000),
      validUntil: iso(this.#validUntilMs),
      lastRefreshError: lastError === undefined ? undefined : { code: errorCode(lastError), message: describeError(lastError) },
      roles: [
        role('root', { version: status.rootVersion, expires: status.rootExpires }),
        role('timestamp', status.timestamp),
        role('snapshot', status.snapshot),
        role('targets', status.targets),
      ],
      ...(this.options.offline ? { offline: this.offlineStatus() } : {}),
    }
  }

  /**
   * Offline: the earliest top-level role expired by the real clock, and whether the grace still
   * covers it; the 503 body and /status say the same.
   */
  offlineStatus(): OfflineTrustView {
    const graceMs = this.options.offline?.graceMs ?? 0
    const nowMs = this.deps.clock.nowMs()
    const status = this.deps.session.status()
    const roles = [
      { role: 'root', version: status.rootVersion, expires: status.rootExpires },
      { role: 'timestamp', ...status.timestamp },
      { role: 'snapshot', ...status.snapshot },
      { role: 'targets', ...status.targets },
      // A stored role refused at open for its expiry is not in the status: named all the same.
      ...this.deps.session.storedRolesExpired(),
    ]
    let expired: { role: string; version: number | undefined; expires: string } | undefined
    for (const { role, version, expires } of roles) {
      if (expires === undefined || parseExpires(expires) > nowMs) continue
      if (!expired || parseExpires(expires) < parseExpires(expired.expires)) expired = { role, version, expires }
    }
    const graceSeconds = Math.round(graceMs / 1000)
    if (!expired) return { graceSeconds, isServingPastExpiry: false }
    return { graceSeconds, expired, ...offlineExpiryWarning(expired, graceMs, nowMs) }
  }

  /**
   * Offline: a role the lookup needed whose stored copy has expired (a delegated role, TUF
   * 5.6.5) answers as an expired top-level role does, naming it; any other error is unchanged.
   */
  #offlineExpiry(error: unknown): unknown {
    if (!this.options.offline || !(error instanceof ExpiredMetadataError) || !error.expiredRole) return error
    const { warning } = offlineExpiryWarning(error.expiredRole, this.options.offline.graceMs, this.deps.clock.nowMs())
    return new OfflineExpiredError(warning, error.expiredRole.role, error.expiredRole.expires, { cause: error })
  }

  /**
   * The verified target info for `path` in the session's current state, walking delegations,
   * with the earliest expiry of the roles that vouch for it. A role that fails verification now
   * is refused here exactly as a TUF client behind the proxy would refuse it: pip and TUF
   * clients are answered from the same state.
   * @throws TrustError('unknown_target') when no trusted role lists the path; other TrustErrors
   */
  async targetInfo(path: string): Promise<TargetLookup> {
    await this.#current()
    let found: TargetLookup | undefined
    try {
      found = await this.deps.session.lookupTarget(path)
    } catch (error) {
      const offlineExpired = this.#offlineExpiry(error)
      // An expired role of an imported state is the operator's to renew, not an upstream's drop.
      if (offlineExpired === error) this.deps.drops.recordRefusal(error, { what: 'metadata', url: path })
      throw offlineExpired
    }
    if (!found) throw new TrustError('unknown_target', `no trusted role lists the target ${JSON.stringify(path)}`)
    return found
  }

  /**
   * The page source for verifying mode: a page is the bytes of a verified target. A target page
   * is verified whole before any of it is used, so fetchInto hands it to the sink in one piece.
   */
  pageSource(unverified: PageSource): PageSource {
    const fetch: PageSource['fetch'] = async (url, previous) => {
      const path = this.options.layout.pageTarget(url)
      if (path === undefined) {
        // Only the warehouse layout's project list is not a target; it carries no hashes.
        return unverified.fetch(url, previous)
      }
      let lookup: TargetLookup
      try {
        lookup = await this.targetInfo(path)
      } catch (error) {
        if (error instanceof TrustError && error.code === 'unknown_target') throw new NotFoundError(error.message, { cause: error, code: 'unknown_target' })
        throw error
      }
      const { info, validUntilMs, generation } = lookup
      const etag = `"tuf-${Object.values(info.hashes)[0] ?? ''}-${info.length}"`
      // Labelled with the generation the lookup used, not the one in force when the bytes arrive.
      if (previous?.etag === etag) return { kind: 'not-modified', validUntilMs, trustGeneration: generation }
      const body = await this.#targetBytes(info)
      // The page is named by its URL, not by where the target bytes were downloaded from.
      return { kind: 'page', url, body, contentType: 'text/html', validators: { etag }, serial: undefined, validUntilMs, trustGeneration: generation }
    }
    return {
      fetch,
      fetchInto: (url, previous, open) =>
        this.options.layout.pageTarget(url) === undefined ? unverified.fetchInto(url, previous, open) : fetch(url, previous).then((fetched) => pourInto(fetched, open)),
    }
  }

  /** Resolves `/files/<project>/<file>` to its verified target (or, in the warehouse layout, the verified page's hashes). */
  async resolveFile(pages: SimplePages, project: string, fileName: string): Promise<FileTarget> {
    const listed = await resolveProjectFile(pages, project, fileName)
    const path = this.options.layout.fileTarget(listed.url)
    if (path === undefined) {
      if (this.options.layout.name === 'warehouse') return boundByVerifiedPage(listed, fileName)
      throw new NotFoundError(`${maskUrl(listed.url)} is not below the TUF targets base, so nothing can verify it`)
    }
    try {
      return this.#fileTarget((await this.targetInfo(path)).info)
    } catch (error) {
      if (error instanceof TrustError && error.code === 'unknown_target') throw new NotFoundError(error.message, { cause: error, code: 'unknown_target' })
      throw error
    }
  }

  #fileTarget(info: TargetFile): FileTarget {
    const hashes = evidenceHashes(info)
    if (!hashes) throw new IntegrityError('unsupported_hash', `target ${info.path} lists no hash algorithm the proxy can check (${Object.keys(info.hashes).join(', ')})`)
    const url = this.options.layout.downloadUrl(info, this.deps.session.targetDownloadPath(info))
    return { url, evidence: { hashes, expectedSize: info.length } }
  }

  /** A small target (a page) in memory: from the cache by digest, else downloaded and verified. */
  async #targetBytes(info: TargetFile): Promise<Uint8Array> {
    const target = this.#fileTarget(info)
    const sha256 = target.evidence.hashes.sha256
    if (sha256) {
      const cached = await this.deps.blobs.readBytes(sha256).catch(() => undefined)
      if (cached && cached.byteLength === info.length) return cached
    }
    const { body } = await this.deps.upstream.getBytes(target.url, { maxBytes: Math.min(info.length, this.options.maxPageBytes) }).catch((error: unknown) => {
      this.deps.drops.recordRefusal(error, { what: 'target', url: target.url })
      throw error
    })
    // A mismatch throws IntegrityError; SimplePages records the drop (once) and falls back.
    const verifier = createDigestVerifier(target.evidence)
    verifier.update(body)
    verifier.finish()
    await this.deps.blobs.putBytes(body).catch((error: unknown) => this.deps.logger.error('store_failed', { url: maskUrl(target.url), detail: describeError(error) }))
    return body
  }

  #isUsable(nowMs: number): boolean {
    // Offline with a grace, expiry is judged that much later (the session's clock is behind by as much).
    return this.#validUntilMs !== undefined && nowMs - (this.options.offline?.graceMs ?? 0) < this.#validUntilMs
  }

  #isDue(nowMs: number): boolean {
    if (this.options.offline) return false
    return this.#lastAttemptMs === undefined || nowMs - this.#lastAttemptMs >= this.options.refreshSeconds * 1000
  }

  /**
   * The generation of the verified state in force, and whether a refresh is due or running: a
   * page checked under another generation, or while one is due, is revalidated (cheaply, when
   * its target info is unchanged), and only a page of this generation may stand in for a failed
   * revalidation.
   */
  trustGeneration(): TrustGeneration {
    return { current: this.deps.session.generation, isDue: this.#refreshing !== undefined || this.#isDue(this.deps.clock.nowMs()) }
  }

  /** Waits for a due (or running) refresh: at most refreshWaitMs while the current state is usable. */
  async #awaitDueRefresh(): Promise<void> {
    const nowMs = this.deps.clock.nowMs()
    if (!this.#isDue(nowMs) && !this.#refreshing) return
    const running = this.#refresh()
    if (this.#isUsable(nowMs)) await waitAtMost(running, this.options.refreshWaitMs)
    else await running
  }

  /**
   * Ensures the trusted metadata is usable now. When a refresh is due (or running) the request
   * waits for it, so it is answered from the newest state; the previous state answers only when
   * the refresh fails or takes longer than refreshWaitMs.
   */
  async #current(): Promise<void> {
    await this.#awaitDueRefresh()
    if (this.#isUsable(this.deps.clock.nowMs())) return
    if (this.options.offline) {
      const { expired, warning } = this.offlineStatus()
      if (expired && warning) throw new OfflineExpiredError(warning, expired.role, expired.expires)
    }
    const lastError = this.#lastError
    if (lastError instanceof TrustError) throw lastError
    if (lastError instanceof UpstreamError && this.#validUntilMs === undefined) {
      throw new UnavailableError(`no verified TUF metadata yet, and the upstream failed: ${lastError.message}`, { cause: lastError, code: lastError.code })
    }
    throw new ExpiredMetadataError(
      this.#validUntilMs === undefined
        ? 'no verified TUF metadata yet'
        : `the trusted TUF metadata expired at ${new Date(this.#validUntilMs).toISOString()} and no newer metadata verified`,
    )
  }

  /** One refresh at a time; never rejects: failures are recorded and kept for #current. */
  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      this.#lastAttemptMs = this.deps.clock.nowMs()
      try {
        const refresh = () => this.deps.session.refresh()
        await (this.deps.exclusiveRefresh ? this.deps.exclusiveRefresh(refresh) : refresh())
        this.#lastSuccessMs = this.deps.clock.nowMs()
        this.#lastError = undefined
        this.#validUntilMs = this.#computeValidUntil()
        this.deps.metrics.inc(REFRESH_METRIC, REFRESH_HELP, { ...this.#sourceLabel, result: 'ok' })
      } catch (error) {
        this.#lastError = error
        this.deps.metrics.inc(REFRESH_METRIC, REFRESH_HELP, { ...this.#sourceLabel, result: 'failed' })
        if (!this.deps.drops.recordRefusal(error, { what: 'metadata', url: 'refresh' })) {
          this.deps.logger.warn('tuf_refresh_failed', { code: errorCode(error), detail: describeError(error) })
        }
      } finally {
        this.#refreshing = undefined
      }
    })()
    return this.#refreshing
  }

  #computeValidUntil(): number | undefined {
    const status = this.deps.session.status()
    const roles = [status.timestamp, status.snapshot, status.targets]
    if (roles.some((role) => role === undefined)) return undefined
    return Math.min(parseExpires(status.rootExpires), ...roles.map((role) => parseExpires(role?.expires ?? '')))
  }
}

/**
 * The offline server's words for an expired role: serving within `--offline-grace`, or refusing
 * past it (the 503 body and /status say the same).
 */
function offlineExpiryWarning(expired: { role: string; version?: number | undefined; expires: string }, graceMs: number, nowMs: number): { isServingPastExpiry: boolean; warning: string } {
  const graceSeconds = Math.round(graceMs / 1000)
  const isServingPastExpiry = nowMs < parseExpires(expired.expires) + graceMs
  const what = `the ${expired.role} metadata${expired.version === undefined ? '' : ` (version ${expired.version})`} expired at ${expired.expires}`
  const warning = isServingPastExpiry
    ? `serving past expiry: ${what}; --offline-grace ${formatDuration(graceSeconds)} allows it until ${new Date(parseExpires(expired.expires) + graceMs).toISOString()}. Import a newer bundle.`
    : `${what}${graceMs > 0 ? `, more than the --offline-grace of ${formatDuration(graceSeconds)} ago` : ''}; an offline mirror cannot refresh it: import a newer bundle, or accept serving past expiry with --offline-grace DURATION`
  return { isServingPastExpiry, warning }
}

/** Resolves when `work` settles or after `ms`, whichever is first; `work` goes on regardless. */
async function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Warehouse layout: a file is bound to signed metadata only through the hashes of the verified
 * page that lists it, so a link (or a PEP 658 `.metadata` promised as `true`) with no strong
 * hash has nothing signed behind it and is refused rather than relayed.
 * @throws IntegrityError('no_strong_hash')
 */
function boundByVerifiedPage(listed: FileTarget, fileName: string): FileTarget {
  if (!hasStrongHash(listed.evidence.hashes)) {
    throw new IntegrityError('no_strong_hash', `the verified page lists no strong hash for ${JSON.stringify(fileName)}, so no signed metadata vouches for its bytes`)
  }
  return listed
}
