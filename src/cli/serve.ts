/**
 * `tuf-proxy serve`: reads the settings, builds every room with its slice of them, listens, and
 * shuts down gracefully on SIGTERM/SIGINT. The only place that creates the real clock.
 */
import { homedir, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { createJsonLogger, describeError, maskUrl, Metrics, systemClock, systemMonotonicMs, type Clock, type Logger } from '../base/index.js'
import { ConfigError, parseArgv, parseSettings, readConfigFile, readEnv, usage, type Settings } from '../config/index.js'
import { createApp, listen, type Listening } from '../http/index.js'
import { CacheAdmin, DropLog, Files, httpPageSource, Mirror, PAGE_RECORD_NAMESPACES, pageSpacesOf, SimplePages, type TufMirror } from '../mirror/index.js'
import { openBlobStore, openRecordStore } from '../store/index.js'
import { checkUpstream, createOfflineClient, createUpstreamHealth, withHealthBreaker, withRequestMetrics } from '../upstream/index.js'
import { readAdminToken, type AdminToken } from './admin-token.js'
import { installLastWords } from './last-words.js'
import { createLineWriter } from './line-writer.js'
import { packageVersion } from './package-version.js'
import { readOfflineTrust } from './offline-trust.js'
import { buildOfflineTufMirror, buildTufMirror } from './tuf-mode.js'
import { upstreamClientFor } from './upstream-client.js'
import { buildReleasePolicy, buildSourceRouter } from './sources-mode.js'
import { startLine } from './start-line.js'
import { isWorker, leaveCluster, runPrimary, workerCount, workerId, workerLink } from './cluster.js'

/** nginx-style max_fails / fail_timeout, per origin: after failures of this many different URLs with no success between, that host is skipped for a while. */
const BREAKER_MAX_FAILS = 3
const BREAKER_FAIL_TIMEOUT_MS = 10_000
/** The start check's longest wait (shorter when --upstream-timeout is): it only informs, so it need not wait long. */
const START_CHECK_TIMEOUT_MS = 10_000

/** Start and stop lines are written at any --log-level: supervisors read the bound port from them. */
const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(['listening', 'shutting_down', 'stopped', 'signal_ignored'])

/** Log lines that never reached stdout: routine ones shed behind a slow reader, any when stdout is gone. */
const LOG_LOST_METRIC = 'tuf_proxy_log_lines_lost_total'
const LOG_LOST_HELP = 'Log lines not written to stdout, by level and reason (shed: routine line behind a slow reader; closed: stdout gone)'

/** How long running responses may finish after SIGTERM before their sockets are closed. */
const SHUTDOWN_GRACE_MS = 10_000
/**
 * After the clients, how long work no client waits for any more (a download whose readers left,
 * its commit to disk) may go on before the process exits anyway, abandoning it.
 */
const ABANDON_AFTER_MS = 5_000

/** Where the cache lives when no --cache-dir is given (also `tuf-proxy cache`'s default). */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'tuf-proxy')
}

/** @throws ConfigError */
export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv): { settings: Settings; help: boolean } {
  const commandLine = parseArgv(argv)
  const fromEnv = readEnv(env)
  const configFile = commandLine.configFile ?? fromEnv.configFile
  const fileLayer = configFile ? readConfigFile(configFile) : new Map()
  return { settings: parseSettings([fileLayer, fromEnv.layer, commandLine.flags], defaultCacheDir(env), env), help: commandLine.help }
}

