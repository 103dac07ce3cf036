/**
 * What http/ asks for index pages, whoever answers: SimplePages for one upstream, or the source
 * router (sources/router.ts) for several. http/ never learns which.
 */
import type { SimpleFormat } from '../index/index.js'
import type { RenderedPage } from './simple-pages.js'

export interface PageService {
  /** `/simple/` in the requested format. */
  index(format: SimpleFormat): Promise<RenderedPage>
  /**
   * `/simple/<project>/`, file links pointing at the proxy.
   * @param project a PEP 503 normalized name
   * @param options.revalidate ask the upstream now whatever the TTL (--honor-client-revalidate)
   */
  project(project: string, format: SimpleFormat, options?: { readonly revalidate?: boolean }): Promise<RenderedPage>
  /** The rendered page when it is fresh in memory, else undefined; synchronous, for the hot path. */
  peekFresh(key: string, format: SimpleFormat): RenderedPage | undefined
}
