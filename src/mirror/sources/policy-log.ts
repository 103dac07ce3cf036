/**
 * The one place that records what the source router refused or noticed, as drops.ts does for
 * upstream data: a structured log line, a counter by reason, and a short ring for `/status`.
 * Refusals are the release policy's (too_new, no_upload_time, denied_by_policy, yanked);
 * collisions are names a private source has that a public index lists too, each recorded once
 * per process (a dependency-confusion attempt, or a name to claim).
 */
import type { Logger, Metrics } from '../../base/index.js'

export interface Refusal {
  readonly atMs: number
  readonly reason: string
  readonly project: string
  /** the file refused, or undefined for a project page */
  readonly file: string | undefined
  readonly detail: string
}

export interface Collision {
  readonly atMs: number
  readonly project: string
  /** the private source that owns or lists it */
  readonly privateSource: string
  readonly publicSource: string
}

const REFUSALS_METRIC = 'tuf_proxy_policy_refusals_total'
const REFUSALS_HELP = 'Files and projects refused or hidden by the release policy, by reason'
const COLLISIONS_METRIC = 'tuf_proxy_source_collisions_total'
const COLLISIONS_HELP = 'Project names a private source has that a public source lists too'

export class PolicyLog {
  readonly #refusals: Refusal[] = []
  readonly #collisions: Collision[] = []
  readonly #collided = new Set<string>()

  constructor(
    private readonly deps: { logger: Logger; metrics: Metrics; nowMs: () => number },
    private readonly keep = 50,
  ) {
    deps.metrics.declareCounter(REFUSALS_METRIC, REFUSALS_HELP)
    deps.metrics.declareCounter(COLLISIONS_METRIC, COLLISIONS_HELP)
  }

  refusal(entry: Omit<Refusal, 'atMs'>): void {
    push(this.#refusals, { ...entry, atMs: this.deps.nowMs() }, this.keep)
    this.deps.metrics.inc(REFUSALS_METRIC, REFUSALS_HELP, { reason: entry.reason })
    this.deps.logger.warn('policy_refusal', { reason: entry.reason, project: entry.project, file: entry.file, detail: entry.detail })
  }

  /** @returns whether this collision is new to this process (and so was recorded) */
  collision(entry: Omit<Collision, 'atMs'>): boolean {
    const key = `${entry.project}\n${entry.publicSource}`
    if (this.#collided.has(key)) return false
    this.#collided.add(key)
    push(this.#collisions, { ...entry, atMs: this.deps.nowMs() }, this.keep)
    this.deps.metrics.inc(COLLISIONS_METRIC, COLLISIONS_HELP, { source: entry.publicSource })
    this.deps.logger.warn('source_collision', { project: entry.project, privateSource: entry.privateSource, publicSource: entry.publicSource })
    return true
  }

  recent(): { refusals: readonly Refusal[]; collisions: readonly Collision[] } {
    return { refusals: [...this.#refusals].reverse(), collisions: [...this.#collisions].reverse() }
  }
}

function push<T>(ring: T[], entry: T, keep: number): void {
  ring.push(entry)
  if (ring.length > keep) ring.shift()
}
