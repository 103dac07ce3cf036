/**
 * The `/status` report: the mirror's own status plus what only the HTTP side knows (version,
 * uptime, traffic, cache outcomes from the counters). The JSON form is the source of truth; the
 * HTML page (status-page.ts) renders this same object. Building it reads counters and small
 * in-memory summaries only, so it is cheap however large the cache.
 */
import type { Clock, Metrics } from '../base/index.js'
import type { Mirror, MirrorStatus } from '../mirror/index.js'
import type { TrafficSnapshot, TrafficWindow } from './traffic.js'

export interface About {
  /** package.json's version, read at start by the composition root */
  readonly version: string
  readonly startedAtMs: number
}

export interface CacheOutcomes {
  readonly hits: number
  readonly misses: number
  /** served from cache after the upstream failed */
  readonly stale: number
}

export interface StatusReport extends MirrorStatus {
  readonly version: string
  readonly startedAt: string
  readonly uptimeSeconds: number
  /** when the report was made, ISO 8601: ages on the page are relative to it */
  readonly generatedAt: string
  readonly requests: TrafficSnapshot
  /** responses since start by kind and cache outcome (tuf_proxy_cache_total), and the hit ratio over all of them */
  readonly cacheOutcomes: { readonly file: CacheOutcomes; readonly page: CacheOutcomes; readonly hitRatio: number | undefined }
}

export interface StatusDeps {
  readonly mirror: Mirror
  readonly metrics: Metrics
  readonly clock: Clock
  readonly traffic: TrafficWindow
  readonly about: About
}

/** The counter files.ts and simple-pages.ts increment per served response. */
const CACHE_METRIC = 'tuf_proxy_cache_total'

function outcomes(metrics: Metrics, kind: 'file' | 'page'): CacheOutcomes {
  const count = (result: string) => metrics.value(CACHE_METRIC, { kind, result })
  return { hits: count('HIT'), misses: count('MISS'), stale: count('STALE') }
}

export function buildStatusReport(deps: StatusDeps): StatusReport {
  const nowMs = deps.clock.nowMs()
  const file = outcomes(deps.metrics, 'file')
  const page = outcomes(deps.metrics, 'page')
  const served = file.hits + file.misses + file.stale + page.hits + page.misses + page.stale
  return {
    version: deps.about.version,
    startedAt: new Date(deps.about.startedAtMs).toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((nowMs - deps.about.startedAtMs) / 1000)),
    generatedAt: new Date(nowMs).toISOString(),
    ...deps.mirror.status(),
    requests: deps.traffic.snapshot(nowMs),
    cacheOutcomes: { file, page, hitRatio: served === 0 ? undefined : (file.hits + page.hits) / served },
  }
}
