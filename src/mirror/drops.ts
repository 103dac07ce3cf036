/**
 * The single place where the mirror records that it refused upstream data: one structured log
 * line, one counter increment labelled with the reason code, and an entry in a short ring of
 * recent drops that `/status` shows.
 */
import type { Logger, Metrics } from '../base/index.js'
import { maskUrl } from '../base/index.js'

export interface Drop {
  readonly atMs: number
  readonly reason: string
  readonly what: string
  readonly url: string
  readonly detail: string
}

const DROPS_METRIC = 'tuf_proxy_drops_total'

export class DropLog {
  readonly #recent: Drop[] = []

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
    this.deps.metrics.inc(DROPS_METRIC, 'Upstream responses refused, by reason', { reason: drop.reason })
    this.deps.logger.warn('drop', { reason: entry.reason, what: entry.what, url: entry.url, detail: entry.detail })
  }

  recent(): readonly Drop[] {
    return [...this.#recent].reverse()
  }
}
