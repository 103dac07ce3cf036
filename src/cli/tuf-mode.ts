/**
 * Builds verifying mode from its settings: the persisted trust state, the TUF session fed by the
 * upstream client, the repository layout, and the TufMirror that pages, files and /tuf/ go through.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { maskUrl, type Clock, type Logger, type Metrics } from '../base/index.js'
import { ConfigError, type Settings, type TufSettings } from '../config/index.js'
import { pathsLayout, relativeTargetPath, TufMirror, warehouseLayout, type DropLog, type Files } from '../mirror/index.js'
import { trustStateDir, type OfflineTrust } from './offline-trust.js'
import { TufSession } from '../tuf-client/index.js'
import { openLockFiles, openTrustStateStore, type BlobStore } from '../store/index.js'
import { UpstreamHttpError, type UpstreamClient } from '../upstream/index.js'
import { sharedRefresh } from './shared-refresh.js'

export interface TufModeDeps {
  readonly settings: Settings
  readonly tuf: TufSettings
  readonly upstream: UpstreamClient
  readonly blobs: BlobStore
  readonly files: Files
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  readonly drops: DropLog
  /**
   * A `sources:` index with its own `tuf:` (else the single --upstream): its URL, and its name,
   * which keeps its trust state apart from every other repository's.
   */
  readonly source?: { readonly name: string; readonly url: string }
}

/** The trust state and refresh locks of the single --upstream's repository, or of one source's. */
function tufStateDir(cacheDir: string, sourceName: string | undefined): string {
  // Source names are [a-z0-9-] (config/sources.ts), so one is a safe path segment.
  return sourceName === undefined ? join(cacheDir, 'tuf') : join(cacheDir, 'tuf', 'sources', sourceName)
}

/** @throws ConfigError for an unreadable root or a layout that cannot map the upstream */
export async function buildTufMirror(deps: TufModeDeps): Promise<TufMirror> {
  const { settings, tuf, source } = deps
  const indexUrl = source?.url ?? settings.upstream
  // Each message names the setting the operator wrote: the flag, or the source's tuf: key.
  const named = (flag: string, key: string) => (source ? `sources entry ${JSON.stringify(source.name)}: tuf.${key}` : `--${flag}`)
  let trustedRoot: Uint8Array
  try {
    trustedRoot = readFileSync(tuf.rootFile)
  } catch (error) {
    throw new ConfigError(`${named('tuf-root', 'root')} ${tuf.rootFile}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  if (tuf.layout === 'paths' && relativeTargetPath(indexUrl, tuf.targetsUrl) === undefined) {
    throw new ConfigError(`${source ? `sources entry ${JSON.stringify(source.name)}: url` : '--upstream'} ${maskUrl(indexUrl)} is not below ${named('tuf-targets-url', 'targets-url')} ${tuf.targetsUrl}: with ${source ? 'layout: paths' : '--tuf-layout paths'}, pages are targets under the targets base`)
  }
  const stateDir = tufStateDir(settings.cacheDir, source?.name)
  const store = await openTrustStateStore({ dir: join(stateDir, 'metadata'), logger: deps.logger })
  // Processes sharing the cache directory refresh one at a time and adopt each other's result.
  const locksDir = join(stateDir, 'locks')
  mkdirSync(locksDir, { recursive: true })
  const metadataBaseUrl = tuf.metadataUrl.endsWith('/') ? tuf.metadataUrl : `${tuf.metadataUrl}/`
  const shared = sharedRefresh({
    locks: openLockFiles({ dir: locksDir, logger: deps.logger }),
    store,
    metadataBaseUrl,
    upstream: { fetch: async (url, maxBytes) => (await deps.upstream.getBytes(url, { maxBytes })).body },
    logger: deps.logger,
  })
  const session = await TufSession.open({
    metadataBaseUrl,
    fetcher: shared.fetcher,
    store,
    clock: deps.clock,
    limits: { rootMaxBytes: tuf.maxRootBytes, timestampMaxBytes: tuf.maxTimestampBytes, maxDelegations: tuf.maxDelegations },
    trustedRoot,
    // TUF 5.3.3: the root chain ends where the repository has no N+1.root.json.
    isNotFound: (error) => error instanceof UpstreamHttpError && (error.status === 404 || error.status === 403),
    // Served to TUF clients behind the proxy after a restart, so they can rotate through every root.
    keepRootHistory: true,
    // Rollback, and whether the state in force is behind the repository, judged across restarts.
    keepNewestTimestamp: true,
    // After a restart with the upstream down, keep serving what was verified before, until it expires.
    trustLocalMetadata: true,
  })
  const layout = tuf.layout === 'paths' ? pathsLayout(tuf.targetsUrl) : warehouseLayout(tuf.targetsUrl, indexUrl)
  const mirror = new TufMirror(
    // A request waits for a due refresh as long as one upstream request may take.
    { layout, refreshSeconds: tuf.refreshSeconds, refreshWaitMs: settings.upstreamDeadlineMs, maxPageBytes: settings.maxPageBytes, ...(source ? { source: source.name } : {}) },
    { session, upstream: deps.upstream, files: deps.files, blobs: deps.blobs, clock: deps.clock, logger: deps.logger, metrics: deps.metrics, drops: deps.drops, exclusiveRefresh: shared.exclusive },
  )
  mirror.start()
  return mirror
}

/**
 * `serve --offline` of a cache imported with `--tuf-root`: verifying mode from the imported state
 * alone. The session never fetches (the offline client fails every request) and judges expiry by
 * a clock `graceSeconds` behind the real one, so within the grace the imported state verifies as
 * it did; the TufMirror refuses past that with OfflineExpiredError, naming the role.
 * @throws ConfigError when the importer's root is not in the trust store
 */
export async function buildOfflineTufMirror(deps: Omit<TufModeDeps, 'tuf'> & { readonly offline: OfflineTrust }): Promise<TufMirror> {
  const { settings, offline } = deps
  const graceMs = settings.offlineGraceSeconds * 1000
  const store = await openTrustStateStore({ dir: trustStateDir(settings.cacheDir), logger: deps.logger })
  const anchorName = `${offline.trustedRootVersion}.root.json`
  const trustedRoot = await store.read(anchorName)
  if (!trustedRoot) throw new ConfigError(`${trustStateDir(settings.cacheDir)}/${anchorName} is missing: the cache's imported TUF state is incomplete; import the bundle again with --tuf-root`)
  const trustClock: Clock = { nowMs: () => deps.clock.nowMs() - graceMs }
  const session = await TufSession.open({
    metadataBaseUrl: offline.metadataUrl,
    fetcher: { fetch: async (url, maxBytes) => (await deps.upstream.getBytes(url, { maxBytes })).body },
    store,
    clock: trustClock,
    trustedRoot,
    isNotFound: () => false,
    keepRootHistory: true,
    // What the import verified is the state in force; no refresh ever replaces it.
    trustLocalMetadata: true,
    // A stored role that does not verify (expired) is the answer: the offline client could only fail.
    isOffline: true,
  })
  const layout = offline.layout === 'paths' ? pathsLayout(offline.targetsUrl) : warehouseLayout(offline.targetsUrl, offline.upstream)
  const mirror = new TufMirror(
    { layout, refreshSeconds: Infinity, refreshWaitMs: 0, maxPageBytes: settings.maxPageBytes, offline: { graceMs } },
    { session, upstream: deps.upstream, files: deps.files, blobs: deps.blobs, clock: deps.clock, logger: deps.logger, metrics: deps.metrics, drops: deps.drops },
  )
  mirror.start()
  return mirror
}
