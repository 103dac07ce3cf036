/**
 * TUF on both sides of the gap: a TufSession whose verified metadata is what a bundle carries
 * under `tuf/`, and through which each page and file of the bundle is looked up as a target.
 *
 * On the `mirror` side the session fetches from the repository (with the operator's
 * `--tuf-root`) and keeps what it verified in memory; `bundleFiles()` is then the metadata that
 * vouches for the bundle: every root from the trusted one on (`N.root.json`, so an importer with
 * an older root can rotate through them) and the set (timestamp, snapshot, targets and each
 * delegated role the lookups walked). The bundle never carries a plain `root.json`: the
 * importer's own root is the trust anchor, never one that travelled with the bundle.
 *
 * On the `import` side the same class runs against the bundle's `tuf/` files from the
 * importer's root, with the cache's earlier verified state readable for rollback protection
 * (TUF 5.4.3: a bundle older than what the cache holds is a rollback). What verified is staged
 * in memory and only handed to the cache by the caller once the whole bundle verified.
 *
 * Owns the name mapping between the session's requests and bundle paths; not the TUF rules
 * (tuf-client/ and trust/) nor where a URL's target lives (mirror/'s TufLayout).
 */
import type { Clock } from '../base/index.js'
import { evidenceHashes, type TufLayout } from '../mirror/index.js'
import { TrustError, type TargetFile, type TrustLimits } from '../trust/index.js'
import { TufSession, type MetadataStore } from '../tuf-client/index.js'

const ROOT_NAME = /^(\d+)\.root\.json$/

/** A target the verified metadata lists: where it is downloaded from and what its bytes must be. */
export interface VouchedTarget {
  readonly path: string
  readonly downloadUrl: string
  /** the target's digests, spelled as the verifier spells them (`blake2b_256`) */
  readonly hashes: Readonly<Record<string, string>>
  readonly length: number
}

export interface TufVouchOptions {
  readonly metadataBaseUrl: string
  readonly layout: TufLayout
  readonly trustedRoot: Uint8Array
  readonly clock: Clock
  readonly limits: Partial<TrustLimits>
  readonly fetch: (url: string, maxBytes: number) => Promise<Uint8Array>
  /** whether a fetch error means "there is no such file" (ends root probing, TUF 5.3.3) */
  readonly isNotFound: (error: unknown) => boolean
  /** earlier verified metadata (the importing cache's), read for rollback protection only */
  readonly earlier?: (name: string) => Promise<Uint8Array | undefined>
}

/**
 * The session's store: roots and the set in memory. `root.json` is never read from `earlier`,
 * so the session always starts from the given trusted root.
 */
class StagedStore implements MetadataStore {
  readonly roots = new Map<string, Uint8Array>()
  set = new Map<string, Uint8Array>()
  constructor(private readonly earlier: ((name: string) => Promise<Uint8Array | undefined>) | undefined) {}

  read(name: string): Promise<Uint8Array | undefined> {
    const staged = ROOT_NAME.test(name) || name === 'root.json' ? this.roots.get(name) : this.set.get(name)
    if (staged || name === 'root.json' || ROOT_NAME.test(name) || !this.earlier) return Promise.resolve(staged)
    return this.earlier(name)
  }

  write(name: string, bytes: Uint8Array): Promise<void> {
    if (ROOT_NAME.test(name) || name === 'root.json') this.roots.set(name, bytes)
    else this.set.set(name, bytes)
    return Promise.resolve()
  }

  writeSet(files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    this.set = new Map(files)
    return Promise.resolve()
  }
}

export class TufVouch {
  private constructor(
    private readonly session: TufSession,
    private readonly store: StagedStore,
    private readonly layout: TufLayout,
    /** the version of the trusted root the session started from */
    readonly trustedRootVersion: number,
    private readonly trustedRoot: Uint8Array,
  ) {}

  /**
   * Opens the session on `trustedRoot` and runs the top-level workflow (TUF 5.3-5.6).
   * @throws TrustError when the metadata must be refused; whatever `fetch` throws
   */
  static async open(options: TufVouchOptions): Promise<TufVouch> {
    const store = new StagedStore(options.earlier)
    const session = await TufSession.open({
      metadataBaseUrl: options.metadataBaseUrl,
      fetcher: { fetch: options.fetch },
      store,
      clock: options.clock,
      limits: options.limits,
      trustedRoot: options.trustedRoot,
      isNotFound: options.isNotFound,
      // Every root from the trusted one on goes into the bundle (and into the importing cache).
      keepRootHistory: true,
    })
    const vouch = new TufVouch(session, store, options.layout, session.status().rootVersion, options.trustedRoot)
    await session.refresh()
    return vouch
  }

  /**
   * The verified target for a project page URL.
   * @throws TrustError('unknown_target') when no trusted role lists it, or the layout has no target for it; other TrustErrors
   */
  async page(pageUrl: string): Promise<VouchedTarget> {
    const path = this.layout.pageTarget(pageUrl)
    if (path === undefined) throw new TrustError('unknown_target', `${pageUrl} is not a TUF target in the ${this.layout.name} layout`)
    return this.#lookup(path)
  }

  /**
   * The verified target for a file URL; undefined when the layout binds files only through the
   * verified page's hashes (warehouse).
   * @throws TrustError('unknown_target') when the layout maps the URL to a target no trusted role lists; other TrustErrors
   */
  async file(fileUrl: string): Promise<VouchedTarget | undefined> {
    if (this.layout.name === 'warehouse') return undefined
    const path = this.layout.fileTarget(fileUrl)
    if (path === undefined) throw new TrustError('unknown_target', `${fileUrl} is not below the TUF targets base, so nothing can vouch for it`)
    return this.#lookup(path)
  }

  /** The metadata that vouches for what was looked up, by bundle name (`tuf/<name>`): roots as `N.root.json`, the set by plain name. */
  bundleFiles(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>([[`${this.trustedRootVersion}.root.json`, this.trustedRoot]])
    for (const [name, bytes] of this.store.roots) if (ROOT_NAME.test(name)) files.set(name, bytes)
    for (const [name, bytes] of this.store.set) files.set(name, bytes)
    return files
  }

  /** What the session verified, for the importing cache: roots (`root.json` the newest, `N.root.json` each) and the set. */
  staged(): { readonly roots: ReadonlyMap<string, Uint8Array>; readonly set: ReadonlyMap<string, Uint8Array> } {
    const roots = new Map(this.store.roots)
    roots.set(`${this.trustedRootVersion}.root.json`, this.trustedRoot)
    return { roots, set: this.store.set }
  }

  async #lookup(path: string): Promise<VouchedTarget> {
    const found = await this.session.lookupTarget(path)
    if (!found) throw new TrustError('unknown_target', `no trusted role lists the target ${JSON.stringify(path)}`)
    return toVouched(found.info, this.layout.downloadUrl(found.info, this.session.targetDownloadPath(found.info)))
  }
}

function toVouched(info: TargetFile, downloadUrl: string): VouchedTarget {
  const hashes = evidenceHashes(info)
  // The trust engine refuses unknown or weak algorithms too; this only narrows the type.
  if (!hashes) throw new TrustError('malformed', `target ${info.path} lists no hash algorithm the proxy can check (${Object.keys(info.hashes).join(', ')})`)
  return { path: info.path, downloadUrl, hashes, length: info.length }
}