export async function runServe(argv: readonly string[]): Promise<number> {
  let settings: Settings
  let adminToken: AdminToken | undefined
  try {
    const loaded = loadSettings(argv, process.env)
    if (loaded.help) {
      process.stdout.write(usage())
      return 0
    }
    settings = loaded.settings
    adminToken = settings.adminTokenFile === undefined ? undefined : readAdminToken(settings.adminTokenFile)
    // Checked here so an unusable policy entry is reported like any other config mistake.
    if (settings.routing?.policy) buildReleasePolicy(settings.routing.policy)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`tuf-proxy serve: ${error.message}\nRun 'tuf-proxy serve --help' for the flags.\n`)
    return 2
  }
  const metrics = new Metrics()
  metrics.collectProcessMetrics()
  metrics.set('tuf_proxy_build_info', 'Always 1; the labels name the tuf-proxy version and the Node.js version running it', 1, {
    version: packageVersion(),
    node: process.version,
  })
  metrics.declareCounter(LOG_LOST_METRIC, LOG_LOST_HELP)
  const workers = workerCount(settings.workers)
  const out = createLineWriter({
    fd: process.stdout.fd,
    onLost: (level, reason) => metrics.inc(LOG_LOST_METRIC, LOG_LOST_HELP, { level, reason }),
    // The primary and every worker write to the one stdout they share.
    isShared: workers > 1,
  })
  const logger = createJsonLogger({ write: out.write, level: settings.logLevel, unfiltered: LIFECYCLE_EVENTS })
  if (adminToken?.looseMode !== undefined) {
    logger.warn('admin_token_file_permissions', {
      path: settings.adminTokenFile,
      mode: adminToken.looseMode.toString(8).padStart(4, '0'),
      detail: 'other users may read the admin token; chmod 600 the file unless it is a mounted secret only this service sees',
    })
  }
  let inFlight: () => ReturnType<Listening['inFlight']> = () => []
  installLastWords({ logger, writer: out, inFlight: () => inFlight() })
  if (workers > 1 && !isWorker()) return runPrimary({ workers, logger, flush: out.flush })
  try {
    return await serve(settings, { logger, metrics, adminToken, flush: out.flush, onListening: (listening) => (inFlight = listening.inFlight) })
  } catch (error) {
    logger.error('startup_failed', { detail: describeError(error) })
    leaveCluster()
    return 1
  }
}

interface ServeDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly adminToken: AdminToken | undefined
  readonly flush: () => void
  readonly onListening: (listening: Listening) => void
}

