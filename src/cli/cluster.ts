/**
 * `--workers N`: a primary process starts N workers with node:cluster, which share the listening
 * socket (the primary accepts and hands connections out round-robin) and the cache directory
 * (safe to share, see store/blobs.ts and store/locks.ts). The primary serves nothing itself: it
 * restarts a worker that dies (logged, counted in `tuf_proxy_worker_restarts_total`), stops all on
 * SIGTERM/SIGINT (each worker drains as a single process does; the primary exits when all have),
 * and answers a worker's request for the whole server's `/metrics` and `/status` by asking every
 * worker for its own over cluster IPC and merging them (worker-reports.ts).
 *
 * Why not prom-client's AggregatorRegistry: it sums within one registry type, and `/status` needs
 * the same gathering; asking each worker for its rendered text keeps this independent of the
 * metrics library (one message type, one merge function).
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { describeError, type Logger, Metrics } from '../base/index.js'
import { mergeMetricsText, mergeStatus, type WorkerPart } from './worker-reports.js'

/** What a worker's /metrics and /status answer with: the whole server's, gathered by the primary. */
export interface WholeServer {
  metrics(): Promise<string>
  status(): Promise<unknown>
}

/** A worker's own reports, which the primary asks for. */
export interface LocalReports {
  metrics(): Promise<string>
  status(): unknown
}

type Kind = 'metrics' | 'status'

/** IPC messages, all tagged so that nothing else sent over the channel is mistaken for one. */
type Message =
  | { readonly tufProxy: 'collect'; readonly id: number; readonly kind: Kind }
  | { readonly tufProxy: 'collected'; readonly id: number; readonly body: unknown }
  | { readonly tufProxy: 'report'; readonly id: number; readonly kind: Kind }
  | { readonly tufProxy: 'reported'; readonly id: number; readonly body: unknown }
  /** a worker serves, its signal handlers installed: from here SIGTERM drains it */
  | { readonly tufProxy: 'ready'; readonly id: number; readonly host: string; readonly port: number }

function asMessage(value: unknown): Message | undefined {
  if (typeof value !== 'object' || value === null || !('tufProxy' in value) || !('id' in value) || typeof value.id !== 'number') return undefined
  return value as Message
}

/** How long the primary waits for every worker's report; a worker that does not answer is listed as missing. */
const REPORT_TIMEOUT_MS = 2_000
/** A worker that dies sooner than this after its start is restarted only after this long (no crash loop at full speed). */
const RESTART_BACKOFF_MS = 1_000

const RESTARTS_METRIC = 'tuf_proxy_worker_restarts_total'
const RESTARTS_HELP = 'Workers that died and were started again'

/** The number of workers `--workers` asks for. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting
}

export const isWorker = (): boolean => cluster.isWorker

/** A worker's IPC channel keeps it alive: once its server has stopped (or failed to start), it lets go so the worker exits. */
export function leaveCluster(): void {
  if (cluster.worker?.isConnected()) cluster.worker.disconnect()
}

/** The worker's id, as its reports and log lines name it. */
export const workerId = (): string | undefined => (cluster.isWorker ? String(cluster.worker?.id) : undefined)

/**
 * The worker's side: answers the primary's requests for its own reports, and asks the primary
 * for the whole server's.
 */
export function workerLink(): { whole: WholeServer; answerWith(local: LocalReports): void; ready(address: { host: string; port: number }): void; close(): void } {
  let nextId = 0
  const waiting = new Map<number, (body: unknown) => void>()
  let local: LocalReports | undefined
  process.on('message', (value: unknown) => {
    const message = asMessage(value)
    if (message?.tufProxy === 'collected') {
      waiting.get(message.id)?.(message.body)
      waiting.delete(message.id)
    } else if (message?.tufProxy === 'report' && local) {
      const reports = local
      const { id, kind } = message
      void (async () => {
        let body: unknown
        try {
          body = kind === 'metrics' ? await reports.metrics() : reports.status()
        } catch (error) {
          body = { error: describeError(error) }
        }
        process.send?.({ tufProxy: 'reported', id, body } satisfies Message)
      })()
    }
  })
  const ask = (kind: Kind) =>
    new Promise<unknown>((resolve) => {
      nextId += 1
      waiting.set(nextId, resolve)
      process.send?.({ tufProxy: 'collect', id: nextId, kind } satisfies Message)
    })
  return {
    whole: {
      metrics: async () => String(await ask('metrics')),
      status: () => ask('status'),
    },
    answerWith: (reports) => void (local = reports),
    ready: ({ host, port }) => void process.send?.({ tufProxy: 'ready', id: 0, host, port } satisfies Message),
    close: leaveCluster,
  }
}

export interface PrimaryDeps {
  readonly workers: number
  readonly logger: Logger
  readonly flush: () => void
}

/**
 * Runs the primary until SIGTERM/SIGINT has stopped every worker.
 * @returns the exit code: 0 after a stop, 1 when a worker failed before it ever listened (a start-up error every worker would repeat)
 */
