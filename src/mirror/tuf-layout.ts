/**
 * Where index pages and files sit in a TUF repository: the mapping between the URLs pip asks
 * for and TUF target paths, and the URL a verified target is downloaded from.
 *
 * - `paths` (PEP 458 as specified): a URL under the targets base is the target at its relative
 *   path; a URL ending in `/` is `<path>index.html`. Downloads use the consistent-snapshot name
 *   `dir/HASH.name` when the root asks for it.
 * - `warehouse` (PyPI's RSTUF integration): a project page is the target named by the
 *   normalized project name, hashed with BLAKE2b-256, and stored content-addressed as
 *   `<name>/<blake2b>.<name>.html` under the targets base. Distribution files are not targets:
 *   the verified page's hashes bind them.
 */
import { findHashAlgorithm } from '../base/index.js'
import type { TargetFile } from '../trust/index.js'

export type TufLayoutName = 'paths' | 'warehouse'

export interface TufLayout {
  readonly name: TufLayoutName
  /** The target path of an upstream page URL, or undefined when the page is not a target. */
  pageTarget(pageUrl: string): string | undefined
  /** The target path of an upstream file URL, or undefined when files are not targets. */
  fileTarget(fileUrl: string): string | undefined
  /** The URL to download a verified target from. */
  downloadUrl(info: TargetFile, consistentPath: string): string
}

/** The path of `url` below `base` (both absolute), decoded, or undefined when it is not below it. */
export function relativeTargetPath(url: string, base: string): string | undefined {
  let target: URL
  let root: URL
  try {
    target = new URL(url)
    root = new URL(base)
  } catch {
    return undefined
  }
  if (target.origin !== root.origin || target.search || !target.pathname.startsWith(root.pathname)) return undefined
  const encoded = target.pathname.slice(root.pathname.length)
  let path: string
  try {
    path = encoded.split('/').map(decodeURIComponent).join('/')
  } catch {
    return undefined
  }
  // A decoded separator or dot segment would name a different target than the URL shows.
  const segments = path.split('/')
  if (encoded.split('/').length !== segments.length || segments.some((segment) => segment === '.' || segment === '..')) return undefined
  return path
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

export function pathsLayout(targetsUrl: string): TufLayout {
  const toTarget = (url: string) => {
    const path = relativeTargetPath(url, targetsUrl)
    if (path === undefined) return undefined
    return path === '' || path.endsWith('/') ? `${path}index.html` : path
  }
  return {
    name: 'paths',
    pageTarget: toTarget,
    fileTarget: toTarget,
    downloadUrl: (_info, consistentPath) => new URL(encodePath(consistentPath), targetsUrl).href,
  }
}

export function warehouseLayout(targetsUrl: string, upstreamUrl: string): TufLayout {
  return {
    name: 'warehouse',
    pageTarget(pageUrl) {
      const path = relativeTargetPath(pageUrl, upstreamUrl)
      // `<name>/`: the project page. The project list is not a target in this layout.
      const match = path === undefined ? null : /^([a-z0-9]+(?:-[a-z0-9]+)*)\/$/.exec(path)
      return match?.[1]
    },
    fileTarget: () => undefined,
    downloadUrl(info) {
      const digest = info.hashes['blake2b-256']
      const name = info.path
      // Without the content hash there is no content-addressed copy to fetch.
      if (!digest) return new URL(`${encodeURIComponent(name)}/`, upstreamUrl).href
      return new URL(`${encodeURIComponent(name)}/${digest}.${encodeURIComponent(name)}.html`, targetsUrl).href
    },
  }
}

/**
 * TUF hash names (`blake2b-256`) as the index and the verifier spell them (`blake2b_256`);
 * undefined when one is unknown or weak, as the trust engine refuses those too.
 */
export function evidenceHashes(info: TargetFile): Record<string, string> | undefined {
  const hashes: Record<string, string> = {}
  for (const [name, hex] of Object.entries(info.hashes)) {
    const algorithm = findHashAlgorithm(name)
    if (algorithm === undefined || !algorithm.isStrong) return undefined
    hashes[algorithm.name] = hex.toLowerCase()
  }
  return Object.keys(hashes).length > 0 ? hashes : undefined
}