async function serve(given: Settings, { logger, metrics, adminToken, flush, onListening }: ServeDeps): Promise<number> {
  const clock = systemClock
  // Offline, a cache imported with --tuf-root is served in verifying mode, by the repository and
  // index URL the import recorded (page URLs map to TUF targets through them).
  const offlineTrust = given.offline ? await readOfflineTrust(given.cacheDir) : undefined
  const settings: Settings = offlineTrust ? { ...given, upstream: offlineTrust.upstream } : given
  const startedAtMs = clock.nowMs()
  const health = createUpstreamHealth({ maxFails: BREAKER_MAX_FAILS, failTimeoutMs: BREAKER_FAIL_TIMEOUT_MS, clock, logger })
  // Offline: a client with no connection pool at all, so nothing can call out.
  const client = settings.offline ? createOfflineClient() : upstreamClientFor(settings)
  const counted = withRequestMetrics(client, {
    metrics,
    health,
    knownUrls: [
      settings.upstream,
      ...(settings.routing?.sources ?? []).flatMap((source) => (source.kind === 'index' ? [source.url] : [])),
      ...(settings.tuf ? [settings.tuf.metadataUrl, settings.tuf.targetsUrl] : []),
      ...(settings.routing?.sources ?? []).flatMap((source) => (source.kind === 'index' && source.tuf ? [source.tuf.metadataUrl, source.tuf.targetsUrl] : [])),
    ],
    monotonicMs: systemMonotonicMs,
  })
  const upstream = settings.offline ? client : withHealthBreaker(counted, health, BREAKER_FAIL_TIMEOUT_MS)
  const blobs = await openBlobStore({ dir: join(settings.cacheDir, 'blobs'), maxBytes: settings.cacheMaxBytes, logger, metrics })
  const records = await openRecordStore({ dir: join(settings.cacheDir, 'records'), logger })
  const drops = new DropLog({ logger, metrics, nowMs: clock.nowMs })
  metrics.onCollect(() => {
    metrics.set('tuf_proxy_cache_bytes', 'Bytes in the file cache', blobs.totalBytes)
    metrics.set('tuf_proxy_cache_files', 'Blobs in the file cache', blobs.count)
    metrics.set('tuf_proxy_cache_max_bytes', 'The file cache budget (--cache-max-bytes); +Inf when unbounded', blobs.maxBytes)
  })
  const files = new Files(
    { requireHashes: settings.requireHashes, maxFileBytes: settings.maxFileBytes },
    { upstream, blobs, records, clock, logger, metrics, drops },
  )
  const tufDeps = { settings, upstream, blobs, files, clock, logger, metrics, drops }
  const tuf: TufMirror | undefined = settings.tuf
    ? await buildTufMirror({ ...tufDeps, tuf: settings.tuf })
    : offlineTrust
      ? await buildOfflineTufMirror({ ...tufDeps, offline: offlineTrust })
      : undefined
  if (offlineTrust && tuf) {
    // On every start: serving past expiry is the operator's explicit acceptance, never silent.
    const view = tuf.offlineStatus()
    if (view.graceSeconds > 0 || view.expired) logger.warn('offline_trust', { graceSeconds: view.graceSeconds, expiredRole: view.expired?.role, expired: view.expired?.expires, servingPastExpiry: view.isServingPastExpiry, detail: view.warning ?? 'the imported TUF metadata is unexpired' })
  }
  if (tuf) collectTrustMetrics(metrics, tuf, clock)
  const httpSource = httpPageSource(upstream, settings.maxPageBytes)
  const pages = new SimplePages(
    {
      upstreamUrl: settings.upstream,
      // Offline, an imported page is current until the next import replaces it.
      indexTtlSeconds: settings.offline ? Infinity : settings.indexTtlSeconds,
      isAllowedUrl: (url) => isAllowed(upstream, url),
      ...(tuf ? { canServeStale: () => tuf.isUsable(), trustGeneration: () => tuf.trustGeneration(), recordNamespace: PAGE_RECORD_NAMESPACES.verifying } : {}),
    },
    { source: tuf ? tuf.pageSource(httpSource) : httpSource, blobs, records, clock, logger, metrics, drops },
  )
  // /health reports the first index's breaker (the one --upstream without sources:).
  const indexUrl = settings.routing?.sources?.find((source) => source.kind === 'index')?.url ?? settings.upstream
  const upstreamLabel = settings.routing?.sources ? settings.routing.sources.map((source) => `${source.name}=${source.kind === 'index' ? maskUrl(source.url) : source.path}`).join(' ') : settings.upstream
  const sourcesMode = settings.routing
    ? await buildSourceRouter({ settings, routing: settings.routing, upstream, isAllowedUrl: (url) => isAllowed(upstream, url), blobs, records, files, clock, logger, metrics, drops, single: { pages, tuf } })
    : undefined
  const router = sourcesMode?.router
  const verifyingSources = sourcesMode?.verifying ?? []
  for (const { source, tuf: sourceTuf } of verifyingSources) collectTrustMetrics(metrics, sourceTuf, clock, { source })
  const mirror = new Mirror({
    upstreamUrl: upstreamLabel,
    router,
    pages,
    files,
    blobs,
    drops,
    tuf,
    // /health reports the index's origin; file hosts have their own reports and recover on their own.
    upstreamState: () => (settings.offline ? 'offline' : health.report(indexUrl).state),
    upstreamCause: () => health.report(indexUrl).lastError?.cause,
    upstreamReports: () => health.reports(),
    isOffline: settings.offline,
    ...(tuf ? { resolveFile: tuf.resolveFile.bind(tuf) } : {}),
    ...(sourcesMode ? { storedPageCount: () => [...sourcesMode.pagesByNamespace.values()].reduce((sum, sourcePages) => sum + sourcePages.storedCount(), 0) } : {}),
    ...(verifyingSources.length > 0 ? { sourceTrust: () => verifyingSources.map(({ source, tuf: sourceTuf }) => ({ source, trust: sourceTuf.status() })) } : {}),
  })
  const admin = adminToken && {
    token: adminToken.token,
    cache: new CacheAdmin({
      blobs,
      records,
      // With sources (or a policy), the router's pages are the ones in use; else the one upstream's.
      pageSpaces: pageSpacesOf([], sourcesMode ? sourcesMode.pagesByNamespace : new Map([[tuf ? PAGE_RECORD_NAMESPACES.verifying : PAGE_RECORD_NAMESPACES.hashOnly, pages]])),
      ...(sourcesMode ? { ownership: sourcesMode.ownership, router: sourcesMode.router } : {}),
      logger,
    }),
    refresh: sourcesMode ? (project: string) => sourcesMode.router.refresh(project) : async (project: string) => ({ source: undefined, refresh: await pages.refresh(project) }),
  }
  const link = isWorker() ? workerLink() : undefined
  const { app, hotPath, statusReport } = createApp({
    mirror,
    metrics,
    logger,
    clock,
    monotonicMs: systemMonotonicMs,
    about: { version: packageVersion(), startedAtMs },
    admin,
    honorClientRevalidate: settings.honorClientRevalidate,
    ...(link ? { whole: link.whole } : {}),
  })
  link?.answerWith({ metrics: () => metrics.render(), status: statusReport })
  const listening = await listen(app, hotPath, { host: settings.host, port: settings.port, monotonicMs: systemMonotonicMs })
  onListening(listening)
  // The signal handlers go in before the listening line: a supervisor may send SIGTERM as soon as
  // it reads that line, and Node installs a handler lazily enough for the default action to win.
  const startCheck = new AbortController()
  const stopped = new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info('shutting_down', { signal })
      // An unanswered check would hold upstream.close() until its timeout.
      startCheck.abort()
      void listening.close(SHUTDOWN_GRACE_MS).then(() => {
        // What is left is work no client waits for: disk writes of what was fetched (finished in
        // milliseconds, and worth keeping) and downloads whose readers left. The process exits
        // when the event loop is empty, `stopped` being its last line, or after ABANDON_AFTER_MS,
        // naming what it abandoned: a hung upstream download would otherwise hold it for up to
        // --upstream-deadline (undici's close() waits for running requests). Abandoning is safe:
        // blobs and records go to temp files renamed when complete, and a start sweeps temp files.
        upstream.close().catch((error: unknown) => logger.error('shutdown_failed', { detail: describeError(error) }))
        // A worker's channel to the primary would keep the event loop, and so the process, alive.
        link?.close()
        // Written out, however slow the reader, by the exit flush (last-words.ts).
        process.once('beforeExit', () => logger.info('stopped'))
        setTimeout(() => {
          logger.info('stopped', { abandoned: process.getActiveResourcesInfo() })
          process.exit()
        }, ABANDON_AFTER_MS).unref()
        resolve(0)
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    // Node's default for SIGHUP (a closed terminal, or a reload a supervisor sends) is to die
    // silently. There is nothing to reload or reopen: logs go to stdout, settings are read once.
    process.on('SIGHUP', () => logger.info('signal_ignored', { signal: 'SIGHUP', detail: 'nothing to reload or reopen; restart the process to apply new settings' }))
  })
  logger.info('listening', {
    host: listening.address.address,
    port: listening.address.port,
    upstream: maskUrl(upstreamLabel),
    cacheDir: settings.cacheDir,
    mode: mirror.health().mode,
    offline: settings.offline,
    proxy: settings.proxy.source === '' ? undefined : proxyLogFields(settings.proxy),
    ...(link ? { worker: workerId() } : {}),
  })
  link?.ready({ host: listening.address.address, port: listening.address.port })
  flush()
  // Offline, there is nothing to check and nothing may be asked.
  if (!settings.offline) {
    void checkUpstream({
      client,
      health,
      logger,
      url: indexUrl,
      timeoutMs: Math.min(settings.upstreamTimeoutMs, START_CHECK_TIMEOUT_MS),
      signal: startCheck.signal,
    })
  }
  process.stderr.write(startLine({ version: packageVersion(), address: listening.address, interfaces: networkInterfaces() }))
  return stopped
}

