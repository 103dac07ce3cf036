/**
 * The structured config-file keys of issue 11: `sources:` (several indexes and local folders, in
 * priority order), `routes:` (which sources a project may come from) and `policy:` (the release
 * policy). They have no flag or variable: a list of mappings does not fit one. Each problem is a
 * ConfigError naming the key path (`sources[1].url`) and the file.
 */
import { parseDurationSeconds } from '../base/index.js'
import type { ReleasePolicyOptions } from '../policy/index.js'
import { ConfigError } from './errors.js'
import type { RawLayer, RawValue } from './parse.js'
import type { TufSettings } from './schema.js'

export const STRUCTURED_KEYS: ReadonlySet<string> = new Set(['sources', 'routes', 'policy'])

export type SourceSettings =
  /** `tuf`: verifying mode for this index alone, against its own repository */
  | { readonly name: string; readonly kind: 'index'; readonly url: string; readonly isPublic: boolean; readonly tuf?: TufSettings }
  | { readonly name: string; readonly kind: 'folder'; readonly path: string; readonly isPublic: false }

export interface RouteSettings {
  readonly projects: readonly string[]
  readonly sources: readonly string[]
}

export interface SourcesSettings {
  /** undefined: no `sources:` key, the single `--upstream` as before */
  readonly sources: readonly SourceSettings[] | undefined
  readonly routes: readonly RouteSettings[]
  /** undefined: no `policy:` key */
  readonly policy: ReleasePolicyOptions | undefined
}

export const POLICY_DEFAULTS: ReleasePolicyOptions = {
  minReleaseAgeSeconds: 0,
  releaseAgeClock: 'upload-time',
  missingUploadTime: 'deny',
  exempt: [],
  deny: [],
  allowOnly: [],
  yanked: 'serve',
}

type Fail = (path: string, problem: string) => never

function mapping(value: unknown, path: string, fail: Fail, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'must be a mapping')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) if (!known.includes(key)) fail(`${path}.${key}`, `unknown key (known: ${known.join(', ')})`)
  return record
}

function text(value: unknown, path: string, fail: Fail): string {
  if (typeof value !== 'string' || value.trim() === '') fail(path, 'must be a non-empty string')
  return value.trim()
}

function strings(value: unknown, path: string, fail: Fail): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) fail(path, 'must be a list of strings')
  return value.map((item, i) => text(item, `${path}[${i}]`, fail))
}

