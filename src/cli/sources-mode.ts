/**
 * Builds the source router from `sources:`, `routes:` and `policy:` (config/sources.ts): one
 * SimplePages per remote index (its own records namespace, so two indexes' pages never mix), a
 * folder source per local directory, and the release policy over all of them. An index with
 * `tuf:` is in verifying mode against its own repository, exactly as the single --upstream with
 * --tuf-root is (tuf-mode.ts), with its own trust state. Without `sources:`, the single
 * --upstream is the one source, with its pages where they always were (in verifying mode, the
 * very pages and TufMirror serve.ts built, so a policy never steps around verification).
 */
import type { Clock, Logger, Metrics } from '../base/index.js'
import { ConfigError, type Settings, type SourcesSettings } from '../config/index.js'
import {
  FirstSeen,
  FolderSource,
  IndexSource,
  PAGE_RECORD_NAMESPACES,
  OwnershipRecords,
  PolicyLog,
  SimplePages,
  SourceRouter,
  TufIndexSource,
  httpPageSource,
  sourcePageNamespace,
  tufSourcePageNamespace,
  type DropLog,
  type Files,
  type Source,
  type TufMirror,
} from '../mirror/index.js'
import { PolicyOptionError, ReleasePolicy, type ReleasePolicyOptions } from '../policy/index.js'
import type { BlobStore, RecordStore } from '../store/index.js'
import type { UpstreamClient } from '../upstream/index.js'
import { buildTufMirror } from './tuf-mode.js'

export interface SourcesModeDeps {
  readonly settings: Settings
  readonly routing: SourcesSettings
  readonly upstream: UpstreamClient
  readonly isAllowedUrl: (url: string) => boolean
  readonly blobs: BlobStore
  readonly records: RecordStore
  readonly files: Files
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  readonly drops: DropLog
  /** without `sources:`: the single --upstream's pages and, in verifying mode, its TufMirror */
  readonly single: { readonly pages: SimplePages; readonly tuf: TufMirror | undefined }
}

/** @throws ConfigError for a policy entry that cannot be used (policy/ names the entry) */
export function buildReleasePolicy(options: ReleasePolicyOptions): ReleasePolicy {
  try {
    return new ReleasePolicy(options)
  } catch (error) {
    if (error instanceof PolicyOptionError) throw new ConfigError(`${error.message} (in the config file)`)
    throw error
  }
}

/**
 * The router, with what the admin API acts on (each remote index's pages by records namespace,
 * and the ownership records) and the verifying sources.
 */
export interface SourcesMode {
  readonly router: SourceRouter
  /** the sources verified against their own TUF repository, for /status and the metrics */
  readonly verifying: ReadonlyArray<{ readonly source: string; readonly tuf: TufMirror }>
  readonly pagesByNamespace: ReadonlyMap<string, SimplePages>
  readonly ownership: OwnershipRecords
}

/** @throws ConfigError for a source's unreadable TUF root or a layout that cannot map its index */
export async function buildSourceRouter(deps: SourcesModeDeps): Promise<SourcesMode> {
  const { settings, routing, clock, logger, metrics } = deps
  const policy = routing.policy ? buildReleasePolicy(routing.policy) : undefined
  const configured = routing.sources ?? [{ name: 'upstream', kind: 'index', url: settings.upstream, isPublic: false } as const]
  const sources: Source[] = []
  const pagesByNamespace = new Map<string, SimplePages>()
  const verifying: Array<{ source: string; tuf: TufMirror }> = []
  for (const source of configured) {
    if (source.kind === 'folder') {
      sources.push(await FolderSource.open({ name: source.name, dir: source.path, logger }))
      continue
    }
    if (!routing.sources && deps.single.tuf) {
      sources.push(new TufIndexSource(source.name, source.isPublic, { pages: deps.single.pages, files: deps.files, tuf: deps.single.tuf }))
      pagesByNamespace.set(PAGE_RECORD_NAMESPACES.verifying, deps.single.pages)
      continue
    }
    if (source.tuf) {
      const tuf = await buildTufMirror({ ...deps, tuf: source.tuf, source: { name: source.name, url: source.url } })
      const pages = new SimplePages(
        {
          upstreamUrl: source.url,
          indexTtlSeconds: settings.indexTtlSeconds,
          isAllowedUrl: deps.isAllowedUrl,
          canServeStale: () => tuf.isUsable(),
          trustGeneration: () => tuf.trustGeneration(),
          recordNamespace: tufSourcePageNamespace(source.name),
        },
        { source: tuf.pageSource(httpPageSource(deps.upstream, settings.maxPageBytes)), blobs: deps.blobs, records: deps.records, clock, logger, metrics, drops: deps.drops },
      )
      sources.push(new TufIndexSource(source.name, source.isPublic, { pages, files: deps.files, tuf }))
      pagesByNamespace.set(tufSourcePageNamespace(source.name), pages)
      verifying.push({ source: source.name, tuf })
      continue
    }
    // One upstream keeps its pages where they were; several get a namespace each.
    const recordNamespace = routing.sources ? sourcePageNamespace(source.name) : 'page'
    const pages = new SimplePages(
      { upstreamUrl: source.url, indexTtlSeconds: settings.indexTtlSeconds, isAllowedUrl: deps.isAllowedUrl, recordNamespace },
      { source: httpPageSource(deps.upstream, settings.maxPageBytes), blobs: deps.blobs, records: deps.records, clock, logger, metrics, drops: deps.drops },
    )
    pagesByNamespace.set(recordNamespace, pages)
    sources.push(new IndexSource(source.name, source.isPublic, { pages, files: deps.files }))
  }
  const ownership = new OwnershipRecords({ records: deps.records, logger })
  const router = new SourceRouter({
    sources,
    routes: routing.routes,
    policy,
    ownership,
    firstSeen: new FirstSeen({ records: deps.records, logger }),
    policyLog: new PolicyLog({ logger, metrics, nowMs: clock.nowMs }),
    clock,
    logger,
  })
  return { router, pagesByNamespace, ownership, verifying }
}
