/**
 * Builds verifying mode from its settings: the persisted trust state, the TUF session fed by the
 * upstream client, the repository layout, and the TufMirror that pages, files and /tuf/ go through.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock, Logger, Metrics } from '../base/index.js'
import { ConfigError, type Settings, type TufSettings } from '../config/index.js'
import { pathsLayout, relativeTargetPath, TufMirror, warehouseLayout, type DropLog, type Files } from '../mirror/index.js'
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
}

/** @throws ConfigError for an unreadable root or a layout that cannot map the upstream */
export async function buildTufMirror(deps: TufModeDeps): Promise<TufMirror> {
  const { settings, tuf } = deps
  let trustedRoot: Uint8Array
  try {
    trustedRoot = readFileSync(tuf.rootFile)
  } catch (error) {
    throw new ConfigError(`--tuf-root ${tuf.rootFile}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  if (tuf.layout === 'paths' && relativeTargetPath(settings.upstream, tuf.targetsUrl) === undefined) {
    throw new ConfigError(`--upstream ${settings.upstream} is not below --tuf-targets-url ${tuf.targetsUrl}: with --tuf-layout paths, pages are targets under the targets base`)
  }
  const store = await openTrustStateStore({ dir: join(settings.cacheDir, 'tuf', 'metadata'), logger: deps.logger })
  // Processes sharing the cache directory refresh one at a time and adopt each other's result.
  const locksDir = join(settings.cacheDir, 'tuf', 'locks')
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
  const layout = tuf.layout === 'paths' ? pathsLayout(tuf.targetsUrl) : warehouseLayout(tuf.targetsUrl, settings.upstream)
  const mirror = new TufMirror(
    // A request waits for a due refresh as long as one upstream request may take.
    { layout, refreshSeconds: tuf.refreshSeconds, refreshWaitMs: settings.upstreamDeadlineMs, maxPageBytes: settings.maxPageBytes },
    { session, upstream: deps.upstream, files: deps.files, blobs: deps.blobs, clock: deps.clock, logger: deps.logger, metrics: deps.metrics, drops: deps.drops, exclusiveRefresh: shared.exclusive },
  )
  mirror.start()
  return mirror
}