function indexUrl(value: unknown, path: string, fail: Fail): string {
  const written = text(value, path, fail)
  let url: URL
  try {
    url = new URL(written)
  } catch {
    fail(path, `is not a URL: ${JSON.stringify(written)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(path, 'must be an http:// or https:// URL')
  if (url.search || url.hash) fail(path, 'must not have a query or fragment')
  url.search = ''
  url.hash = ''
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  return url.href
}

/** What a source's `tuf:` does not say: the --tuf-refresh and --tuf-max-* values (or their defaults). */
export type SourceTufDefaults = Pick<TufSettings, 'refreshSeconds' | 'maxRootBytes' | 'maxTimestampBytes' | 'maxDelegations'>

/** A source's `tuf: {root, metadata-url, targets-url, layout, refresh}`: its own repository, as the --tuf-* flags name one. */
function parseSourceTuf(value: unknown, at: string, defaults: SourceTufDefaults, fail: Fail): TufSettings {
  const record = mapping(value, at, fail, ['root', 'metadata-url', 'targets-url', 'layout', 'refresh'])
  for (const key of ['root', 'metadata-url', 'targets-url']) if (record[key] === undefined) fail(`${at}.${key}`, 'is missing: verifying mode needs root, metadata-url and targets-url')
  const refresh = record.refresh
  const refreshSeconds = refresh === undefined ? defaults.refreshSeconds : typeof refresh === 'string' || typeof refresh === 'number' ? parseDurationSeconds(refresh) : undefined
  if (refreshSeconds === undefined) fail(`${at}.refresh`, `must be a duration such as 90s, 15m, 12h or 7d (0 = whenever a request needs metadata), got ${JSON.stringify(refresh)}`)
  return {
    rootFile: text(record.root, `${at}.root`, fail),
    metadataUrl: indexUrl(record['metadata-url'], `${at}.metadata-url`, fail),
    targetsUrl: indexUrl(record['targets-url'], `${at}.targets-url`, fail),
    layout: oneOf(record.layout, `${at}.layout`, ['paths', 'warehouse'] as const, 'paths', fail),
    refreshSeconds,
    maxRootBytes: defaults.maxRootBytes,
    maxTimestampBytes: defaults.maxTimestampBytes,
    maxDelegations: defaults.maxDelegations,
  }
}

function parseSources(raw: RawValue, tufDefaults: SourceTufDefaults, fail: Fail): SourceSettings[] {
  if (!Array.isArray(raw.value) || raw.value.length === 0) fail('sources', 'must be a non-empty list of sources (name plus url or path)')
  const seen = new Set<string>()
  return raw.value.map((entry: unknown, i): SourceSettings => {
    const at = `sources[${i}]`
    const record = mapping(entry, at, fail, ['name', 'url', 'path', 'public', 'tuf'])
    const name = text(record.name, `${at}.name`, fail)
    // It names the source's records namespace on disk too (`source-<name>`).
    if (!/^[a-z0-9][a-z0-9-]{0,24}$/.test(name)) fail(`${at}.name`, `${JSON.stringify(name)}: lower-case letters, digits and -, at most 25 characters`)
    if (seen.has(name)) fail(`${at}.name`, `${JSON.stringify(name)} is used by another source`)
    seen.add(name)
    const isPublic = record.public ?? false
    if (typeof isPublic !== 'boolean') fail(`${at}.public`, 'must be true or false')
    if ((record.url === undefined) === (record.path === undefined)) fail(at, 'needs exactly one of url (an index) or path (a folder of wheels and sdists)')
    if (record.path !== undefined) {
      if (isPublic) fail(`${at}.public`, 'a local folder is private: it cannot be public')
      if (record.tuf !== undefined) fail(`${at}.tuf`, 'a local folder has no TUF repository: verifying mode is for an index (url)')
      return { name, kind: 'folder', path: text(record.path, `${at}.path`, fail), isPublic: false }
    }
    const url = indexUrl(record.url, `${at}.url`, fail)
    return record.tuf === undefined ? { name, kind: 'index', url, isPublic } : { name, kind: 'index', url, isPublic, tuf: parseSourceTuf(record.tuf, `${at}.tuf`, tufDefaults, fail) }
  })
}

function parseRoutes(raw: RawValue | undefined, sources: readonly SourceSettings[] | undefined, fail: Fail): RouteSettings[] {
  if (raw === undefined) return []
  if (!sources) fail('routes', 'needs a sources: list to route to')
  if (!Array.isArray(raw.value)) fail('routes', 'must be a list of {projects: [...], sources: [...]}')
  const names = new Set(sources.map((source) => source.name))
  return raw.value.map((entry: unknown, i) => {
    const at = `routes[${i}]`
    const record = mapping(entry, at, fail, ['projects', 'sources'])
    const projects = strings(record.projects, `${at}.projects`, fail)
    const routed = strings(record.sources, `${at}.sources`, fail)
    if (projects.length === 0) fail(`${at}.projects`, 'must name at least one project or glob')
    if (routed.length === 0) fail(`${at}.sources`, 'must name at least one source')
    for (const name of routed) if (!names.has(name)) fail(`${at}.sources`, `${JSON.stringify(name)} is not the name of a source`)
    return { projects, sources: routed }
  })
}

function oneOf<T extends string>(value: unknown, path: string, choices: readonly T[], fallback: T, fail: Fail): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) fail(path, `must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
  return value as T
}

function parsePolicy(raw: RawValue, fail: Fail): ReleasePolicyOptions {
  const record = mapping(raw.value, 'policy', fail, ['min-release-age', 'release-age-clock', 'missing-upload-time', 'exempt', 'deny', 'allow-only', 'yanked'])
  const age = record['min-release-age']
  const minReleaseAgeSeconds = age === undefined ? 0 : typeof age === 'string' || typeof age === 'number' ? parseDurationSeconds(age) : undefined
  if (minReleaseAgeSeconds === undefined) fail('policy.min-release-age', `must be a duration such as 90s, 15m, 12h or 7d (0 = off), got ${JSON.stringify(age)}`)
  return {
    minReleaseAgeSeconds,
    releaseAgeClock: oneOf(record['release-age-clock'], 'policy.release-age-clock', ['upload-time', 'first-seen'] as const, POLICY_DEFAULTS.releaseAgeClock, fail),
    missingUploadTime: oneOf(record['missing-upload-time'], 'policy.missing-upload-time', ['deny', 'allow'] as const, POLICY_DEFAULTS.missingUploadTime, fail),
    exempt: strings(record.exempt, 'policy.exempt', fail),
    deny: strings(record.deny, 'policy.deny', fail),
    allowOnly: strings(record['allow-only'], 'policy.allow-only', fail),
    yanked: oneOf(record.yanked, 'policy.yanked', ['serve', 'hide'] as const, POLICY_DEFAULTS.yanked, fail),
  }
}

/**
 * @param layers lowest precedence first; only the config file can hold these keys
 * @param tufDefaults what a source's `tuf:` leaves unsaid
 * @throws ConfigError naming the key path and the file
 */
export function parseSourcesSettings(layers: readonly RawLayer[], tufDefaults: SourceTufDefaults): SourcesSettings {
  const find = (key: string): RawValue | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const raw = layers[i]?.get(key)
      if (raw !== undefined) return raw
    }
    return undefined
  }
  const failFor =
    (raw: RawValue | undefined): Fail =>
    (path, problem) => {
      throw new ConfigError(`${path} (in ${raw?.source ?? 'the config file'}): ${problem}`)
    }
  const sourcesRaw = find('sources')
  const routesRaw = find('routes')
  const policyRaw = find('policy')
  const sources = sourcesRaw === undefined ? undefined : parseSources(sourcesRaw, tufDefaults, failFor(sourcesRaw))
  return {
    sources,
    routes: parseRoutes(routesRaw, sources, failFor(routesRaw)),
    policy: policyRaw === undefined ? undefined : parsePolicy(policyRaw, failFor(policyRaw)),
  }
}
