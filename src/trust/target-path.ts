/**
 * How TUF names files on the repository: metadata file names (`N.role.json` with consistent
 * snapshots, TUF 5.5.1 / 5.6.1), the percent-encoded role names used in URLs and file names
 * (python-tuf's `quote(role, "")`, so `../x` or `a/b` can never become a path), and target
 * download names (`dir/HASH.name`, TUF 5.7.3).
 */
import type { TargetFile } from './models/file-info.js'

const UNRESERVED = /^[A-Za-z0-9_.~-]$/

/**
 * Percent-encodes every byte of the UTF-8 role name except `A-Za-z0-9_.-~`, like Python's
 * `urllib.parse.quote(role, safe="")`: the result never contains `/`.
 */
export function quoteRoleName(role: string): string {
  let out = ''
  for (const byte of Buffer.from(role, 'utf8')) {
    const char = String.fromCharCode(byte)
    out += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** `N.<role>.json` when `version` is given, else `<role>.json`, with the role name quoted. */
export function metadataFileName(role: string, version?: number): string {
  const name = `${quoteRoleName(role)}.json`
  return version === undefined ? name : `${version}.${name}`
}

/**
 * The names a consistent-snapshot repository serves a target under, one per listed hash:
 * `dir/HASH.filename` (TUF 5.7.3). The first is the one clients fetch, as python-tuf does.
 */
export function consistentTargetPaths(info: TargetFile): string[] {
  const slash = info.path.lastIndexOf('/')
  const dir = info.path.slice(0, slash + 1)
  const file = info.path.slice(slash + 1)
  return Object.values(info.hashes).map((hash) => `${dir}${hash}.${file}`)
}

/**
 * The path, relative to the targets base URL, to download `info` from.
 * @throws {Error} if the target lists no hashes (decoding guarantees it does)
 */
export function targetDownloadPath(info: TargetFile, consistentSnapshot: boolean): string {
  if (!consistentSnapshot) return info.path
  const first = consistentTargetPaths(info)[0]
  if (first === undefined) throw new Error(`target ${info.path} lists no hashes`)
  return first
}
