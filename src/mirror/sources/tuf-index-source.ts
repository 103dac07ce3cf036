/**
 * A remote index verified against its own TUF repository (a `sources:` entry with `tuf:`): its
 * pages come through the TufMirror's page source (SimplePages built for verifying mode, see
 * cli/sources-mode.ts), and a file is fetched only with the evidence the TufMirror resolves for
 * it: the target's signed hashes and length (paths layout), or the verified page's hashes
 * (warehouse layout). The router's `listed` entry is not used as evidence: it is the policy's
 * view of the page, and the TufMirror alone decides what vouches for bytes.
 *
 * Everything else (has, the page, the names) is an index source's.
 */
import type { ProjectFile } from '../../index/index.js'
import type { FileResult, Files } from '../files.js'
import type { PageRefresh, SimplePages } from '../simple-pages.js'
import type { TufMirror } from '../tuf-mirror.js'
import { IndexSource } from './index-source.js'
import type { Source, SourceNames, SourcePage } from './source.js'

export class TufIndexSource implements Source {
  readonly #index: IndexSource

  constructor(
    readonly name: string,
    readonly isPublic: boolean,
    private readonly parts: { readonly pages: SimplePages; readonly files: Files; readonly tuf: TufMirror },
  ) {
    this.#index = new IndexSource(name, isPublic, parts)
  }

  has(project: string): Promise<boolean> {
    return this.#index.has(project)
  }

  page(project: string, options?: { readonly revalidate?: boolean }): Promise<SourcePage> {
    return this.#index.page(project, options)
  }

  peekPage(project: string): SourcePage | undefined {
    return this.#index.peekPage(project)
  }

  /** Revalidated through the TUF page source, so a refreshed page is verified like any other. */
  refresh(project: string): Promise<PageRefresh> {
    return this.#index.refresh(project)
  }

  /** @throws NotFoundError (unknown_target), TrustError, IntegrityError, UpstreamError, StoreError */
  async file(project: string, fileName: string, _listed: ProjectFile): Promise<FileResult> {
    return this.parts.files.get(await this.parts.tuf.resolveFile(this.parts.pages, project, fileName))
  }

  names(): Promise<SourceNames> {
    return this.#index.names()
  }
}
