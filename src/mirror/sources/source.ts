/**
 * What the router asks of every place projects come from (a remote index, a local folder):
 * whether it has a project, the project's page as a model, a file with the evidence that
 * verifies it, and the names it lists. A source knows nothing of other sources, ownership or
 * policy (router.ts); it never renders pages for clients either (the router filters and renders).
 */
import type { ProjectFile, ProjectPage } from '../../index/index.js'
import type { FileResult } from '../files.js'
import type { CacheStatus, PageRefresh } from '../simple-pages.js'

export interface SourcePage {
  readonly page: ProjectPage
  readonly cache: CacheStatus
  readonly serial: number | undefined
  /** changes whenever the page does: renderings made from it are keyed on it */
  readonly identity: string
}

export interface SourceNames {
  /** display names as listed (each normalizes to a project) */
  readonly names: readonly string[]
  readonly cache: CacheStatus
  readonly identity: string
}

export interface Source {
  readonly name: string
  /** a public index: never asked for a name a private source has (dependency confusion) */
  readonly isPublic: boolean
  /**
   * Whether the source has the project. A definite "no" is false; a source that cannot answer
   * throws, so the router can fail closed.
   * @param project a PEP 503 normalized name
   * @throws UpstreamError, UnavailableError, IndexFormatError
   */
  has(project: string): Promise<boolean>
  /** @throws NotFoundError, UpstreamError, IndexFormatError (no good copy to fall back on) */
  /** @param options.revalidate ask again now whatever the TTL (a source that holds no copy ignores it) */
  page(project: string, options?: { readonly revalidate?: boolean }): Promise<SourcePage>
  /**
   * Revalidates the project's page now, whatever its TTL (the admin API's refresh): what changed,
   * or why it failed. Never throws.
   * @param nowMs when the refresh happens, for a source that keeps no fetch time of its own
   */
  refresh(project: string, nowMs: number): Promise<PageRefresh>
  /** the page when it is fresh in memory, for the hot path; else undefined */
  peekPage(project: string): SourcePage | undefined
  /**
   * One file of the project, as listed on `page` (a `.metadata` file: its distribution's entry),
   * cached or being fetched, checked against the evidence the page gave.
   * @throws IntegrityError, UpstreamError, StoreError
   */
  file(project: string, fileName: string, listed: ProjectFile): Promise<FileResult>
  /** @throws UpstreamError, IndexFormatError (no good copy to fall back on) */
  names(): Promise<SourceNames>
}
