/**
 * The whole server's figures for the status page in `--workers` mode. The primary answers
 * `/status` with the answering worker's report, its own facts and every worker's report
 * (cli/worker-reports.ts); the page shows the server, not the worker that happened to answer:
 * traffic, cache outcomes and drops are summed over the workers, and each worker gets a row.
 * The reports come over IPC, so every figure is checked before it is used.
 *
 * Owns the summing and the shape of the whole server's status; not the rendering (status-page.ts).
 */
import type { DropReasonSummary } from '../mirror/index.js'
import type { StatusReport } from './status-report.js'

/** One worker as the primary saw it: its id, pid and own report (absent when it did not answer). */
export interface WorkerStatus {
  readonly worker?: unknown
  readonly pid?: unknown
  readonly status?: Partial<StatusReport> | null
}

/** The primary's own facts: the server's age, and how many workers it had to replace. */
export interface PrimaryStatus {
  readonly pid?: unknown
  readonly startedAt?: unknown
  readonly uptimeSeconds?: unknown
  readonly workerRestarts?: unknown
}

/** `/status` of a `--workers` server: the answering worker's report and the rest of the server. */
export interface ServerStatus extends Partial<StatusReport> {
  /** the id of the worker that answered */
  readonly worker?: unknown
  readonly primary?: PrimaryStatus
  readonly workers?: readonly WorkerStatus[]
  readonly workersNotAnswering?: readonly unknown[]
}

/** The primary's answer to `/status` (built in cli/worker-reports.ts); the page checks each figure it shows. */
export function asServerStatus(value: unknown): ServerStatus {
  return objectOr<ServerStatus>(value)
}

/** A count from another process's report; 0 when it is not one. */
export function figure(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}

function objectOr<T extends object>(value: unknown): Partial<T> {
  return typeof value === 'object' && value !== null ? (value as Partial<T>) : {}
}

/** The workers' reports, when `report` is a whole server's (it lists workers); otherwise undefined. */
export function workerReports(report: ServerStatus): Array<Partial<StatusReport>> | undefined {
  if (!Array.isArray(report.workers) || report.workers.length === 0) return undefined
  return report.workers.map((entry) => objectOr<StatusReport>(objectOr<WorkerStatus>(entry).status))
}

/**
 * `report` with traffic, cache outcomes, evictions and drops summed over its workers; the
 * answering worker's report as it is when it lists no workers. Cache size and upstream states
 * stay the answering worker's: the cache directory is shared, and each worker asks the upstreams itself.
 */
export function serverWide(report: ServerStatus): ServerStatus {
  const reports = workerReports(report)
  if (!reports) return report
  const sum = (pick: (one: Partial<StatusReport>) => unknown) => reports.reduce((total, one) => total + figure(pick(one)), 0)
  const outcomes = (kind: 'file' | 'page') => ({
    hits: sum((one) => one.cacheOutcomes?.[kind]?.hits),
    misses: sum((one) => one.cacheOutcomes?.[kind]?.misses),
    stale: sum((one) => one.cacheOutcomes?.[kind]?.stale),
  })
  const file = outcomes('file')
  const page = outcomes('page')
  const served = file.hits + file.misses + file.stale + page.hits + page.misses + page.stale
  const requests = {
    requestsPerSecond: sum((one) => one.requests?.requestsPerSecond),
    errorsPerSecond: sum((one) => one.requests?.errorsPerSecond),
    windowSeconds: Math.max(0, ...reports.map((one) => figure(one.requests?.windowSeconds))),
    total: sum((one) => one.requests?.total),
    clientErrors: sum((one) => one.requests?.clientErrors),
    serverErrors: sum((one) => one.requests?.serverErrors),
  }
  const cache = report.cache && {
    ...report.cache,
    evictions: { count: sum((one) => one.cache?.evictions?.count), bytes: sum((one) => one.cache?.evictions?.bytes) },
  }
  return {
    ...report,
    requests,
    cacheOutcomes: { file, page, hitRatio: served === 0 ? undefined : (file.hits + page.hits) / served },
    dropsByReason: mergeDrops(reports.map((one) => (Array.isArray(one.dropsByReason) ? one.dropsByReason : []))),
    ...(cache ? { cache } : {}),
  }
}

/** Drop reasons over all workers: counts summed, the latest example the newest of any worker. */
function mergeDrops(lists: ReadonlyArray<readonly DropReasonSummary[]>): DropReasonSummary[] {
  const byReason = new Map<string, DropReasonSummary>()
  for (const list of lists) {
    for (const entry of list) {
      const known = byReason.get(entry.reason)
      if (!known) {
        byReason.set(entry.reason, { ...entry, count: figure(entry.count) })
        continue
      }
      const latest = figure(entry.latest?.atMs) > figure(known.latest?.atMs) ? entry.latest : known.latest
      byReason.set(entry.reason, { ...known, count: known.count + figure(entry.count), latest })
    }
  }
  return [...byReason.values()].sort((a, b) => b.count - a.count || figure(b.latest?.atMs) - figure(a.latest?.atMs))
}
