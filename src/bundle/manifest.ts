/**
 * The bundle format's `manifest.json` (tuf-proxy-bundle/1, documented in README §Bundles): what
 * was asked for, from where, and one entry per stored item with its size, SHA-256 and path in
 * the bundle. Decoded from `unknown` with guards: a manifest arrives from across the air gap and
 * is as untrusted as the rest of the bundle until every byte it names has been checked.
 */

export const BUNDLE_FORMAT = 'tuf-proxy-bundle/1'

export type EntryKind = 'file' | 'metadata' | 'page' | 'tuf'

export interface ManifestEntry {
  readonly kind: EntryKind
  /** normalized project name; '' for TUF metadata */
  readonly project: string
  /** the distribution file name, `<file>.metadata`, the project name for a page, the role file for TUF */
  readonly name: string
  readonly size: number
  readonly sha256: string
  /** relative to the bundle root: `files/<sha256>`, `pages/<project>.html|json`, `tuf/<name>` */
  readonly path: string
}

export interface Selection {
  readonly projects: readonly string[]
  readonly requirements: readonly string[]
  readonly pylock: readonly string[]
  readonly fromCache: readonly string[]
  readonly pythonVersions: readonly string[]
  readonly platforms: readonly string[]
  readonly onlyBinary: boolean
  /** the manifest of the bundle this one adds to (`--since`), if any */
  readonly since?: string
}

/**
 * Where the TUF metadata of a bundle made in verifying mode came from, and how index URLs map to
 * its targets: what `import` needs to look each page and file up, and what the offline server
 * then serves by. Not trusted: a wrong mapping only makes lookups fail (every target is signed).
 */
export interface ManifestTuf {
  readonly layout: 'paths' | 'warehouse'
  readonly metadata_url: string
  readonly targets_url: string
}

export interface Manifest {
  readonly format: typeof BUNDLE_FORMAT
  readonly tool_version: string
  /** RFC 3339 */
  readonly created: string
  readonly upstream: string
  readonly selection: Selection
  readonly entries: readonly ManifestEntry[]
  /** only in a bundle made in verifying mode (it then has `tuf` entries) */
  readonly tuf?: ManifestTuf
}

const KINDS: ReadonlySet<string> = new Set<EntryKind>(['file', 'metadata', 'page', 'tuf'])
const SHA256 = /^[0-9a-f]{64}$/
/** Paths are fixed by kind, so a manifest cannot point outside the bundle or at another entry's bytes. */
const PATH_BY_KIND: Readonly<Record<EntryKind, RegExp>> = {
  file: /^files\/[0-9a-f]{64}$/,
  metadata: /^files\/[0-9a-f]{64}$/,
  page: /^pages\/[a-z0-9]([a-z0-9-]*[a-z0-9])?\.(html|json)$/,
  tuf: /^tuf\/[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/,
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined
}

/** Every way the entry breaks the format, as sentences; empty when it is well-formed. */
function entryProblems(entry: unknown): string[] {
  if (!isRecord(entry)) return ['is not an object']
  const problems: string[] = []
  const { kind, project, name, size, sha256, path } = entry
  if (typeof kind !== 'string' || !KINDS.has(kind)) problems.push(`kind ${JSON.stringify(kind)} is not file, metadata, page or tuf`)
  if (typeof project !== 'string') problems.push('project is not a string')
  if (typeof name !== 'string' || name === '') problems.push('name is not a non-empty string')
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) problems.push('size is not a byte count')
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) problems.push('sha256 is not 64 lower-case hex digits')
  if (typeof path !== 'string') problems.push('path is not a string')
  else if (typeof kind === 'string' && KINDS.has(kind) && !PATH_BY_KIND[kind as EntryKind].test(path)) problems.push(`path ${JSON.stringify(path)} is not where a ${kind} entry lives`)
  else if ((kind === 'file' || kind === 'metadata') && path !== `files/${String(sha256)}`) problems.push(`path ${JSON.stringify(path)} is not files/<its sha256>`)
  return problems
}

/**
 * @returns the manifest, or the list of reasons it is not one (each naming the entry index)
 */
