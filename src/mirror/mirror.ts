/**
 * The mirror's public face for http/: project pages, files and their verification, health and the
 * status report. Built once by the composition root from its parts.
 */
import { maskUrl } from '../base/index.js'
import type { BlobStore } from '../store/index.js'
import type { OriginReport } from '../upstream/index.js'
import type { Drop, DropLog, DropReasonSummary } from './drops.js'
import type { FileResult, Files } from './files.js'
import type { PageService } from './page-service.js'
import { resolveProjectFile } from './project-files.js'
import type { SimplePages } from './simple-pages.js'
import type { Collision, Refusal } from './sources/policy-log.js'

export interface TrustStatusView {
  readonly rootVersion: number
  /** the last refresh that verified, ISO 8601 */
  readonly lastRefresh: string | undefined
  /** the last refresh started, whatever came of it */
  readonly lastRefreshAttempt?: string | undefined
  /** when a refresh is due again: the first request that needs metadata from then on starts one */
  readonly nextRefresh?: string | undefined
  /** the earliest expiry of the trusted timestamp, snapshot and targets: nothing is served past it */
  readonly validUntil?: string | undefined
  /** why the last refresh failed, while no later one succeeded */
  readonly lastRefreshError?: { readonly code: string; readonly message: string } | undefined
  readonly roles: ReadonlyArray<{
    readonly name: string
    readonly version: number | undefined
    readonly expires: string | undefined
    readonly threshold: number | undefined
    readonly keyCount: number | undefined
  }>
  /** `serve --offline` of an imported TUF state: expiry cannot be cured by a refresh, only by a newer import */
  readonly offline?: OfflineTrustView | undefined
}

export interface OfflineTrustView {
  readonly graceSeconds: number
  /** the earliest top-level role expired by now, if any */
  readonly expired?: { readonly role: string; readonly version: number | undefined; readonly expires: string } | undefined
  /** expired, and still served because it is within the grace */
  readonly isServingPastExpiry: boolean
  /** what the operator must know: serving past expiry (within grace), or refusing (past it) */
  readonly warning?: string | undefined
}

export interface MirrorStatus {
  readonly mode: 'hash-only' | 'tuf'
  readonly upstream: string
  /** `serve --offline`: only what was imported is served */
  readonly offline: boolean
  /** every upstream origin asked since start (index, file hosts, TUF hosts), with its state */
  readonly upstreams: readonly OriginReport[]
  /** `files` counts every blob on disk (distribution files and page bodies); `pages` the project pages recorded */
  readonly cache: {
    readonly files: number
    readonly bytes: number
    readonly maxBytes: number
    readonly pages: number
    readonly evictions: { readonly count: number; readonly bytes: number }
  }
  readonly trust: TrustStatusView | undefined
  readonly drops: readonly Drop[]
  /** every drop reason since start with its count and latest example */
  readonly dropsByReason: readonly DropReasonSummary[]
  /** with `sources:` or `policy:` configured: the sources, and what the policy refused or noticed */
  readonly policy?: { readonly sources: ReadonlyArray<{ name: string; public: boolean }>; readonly refusals: readonly Refusal[]; readonly collisions: readonly Collision[] }
  /** the trust state of each `sources:` index verified against its own TUF repository (`trust` is the single --upstream's) */
  readonly sourceTrust?: readonly SourceTrustView[]
}

export interface SourceTrustView {
  readonly source: string
  readonly trust: TrustStatusView
}

/** What verifying mode adds: served only by /tuf/ routes and consulted by the status page. */
export interface TufFrontend {
  /** verified metadata bytes by served name (`timestamp.json`, `3.root.json`, …) */
  metadata(name: string): Promise<Uint8Array>
  /** a verified target by path, through the same file cache */
  target(path: string): Promise<FileResult>
  status(): TrustStatusView
  readonly isReady: boolean
}

/** Several sources behind one index (sources/router.ts): pages, files and their status. */
export interface RoutedIndex extends PageService {
  file(project: string, fileName: string): Promise<FileResult>
  status(): NonNullable<MirrorStatus['policy']>
}

export interface MirrorParts {
  readonly upstreamUrl: string
  /** one upstream: its pages, files found through its page links */
  readonly pages: SimplePages
  readonly files: Files
  readonly blobs: BlobStore
  readonly drops: DropLog
  /** resolves a file of a project to a URL and evidence; defaults to the project page's links */
  readonly resolveFile?: typeof resolveProjectFile
  /** several sources (or a policy): pages and files come from it instead of `pages` */
  readonly router?: RoutedIndex | undefined
  readonly tuf?: TufFrontend | undefined
  /** the upstream's state (OriginReport.state): `up`, `down` or `trial`; `offline` for `serve --offline` */
  readonly upstreamState?: () => string
  /** the upstream origins' states, last errors and latencies */
  readonly upstreamReports?: () => readonly OriginReport[]
  /** why the upstream is not up (see FailureCause), for /health */
  readonly upstreamCause?: () => string | undefined
  readonly isOffline?: boolean
  /** the `sources:` indexes in verifying mode, each with its own trust state */
  readonly sourceTrust?: () => readonly SourceTrustView[]
  /** pages recorded across every source's namespace, when pages come from a router rather than `pages` */
  readonly storedPageCount?: () => number
}

export class Mirror {
  readonly pages: PageService
  readonly tuf: TufFrontend | undefined

  constructor(private readonly parts: MirrorParts) {
    this.pages = parts.router ?? parts.pages
    this.tuf = parts.tuf
  }

  /**
   * A distribution file or its `.metadata`, cached or downloading.
   * @throws NotFoundError, IntegrityError, UpstreamError, TrustError
   */
  async file(project: string, fileName: string): Promise<FileResult> {
    if (this.parts.router) return this.parts.router.file(project, fileName)
    const resolve = this.parts.resolveFile ?? resolveProjectFile
    return this.parts.files.get(await resolve(this.parts.pages, project, fileName))
  }

  /** Ready means able to serve: in verifying mode, once trusted metadata is loaded and unexpired. */
  health(): { ready: boolean; mode: MirrorStatus['mode']; upstream: string; upstreamCause?: string; offline: boolean } {
    const upstream = this.parts.upstreamState?.() ?? 'up'
    const cause = upstream === 'up' || upstream === 'offline' ? undefined : this.parts.upstreamCause?.()
    return {
      ready: this.tuf ? this.tuf.isReady : true,
      mode: this.tuf ? 'tuf' : 'hash-only',
      upstream,
      ...(cause === undefined ? {} : { upstreamCause: cause }),
      offline: this.parts.isOffline ?? false,
    }
  }

  status(): MirrorStatus {
    return {
      mode: this.tuf ? 'tuf' : 'hash-only',
      upstream: maskUrl(this.parts.upstreamUrl),
      offline: this.parts.isOffline ?? false,
      upstreams: this.parts.upstreamReports?.() ?? [],
      cache: {
        files: this.parts.blobs.count,
        bytes: this.parts.blobs.totalBytes,
        maxBytes: this.parts.blobs.maxBytes,
        pages: this.parts.storedPageCount?.() ?? this.parts.pages.storedCount(),
        evictions: this.parts.blobs.evictions,
      },
      trust: this.tuf?.status(),
      drops: this.parts.drops.recent(),
      dropsByReason: this.parts.drops.byReason(),
      ...(this.parts.router ? { policy: this.parts.router.status() } : {}),
      ...(this.parts.sourceTrust ? { sourceTrust: this.parts.sourceTrust() } : {}),
    }
  }
}
