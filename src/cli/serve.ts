/**
 * `tuf-proxy serve`: reads the settings, builds every room with its slice of them, listens, and
 * shuts down gracefully on SIGTERM/SIGINT. The only place that creates the real clock.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createJsonLogger, describeError, maskUrl, Metrics, systemClock, type Logger } from '../base/index.js'
import { ConfigError, parseArgv, parseSettings, readConfigFile, readEnv, usage, type Settings } from '../config/index.js'
import { createApp, listen, type Listening } from '../http/index.js'
import { DropLog, Files, httpPageSource, Mirror, SimplePages, type TufMirror } from '../mirror/index.js'
import { openBlobStore, openRecordStore } from '../store/index.js'
import { createUpstreamClient, createUpstreamHealth, withHealthBreaker } from '../upstream/index.js'
import { installLastWords } from './last-words.js'
import { createLineWriter } from './line-writer.js'
import { packageVersion } from './package-version.js'
import { buildTufMirror } from './tuf-mode.js'
import { isWorker, leaveCluster, runPrimary, workerCount, workerId, workerLink } from './cluster.js'

/** The longest window over which the upstream body rate floor is averaged. */
const RATE_WINDOW_MAX_MS = 10_000
/** nginx-style max_fails / fail_timeout, per origin: after failures of this many different URLs with no success between, that host is skipped for a while. */
const BREAKER_MAX_FAILS = 3
const BREAKER_FAIL_TIMEOUT_MS = 10_000

/** Start and stop lines are written at any --log-level: supervisors read the bound port from them. */
const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(['listening', 'shutting_down', 'stopped'])

/** Log lines that never reached stdout: routine ones shed behind a slow reader, any when stdout is gone. */
const LOG_LOST_METRIC = 'tuf_proxy_log_lines_lost_total'
const LOG_LOST_HELP = 'Log lines not written to stdout, by level and reason (shed: routine line behind a slow reader; closed: stdout gone)'

/** How long running responses may finish after SIGTERM before their sockets are closed. */
const SHUTDOWN_GRACE_MS = 10_000

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'tuf-proxy')
}

/** @throws ConfigError */
export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv): { settings: Settings; help: boolean } {
  const commandLine = parseArgv(argv)
  const fromEnv = readEnv(env)
  const configFile = commandLine.configFile ?? fromEnv.configFile
  const fileLayer = configFile ? readConfigFile(configFile) : new Map()
  return { settings: parseSettings([fileLayer, fromEnv.layer, commandLine.flags], defaultCacheDir(env)), help: commandLine.help }
}

export async function runServe(argv: readonly string[]): Promise<number> {
  let settings: Settings
  try {
    const loaded = loadSettings(argv, process.env)
    if (loaded.help) {
      process.stdout.write(usage())
      return 0
    }
    settings = loaded.settings
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`tuf-proxy serve: ${error.message}\nRun 'tuf-proxy serve --help' for the flags.\n`)
    return 2
  }
  const metrics = new Metrics()
  metrics.declareCounter(LOG_LOST_METRIC, LOG_LOST_HELP)
  const out = createLineWriter({
    fd: process.stdout.fd,
    onLost: (level, reason) => metrics.inc(LOG_LOST_METRIC, LOG_LOST_HELP, { level, reason }),
  })
  const logger = createJsonLogger({ write: out.write, level: settings.logLevel, unfiltered: LIFECYCLE_EVENTS })
  let inFlight: () => ReturnType<Listening['inFlight']> = () => []
  installLastWords({ logger, writer: out, inFlight: () => inFlight() })
  const workers = workerCount(settings.workers)
  if (workers > 1 && !isWorker()) return runPrimary({ workers, logger, flush: out.flush })
  try {
    return await serve(settings, { logger, metrics, flush: out.flush, onListening: (listening) => (inFlight = listening.inFlight) })
  } catch (error) {
    logger.error('startup_failed', { detail: describeError(error) })
    leaveCluster()
    return 1
  }
}

interface ServeDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly flush: () => void
  readonly onListening: (listening: Listening) => void
}