export function decodeManifest(bytes: Uint8Array): { manifest: Manifest } | { problems: string[] } {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (error) {
    return { problems: [`not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`] }
  }
  if (!isRecord(parsed)) return { problems: ['not a JSON object'] }
  const problems: string[] = []
  if (parsed.format !== BUNDLE_FORMAT) problems.push(`format is ${JSON.stringify(parsed.format)}, not ${JSON.stringify(BUNDLE_FORMAT)}`)
  for (const key of ['tool_version', 'created', 'upstream'] as const) if (typeof parsed[key] !== 'string') problems.push(`${key} is not a string`)
  if (typeof parsed.created === 'string' && Number.isNaN(Date.parse(parsed.created))) problems.push('created is not an RFC 3339 time')
  const selection = decodeSelection(parsed.selection)
  if (!selection) problems.push('selection is malformed')
  const entries = Array.isArray(parsed.entries) ? parsed.entries : undefined
  if (!entries) problems.push('entries is not an array')
  else entries.forEach((entry, i) => problems.push(...entryProblems(entry).map((problem) => `entries[${i}]: ${problem}`)))
  const tuf = parsed.tuf === undefined ? undefined : decodeTuf(parsed.tuf)
  if (parsed.tuf !== undefined && !tuf) problems.push('tuf is not {layout: "paths" | "warehouse", metadata_url, targets_url} with absolute http(s) URLs')
  if (problems.length > 0 || !entries || !selection) return { problems }
  const paths = new Set<string>()
  for (const entry of entries as ManifestEntry[]) {
    // The same file under two names (a metadata file equal to another) shares a path; a page or TUF role may not.
    if (paths.has(entry.path) && !entry.path.startsWith('files/')) problems.push(`entries: ${entry.path} is listed twice`)
    paths.add(entry.path)
  }
  if (problems.length > 0) return { problems }
  return {
    manifest: {
      format: BUNDLE_FORMAT,
      tool_version: parsed.tool_version as string,
      created: parsed.created as string,
      upstream: parsed.upstream as string,
      selection,
      entries: entries as ManifestEntry[],
      ...(tuf ? { tuf } : {}),
    },
  }
}

function decodeTuf(value: unknown): ManifestTuf | undefined {
  if (!isRecord(value)) return undefined
  const { layout, metadata_url: metadataUrl, targets_url: targetsUrl } = value
  const isHttpUrl = (url: unknown): url is string => typeof url === 'string' && URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)
  if ((layout !== 'paths' && layout !== 'warehouse') || !isHttpUrl(metadataUrl) || !isHttpUrl(targetsUrl)) return undefined
  return { layout, metadata_url: metadataUrl, targets_url: targetsUrl }
}

function decodeSelection(value: unknown): Selection | undefined {
  if (!isRecord(value)) return undefined
  const lists = ['projects', 'requirements', 'pylock', 'fromCache', 'pythonVersions', 'platforms'] as const
  const decoded: Record<string, string[]> = {}
  for (const key of lists) {
    const list = strings(value[key])
    if (!list) return undefined
    decoded[key] = list
  }
  if (typeof value.onlyBinary !== 'boolean') return undefined
  if (value.since !== undefined && typeof value.since !== 'string') return undefined
  return {
    projects: decoded.projects ?? [],
    requirements: decoded.requirements ?? [],
    pylock: decoded.pylock ?? [],
    fromCache: decoded.fromCache ?? [],
    pythonVersions: decoded.pythonVersions ?? [],
    platforms: decoded.platforms ?? [],
    onlyBinary: value.onlyBinary,
    ...(typeof value.since === 'string' ? { since: value.since } : {}),
  }
}

/** The manifest as written: entries sorted by path then name, so equal bundles have equal manifests but for `created`. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  const entries = [...manifest.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return Buffer.from(`${JSON.stringify({ ...manifest, entries }, null, 1)}\n`, 'utf8')
}

export function pagePath(project: string, isJson: boolean): string {
  return `pages/${project}.${isJson ? 'json' : 'html'}`
}

/** PEP 691 content types, from the stored page's extension. */
export function pageContentType(path: string): string {
  return path.endsWith('.json') ? 'application/vnd.pypi.simple.v1+json' : 'text/html; charset=utf-8'
}
