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

export const STRUCTURED_KEYS: ReadonlySet<string> = new Set(['sources', 'routes', 'policy'])

export type SourceSettings =
  | { readonly name: string; readonly kind: 'index'; readonly url: string; readonly isPublic: boolean }
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

function parseSources(raw: RawValue, fail: Fail): SourceSettings[] {
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
    // Verifying mode per source is not built yet: refusing it is better than ignoring it.
    if (record.tuf !== undefined) fail(`${at}.tuf`, 'per-source verifying mode is not supported yet; use --tuf-root with a single --upstream')
    const isPublic = record.public ?? false
    if (typeof isPublic !== 'boolean') fail(`${at}.public`, 'must be true or false')
    if ((record.url === undefined) === (record.path === undefined)) fail(at, 'needs exactly one of url (an index) or path (a folder of wheels and sdists)')
    if (record.path !== undefined) {
      if (isPublic) fail(`${at}.public`, 'a local folder is private: it cannot be public')
      return { name, kind: 'folder', path: text(record.path, `${at}.path`, fail), isPublic: false }
    }
    return { name, kind: 'index', url: indexUrl(record.url, `${at}.url`, fail), isPublic }
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
 * @throws ConfigError naming the key path and the file
 */
export function parseSourcesSettings(layers: readonly RawLayer[]): SourcesSettings {
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
  const sources = sourcesRaw === undefined ? undefined : parseSources(sourcesRaw, failFor(sourcesRaw))
  return {
    sources,
    routes: parseRoutes(routesRaw, sources, failFor(routesRaw)),
    policy: policyRaw === undefined ? undefined : parsePolicy(policyRaw, failFor(policyRaw)),
  }
}
