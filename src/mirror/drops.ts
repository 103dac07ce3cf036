/**
 * The single place where the mirror records that it refused upstream data: one structured log
 * line, one counter increment labelled with the reason code, and an entry in a short ring of
 * recent drops that `/status` shows. Also the one place that decides, from an error's fault,
 * whether a failure is such a refusal at all.
 */
import type { Fault, Logger, Metrics } from '../base/index.js'
import { describeError, errorCode, faultOf, maskUrl } from '../base/index.js'

/**
 * Which faults are drops: the upstream answered, and we refused what it sent. An outage, an error
 * status or a bug of ours is logged by whoever handles it, but is no refusal of upstream data.
 */
const IS_DROP: Readonly<Record<Fault, boolean>> = {
  bad_upstream_data: true,
  // TUF §1.5.2 slow retrieval: a response too slow to finish is refused like a bad one.
  upstream_timeout: true,
  upstream_failed: false,
  upstream_unavailable: false,
  not_found: false,
  method_not_allowed: false,
  refused_by_policy: false,
  bad_request: false,
  unauthenticated: false,
  storage: false,
  bug: false,
}

export function isDrop(error: unknown): boolean {
  return IS_DROP[faultOf(error)]
}

export interface Drop {
  readonly atMs: number
  readonly reason: string
  readonly what: string
  readonly url: string
  readonly detail: string
}

/** All drops of one reason since start: how many, and the latest as the example to show. */
export interface DropReasonSummary {
  readonly reason: string
  readonly count: number
  readonly latest: Drop
}

const DROPS_METRIC = 'tuf_proxy_drops_total'

export class DropLog {
  readonly #recent: Drop[] = []
  /** Bounded by the reason codes, which the code fixes (error classes' `code`), never request input. */
  readonly #byReason = new Map<string, { count: number; latest: Drop }>()

  constructor(
    private readonly deps: { logger: Logger; metrics: Metrics; nowMs: () => number },
    private readonly keep = 50,
  ) {
    deps.metrics.declareCounter(DROPS_METRIC, 'Upstream responses refused, by reason')
  }

  record(drop: Omit<Drop, 'atMs'>): void {
    const entry = { ...drop, url: maskUrl(drop.url), atMs: this.deps.nowMs() }
    this.#recent.push(entry)
    if (this.#recent.length > this.keep) this.#recent.shift()
    const summary = this.#byReason.get(entry.reason)
    if (summary) {
      summary.count += 1
      summary.latest = entry
    } else this.#byReason.set(entry.reason, { count: 1, latest: entry })
    this.deps.metrics.inc(DROPS_METRIC, 'Upstream responses refused, by reason', { reason: drop.reason })
    this.deps.logger.warn('drop', { reason: entry.reason, what: entry.what, url: entry.url, detail: entry.detail })
  }

  /**
   * Records `error` as a drop when its fault makes it one (see IS_DROP).
   * @returns whether it was recorded, so the caller logs anything else its own way.
   */
  recordRefusal(error: unknown, where: { readonly what: string; readonly url: string; readonly detail?: string }): boolean {
    if (!isDrop(error)) return false
    this.record({ reason: errorCode(error), what: where.what, url: where.url, detail: where.detail ?? describeError(error) })
    return true
  }

  recent(): readonly Drop[] {
    return [...this.#recent].reverse()
  }

  /** Every reason seen since start, most frequent first (ties: the most recent first). */
  byReason(): readonly DropReasonSummary[] {
    return [...this.#byReason]
      .map(([reason, { count, latest }]) => ({ reason, count, latest }))
      .sort((a, b) => b.count - a.count || b.latest.atMs - a.latest.atMs)
  }
}