export function runPrimary({ workers, logger, flush }: PrimaryDeps): Promise<number> {
  const metrics = new Metrics()
  metrics.declareCounter(RESTARTS_METRIC, RESTARTS_HELP)
  metrics.onCollect(() => metrics.set('tuf_proxy_workers', 'Worker processes running', Object.keys(cluster.workers ?? {}).length))
  const startedAtMs = new Map<number, number>()
  const primaryStartedAtMs = Date.now()
  const listeningIds = new Set<number>()
  let nextReportId = 0
  const reports = new Map<number, { parts: Array<WorkerPart<unknown>>; expected: number; done: () => void }>()
  let stopping = false
  let onReady: (worker: Worker, address: { host: string; port: number }) => void = () => undefined

  const fork = () => {
    const worker = cluster.fork()
    startedAtMs.set(worker.id, Date.now())
  }

  /** Asks every worker for its report of `kind`; resolves with those that answered in time. */
  const gather = async (kind: Kind): Promise<{ parts: Array<WorkerPart<unknown>>; missing: string[] }> => {
    const live = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected())
    nextReportId += 1
    const id = nextReportId
    const parts: Array<WorkerPart<unknown>> = []
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, REPORT_TIMEOUT_MS)
      reports.set(id, {
        parts,
        expected: live.length,
        done: () => {
          clearTimeout(timer)
          resolve()
        },
      })
      for (const worker of live) worker.send({ tufProxy: 'report', id, kind } satisfies Message)
      if (live.length === 0) resolve()
    })
    reports.delete(id)
    const answered = new Set(parts.map((part) => part.worker))
    return { parts, missing: live.map((worker) => String(worker.id)).filter((worker) => !answered.has(worker)) }
  }

  const answer = async (asking: Worker, id: number, kind: Kind) => {
    const { parts, missing } = await gather(kind)
    parts.sort((a, b) => Number(a.worker) - Number(b.worker))
    let body: unknown
    if (kind === 'metrics') {
      body = mergeMetricsText([...parts.map((part) => ({ worker: part.worker, body: String(part.body) })), { worker: undefined, body: await metrics.render() }])
    } else {
      const own = parts.find((part) => part.worker === String(asking.id)) ?? { worker: String(asking.id), body: {} }
      body = mergeStatus(own, parts, missing, { pid: process.pid, startedAtMs: primaryStartedAtMs, nowMs: Date.now(), workerRestarts: metrics.value(RESTARTS_METRIC) })
    }
    if (asking.isConnected()) asking.send({ tufProxy: 'collected', id, body } satisfies Message)
  }

  cluster.on('message', (worker, value: unknown) => {
    const message = asMessage(value)
    if (message?.tufProxy === 'collect') void answer(worker, message.id, message.kind)
    else if (message?.tufProxy === 'ready') onReady(worker, message)
    else if (message?.tufProxy === 'reported') {
      const pending = reports.get(message.id)
      if (!pending) return
      pending.parts.push({ worker: String(worker.id), pid: worker.process.pid, body: message.body })
      if (pending.parts.length >= pending.expected) pending.done()
    }
  })

  return new Promise<number>((resolve) => {
    const finishIfAllExited = (code: number) => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return
      logger.info('stopped', { workers: workers })
      flush()
      resolve(code)
    }
    const stopAll = (signal: string, code: number) => {
      if (stopping) return
      stopping = true
      logger.info('shutting_down', { signal, workers: Object.keys(cluster.workers ?? {}).length })
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
      finishIfAllExited(code)
    }
    let exitCode = 0
    let hasAnnounced = false
    // Not cluster's 'listening' event: it comes before the worker installs its SIGTERM handler,
    // and a SIGTERM in between would kill the worker undrained.
    onReady = (worker, address) => {
      listeningIds.add(worker.id)
      if (listeningIds.size === workers && !hasAnnounced) {
        hasAnnounced = true
        logger.info('listening', { host: address.host, port: address.port, workers })
        flush()
      }
    }
    cluster.on('exit', (worker, code, signal) => {
      const hasListened = listeningIds.delete(worker.id)
      const livedMs = Date.now() - (startedAtMs.get(worker.id) ?? 0)
      startedAtMs.delete(worker.id)
      if (stopping) return finishIfAllExited(exitCode)
      if (!hasListened) {
        // It failed while starting: every worker would, with the same settings. Its own log says why.
        logger.error('startup_failed', { detail: `worker ${worker.id} exited with ${signal ?? `code ${code}`} before it listened` })
        exitCode = 1
        return stopAll('startup_failed', 1)
      }
      metrics.inc(RESTARTS_METRIC, RESTARTS_HELP)
      logger.warn('worker_died', { worker: worker.id, pid: worker.process.pid, code, signal, detail: 'starting a new worker' })
      if (livedMs < RESTART_BACKOFF_MS) setTimeout(fork, RESTART_BACKOFF_MS)
      else fork()
    })
    process.once('SIGTERM', () => stopAll('SIGTERM', 0))
    process.once('SIGINT', () => stopAll('SIGINT', 0))
    for (let i = 0; i < workers; i += 1) fork()
  })
}