/** The proxies in the start-up line, passwords masked. */
function proxyLogFields(proxy: Settings['proxy']): Record<string, string | undefined> {
  return {
    https: proxy.https === '' ? undefined : maskUrl(proxy.https),
    http: proxy.http === '' ? undefined : maskUrl(proxy.http),
    noProxy: proxy.noProxy === '' ? undefined : proxy.noProxy,
    from: proxy.source,
  }
}

/**
 * Verifying mode: each top-level role's version and the seconds until it expires (negative once
 * expired); a verifying `sources:` index's are labelled with `source`.
 */
function collectTrustMetrics(metrics: Metrics, tuf: TufMirror, clock: Clock, labels: Readonly<Record<string, string>> = {}): void {
  metrics.onCollect(() => {
    const nowMs = clock.nowMs()
    for (const role of tuf.status().roles) {
      if (role.version !== undefined) metrics.set('tuf_proxy_tuf_role_version', 'Version of each top-level TUF role in the trusted metadata', role.version, { ...labels, role: role.name })
      const expiresMs = role.expires === undefined ? NaN : Date.parse(role.expires)
      if (!Number.isNaN(expiresMs)) {
        metrics.set('tuf_proxy_tuf_role_expiry_seconds', 'Seconds until each top-level TUF role expires (negative once expired)', (expiresMs - nowMs) / 1000, { ...labels, role: role.name })
      }
    }
  })
}

function isAllowed(upstream: { assertAllowed(url: string): void }, url: string): boolean {
  try {
    upstream.assertAllowed(url)
    return true
  } catch {
    return false
  }
}
