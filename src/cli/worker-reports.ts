/**
 * The whole server's `/metrics` and `/status` from its workers' own: each worker's samples get a
 * `worker` label (Prometheus sums them across the label, e.g. `sum without (worker) (...)`), and
 * the status lists every worker's report. Pure text and JSON in, text and JSON out, so the
 * transport (cluster IPC, cluster.ts) and the metrics library can change independently.
 */

export interface WorkerPart<T> {
  /** the worker's id; undefined for the primary's own samples */
  readonly worker: string | undefined
  /** the worker's process id, when known */
  readonly pid?: number | undefined
  readonly body: T
}

/** What only the primary knows: the server's own age and how often a worker had to be replaced. */
export interface PrimaryFacts {
  readonly pid: number
  readonly startedAtMs: number
  readonly nowMs: number
  readonly workerRestarts: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S.*)$/
const COMMENT = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/

interface Family {
  help: string | undefined
  type: string | undefined
  readonly samples: string[]
}

/**
 * Merges Prometheus text (format 0.0.4) of several processes: one HELP and TYPE per family, and
 * all of a family's samples together (the format requires it), each labelled with its worker.
 */
export function mergeMetricsText(parts: ReadonlyArray<WorkerPart<string>>): string {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let found = families.get(name)
    if (!found) {
      found = { help: undefined, type: undefined, samples: [] }
      families.set(name, found)
    }
    return found
  }
  for (const part of parts) {
    let current: string | undefined
    for (const line of part.body.split('\n')) {
      const comment = COMMENT.exec(line)
      if (comment) {
        const [, kind, name = '', text = ''] = comment
        current = name
        const target = family(name)
        if (kind === 'HELP') target.help ??= text
        else target.type ??= text
        continue
      }
      const sample = SAMPLE.exec(line)
      if (!sample) continue
      const [, name = '', labels, value = ''] = sample
      // Histogram and summary samples (_bucket, _sum, _count) belong to the family announced before them.
      const owner = current !== undefined && name.startsWith(current) ? current : name
      family(owner).samples.push(`${name}${withWorker(labels, part.worker)} ${value}`)
    }
  }
  const lines: string[] = []
  for (const [name, { help, type, samples }] of families) {
    if (help !== undefined) lines.push(`# HELP ${name} ${help}`)
    if (type !== undefined) lines.push(`# TYPE ${name} ${type}`)
    lines.push(...samples)
  }
  return `${lines.join('\n')}\n`
}

function withWorker(labels: string | undefined, worker: string | undefined): string {
  if (worker === undefined) return labels ?? ''
  const label = `worker="${worker}"`
  if (labels === undefined || labels === '{}') return `{${label}}`
  return `{${label},${labels.slice(1)}`
}

/**
 * The whole server's status (the shape is http/status-workers.ts's ServerStatus): the answering
 * worker's report, the primary's facts, and every worker's report and pid under `workers`.
 */
export function mergeStatus(answering: WorkerPart<unknown>, parts: ReadonlyArray<WorkerPart<unknown>>, missing: readonly string[], primary: PrimaryFacts): Record<string, unknown> {
  const own = typeof answering.body === 'object' && answering.body !== null ? answering.body : {}
  return {
    ...own,
    worker: answering.worker,
    primary: {
      pid: primary.pid,
      startedAt: new Date(primary.startedAtMs).toISOString(),
      uptimeSeconds: Math.max(0, Math.floor((primary.nowMs - primary.startedAtMs) / 1000)),
      workerRestarts: primary.workerRestarts,
    },
    workers: parts.map((part) => ({ worker: part.worker, pid: part.pid, status: part.body })),
    ...(missing.length > 0 ? { workersNotAnswering: missing } : {}),
  }
}
