/**
 * The mirror's public face for http/: project pages, files and their verification, health and the
 * status report. Built once by the composition root from its parts.
 */
import { maskUrl } from '../base/index.js'
import type { BlobStore } from '../store/index.js'
import type { Drop, DropLog } from './drops.js'
import type { FileResult, Files } from './files.js'
import type { PageService } from './page-service.js'
import { resolveProjectFile } from './project-files.js'
import type { SimplePages } from './simple-pages.js'
import type { Collision, Refusal } from './sources/policy-log.js'

export interface TrustStatusView {
  readonly rootVersion: number
  readonly lastRefresh: string | undefined
  readonly roles: ReadonlyArray<{
    readonly name: string
    readonly version: number | undefined
    readonly expires: string | undefined
    readonly threshold: number | undefined
    readonly keyCount: number | undefined
  }>
}

export interface MirrorStatus {
  readonly mode: 'hash-only' | 'tuf'
  readonly upstream: string
  readonly cache: { readonly files: number; readonly bytes: number; readonly maxBytes: number }
  readonly trust: TrustStatusView | undefined
  readonly drops: readonly Drop[]
  /** with `sources:` or `policy:` configured: the sources, and what the policy refused or noticed */
  readonly policy?: { readonly sources: ReadonlyArray<{ name: string; public: boolean }>; readonly refusals: readonly Refusal[]; readonly collisions: readonly Collision[] }
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
  /** the upstream breaker's state: `up`, `down` (skipped for now) or `trial` */
  readonly upstreamState?: () => string
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
  health(): { ready: boolean; mode: MirrorStatus['mode']; upstream: string } {
    return { ready: this.tuf ? this.tuf.isReady : true, mode: this.tuf ? 'tuf' : 'hash-only', upstream: this.parts.upstreamState?.() ?? 'up' }
  }

  status(): MirrorStatus {
    return {
      mode: this.tuf ? 'tuf' : 'hash-only',
      upstream: maskUrl(this.parts.upstreamUrl),
      cache: { files: this.parts.blobs.count, bytes: this.parts.blobs.totalBytes, maxBytes: this.parts.blobs.maxBytes },
      trust: this.tuf?.status(),
      drops: this.parts.drops.recent(),
      ...(this.parts.router ? { policy: this.parts.router.status() } : {}),
    }
  }
}