async function serve(settings: Settings, { logger, metrics, flush, onListening }: ServeDeps): Promise<number> {
  const clock = systemClock
  const startedAtMs = clock.nowMs()
  const timeoutMs = settings.upstreamTimeoutMs
  const health = createUpstreamHealth({ maxFails: BREAKER_MAX_FAILS, failTimeoutMs: BREAKER_FAIL_TIMEOUT_MS, clock })
  const client = createUpstreamClient({
    allowedHosts: settings.allowedHosts,
    caBundlePem: settings.caBundleFile ? readCaBundle(settings.caBundleFile) : undefined,
    connectTimeoutMs: timeoutMs,
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    deadlineMs: settings.upstreamDeadlineMs,
    minBytesPerSecond: settings.upstreamMinBytesPerSecond,
    // A window as long as the idle timeout: a body that makes no real progress for that long has
    // stalled as surely as one that sends nothing. Capped so a drip is ended within seconds.
    rateWindowMs: Math.min(timeoutMs, RATE_WINDOW_MAX_MS),
    maxRedirects: 5,
    userAgent: 'tuf-proxy/0.1',
  })
  const upstream = withHealthBreaker(client, health, BREAKER_FAIL_TIMEOUT_MS)
  const blobs = await openBlobStore({ dir: join(settings.cacheDir, 'blobs'), maxBytes: settings.cacheMaxBytes, logger, metrics })
  const records = await openRecordStore({ dir: join(settings.cacheDir, 'records'), logger })
  const drops = new DropLog({ logger, metrics, nowMs: clock.nowMs })
  metrics.onCollect(() => {
    metrics.set('tuf_proxy_cache_bytes', 'Bytes in the file cache', blobs.totalBytes)
    metrics.set('tuf_proxy_cache_files', 'Blobs in the file cache', blobs.count)
  })
  const files = new Files(
    { requireHashes: settings.requireHashes, maxFileBytes: settings.maxFileBytes },
    { upstream, blobs, records, clock, logger, metrics, drops },
  )
  const tuf: TufMirror | undefined = settings.tuf
    ? await buildTufMirror({ settings, tuf: settings.tuf, upstream, blobs, files, clock, logger, metrics, drops })
    : undefined
  const httpSource = httpPageSource(upstream, settings.maxPageBytes)
  const pages = new SimplePages(
    {
      upstreamUrl: settings.upstream,
      indexTtlSeconds: settings.indexTtlSeconds,
      isAllowedUrl: (url) => isAllowed(upstream, url),
      ...(tuf ? { canServeStale: () => tuf.isUsable(), trustGeneration: () => tuf.trustGeneration(), recordNamespace: 'tuf-page' } : {}),
    },
    { source: tuf ? tuf.pageSource(httpSource) : httpSource, blobs, records, clock, logger, metrics, drops },
  )
  const mirror = new Mirror({
    upstreamUrl: settings.upstream,
    pages,
    files,
    blobs,
    drops,
    tuf,
    // /health reports the index's breaker; file hosts have their own and recover on their own.
    upstreamState: () => health.stateOf(settings.upstream),
    upstreamReports: () => health.reports(),
    ...(tuf ? { resolveFile: tuf.resolveFile.bind(tuf) } : {}),
  })
  const link = isWorker() ? workerLink() : undefined
  const { app, hotPath, statusReport } = createApp({ mirror, metrics, logger, clock, about: { version: packageVersion(), startedAtMs }, ...(link ? { whole: link.whole } : {}) })
  link?.answerWith({ metrics: () => metrics.render(), status: statusReport })
  const listening = await listen(app, hotPath, { host: settings.host, port: settings.port, clock })
  onListening(listening)
  // The signal handlers go in before the listening line: a supervisor may send SIGTERM as soon as
  // it reads that line, and Node installs a handler lazily enough for the default action to win.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info('shutting_down', { signal })
      listening
        .close(SHUTDOWN_GRACE_MS)
        .then(() => upstream.close())
        .catch((error: unknown) => logger.error('shutdown_failed', { detail: describeError(error) }))
        .finally(() => {
          // Written out, however slow the reader, by the exit flush (last-words.ts).
          logger.info('stopped')
          link?.close()
          resolve(0)
        })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  logger.info('listening', {
    host: listening.address.address,
    port: listening.address.port,
    upstream: maskUrl(settings.upstream),
    cacheDir: settings.cacheDir,
    mode: mirror.health().mode,
    ...(link ? { worker: workerId() } : {}),
  })
  link?.ready({ host: listening.address.address, port: listening.address.port })
  flush()
  return stopped
}

function isAllowed(upstream: { assertAllowed(url: string): void }, url: string): boolean {
  try {
    upstream.assertAllowed(url)
    return true
  } catch {
    return false
  }
}

function readCaBundle(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`--ca-bundle ${path}: cannot read the file (${describeError(error)})`)
  }
}
