/**
 * Turns raw values from the config file, the environment and the command line into one frozen,
 * validated `Settings`. Pure: the caller reads argv, env and files (see load.ts). Precedence,
 * lowest first: defaults < file < env < flags; a higher layer replaces a list, it does not extend it.
 */
import { maskUrl, parseDurationSeconds } from '../base/index.js'
import { ConfigError } from './errors.js'
import { DEFAULTS, OPTIONS, PYPI_FILE_HOSTS, type OptionFlag, type OptionSpec, type ProxySettings, type Settings } from './schema.js'
import { STRUCTURED_KEYS, parseSourcesSettings } from './sources.js'

export interface RawValue {
  readonly value: unknown
  /** where the value came from, for messages: `--port`, `TUF_PROXY_PORT`, `config.yaml` */
  readonly source: string
}
export type RawLayer = ReadonlyMap<string, RawValue>

const SPECS: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((spec) => [spec.flag, spec]))

export function optionSpec(flag: string): OptionSpec | undefined {
  return SPECS.get(flag)
}

function fail(flag: string, raw: RawValue, problem: string): never {
  const origin = raw.source === `--${flag}` ? `--${flag}` : `--${flag} (from ${raw.source})`
  throw new ConfigError(`${origin}: ${problem}`)
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

function toInt(flag: string, raw: RawValue, spec: OptionSpec): number {
  const text = typeof raw.value === 'number' ? String(raw.value) : raw.value
  if (typeof text !== 'string' || !/^\d+$/.test(text.trim())) fail(flag, raw, `must be a non-negative integer, got ${JSON.stringify(raw.value)}`)
  const value = Number(text.trim())
  if (!Number.isSafeInteger(value)) fail(flag, raw, 'is too large')
  if (spec.min !== undefined && value < spec.min) fail(flag, raw, `must be at least ${spec.min}`)
  if (spec.max !== undefined && value > spec.max) fail(flag, raw, `must be at most ${spec.max}`)
  return value
}

function toBytes(flag: string, raw: RawValue, spec: OptionSpec): number {
  const text = typeof raw.value === 'number' ? String(raw.value) : raw.value
  // 500, 500B, 500M, 500MB, 500MiB; a bare "i" or "iB" without a unit letter is a typo, not bytes.
  const match = typeof text === 'string' ? /^\s*(\d+)\s*(?:([KMGT])(?:i?B)?|B)?\s*$/i.exec(text) : null
  if (!match) fail(flag, raw, `must be a byte count such as 500M or 10G, got ${JSON.stringify(raw.value)}`)
  const value = Number(match[1]) * (BYTE_UNITS[(match[2] ?? '').toUpperCase()] ?? 1)
  if (!Number.isSafeInteger(value)) fail(flag, raw, 'is too large')
  if (spec.min !== undefined && value < spec.min) fail(flag, raw, `must be at least ${spec.min} byte${spec.min === 1 ? '' : 's'}`)
  return value
}

function toDurationSeconds(flag: string, raw: RawValue, spec: OptionSpec): number {
  const seconds = typeof raw.value === 'string' || typeof raw.value === 'number' ? parseDurationSeconds(raw.value) : undefined
  if (seconds === undefined) fail(flag, raw, `must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got ${JSON.stringify(raw.value)}`)
  if (spec.min !== undefined && seconds < spec.min) fail(flag, raw, `must be at least ${spec.min}s`)
  return seconds
}

function toBool(flag: string, raw: RawValue): boolean {
  if (typeof raw.value === 'boolean') return raw.value
  const text = typeof raw.value === 'string' ? raw.value.trim().toLowerCase() : ''
  if (['1', 'true', 'yes', 'on'].includes(text)) return true
  if (['0', 'false', 'no', 'off'].includes(text)) return false
  fail(flag, raw, `must be true or false, got ${JSON.stringify(raw.value)}`)
}

function toText(flag: string, raw: RawValue): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') fail(flag, raw, 'must be a non-empty string')
  return raw.value.trim()
}

function toUrl(flag: string, raw: RawValue): string {
  const text = toText(flag, raw)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Masked: a proxy URL carries its password.
    fail(flag, raw, `is not a URL: ${JSON.stringify(maskUrl(text))}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(flag, raw, 'must be an http:// or https:// URL')
  if (url.search || url.hash) fail(flag, raw, 'must not have a query or fragment')
  // A bare trailing '?' or '#' leaves an empty query or fragment that would survive into href.
  url.search = ''
  url.hash = ''
  // Every URL option is a base that others are resolved against, so it always ends in '/'.
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  return url.href
}

function toList(flag: string, raw: RawValue): string[] {
  const items = Array.isArray(raw.value) ? raw.value : typeof raw.value === 'string' ? raw.value.split(',') : undefined
  if (!items) fail(flag, raw, 'must be a list of strings')
  return items.map((item) => {
    if (typeof item !== 'string') fail(flag, raw, 'must be a list of strings')
    return item.trim()
  }).filter((item) => item !== '')
}

function toHost(flag: string, raw: RawValue, text: string): string {
  // A host, optionally with a port: no scheme, path or userinfo.
  if (!/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i.test(text)) fail(flag, raw, `${JSON.stringify(text)} is not a host name (write files.example.org, or host:port)`)
  return text.toLowerCase()
}

/**
 * The proxy variables as curl, pip and uv read them: the lower-case name wins over the upper-case
 * one (undici's EnvHttpProxyAgent order too); a value without a scheme is an http:// proxy, as
 * curl and requests take it.
 */
function proxyFromEnv(env: Readonly<Record<string, string | undefined>>, name: 'http_proxy' | 'https_proxy'): { url: string; source: string } {
  for (const key of [name, name.toUpperCase()]) {
    const value = env[key]?.trim()
    if (!value) continue
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
    let url: URL | undefined
    try {
      url = new URL(withScheme)
    } catch {
      url = undefined
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      // Masked as the URL it was read as: a value without a scheme would not be masked at all.
      throw new ConfigError(`${key}: must be an http:// or https:// proxy URL, got ${JSON.stringify(maskUrl(withScheme))}`)
    }
    return { url: url.href, source: key }
  }
  return { url: '', source: '' }
}

function proxySettings(flagged: { url: string; source: string } | undefined, env: Readonly<Record<string, string | undefined>>): ProxySettings {
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? ''
  // An explicit proxy replaces HTTPS_PROXY and HTTP_PROXY for both schemes; NO_PROXY still lists
  // the hosts reached directly, as curl does with -x.
  if (flagged) return { http: flagged.url, https: flagged.url, noProxy, source: flagged.source }
  const https = proxyFromEnv(env, 'https_proxy')
  const http = proxyFromEnv(env, 'http_proxy')
  const source = [https.source, http.source].filter((name) => name !== '').join(', ')
  return { http: http.url, https: https.url, noProxy, source }
}

/** More would only add processes contending for the same cores and cache directory. */
const MAX_WORKERS = 256

function toWorkers(raw: RawValue): number | 'auto' {
  const value = typeof raw.value === 'number' ? String(raw.value) : toText('workers', raw)
  if (value === 'auto') return 'auto'
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) fail('workers', raw, `must be a number of processes from 1 to ${MAX_WORKERS}, or auto, got ${JSON.stringify(value)}`)
  return Number(value)
}

/** The highest-precedence raw value of an option, if any layer sets it. */
function pick(layers: readonly RawLayer[], flag: OptionFlag): RawValue | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const raw = layers[i]?.get(flag)
    if (raw !== undefined) return raw
  }
  return undefined
}

/**
 * @param layers lowest precedence first: [file, env, flags]
 * @param env the process environment, read for HTTPS_PROXY, HTTP_PROXY and NO_PROXY only
 * @throws ConfigError naming the option and its source
 */
export function parseSettings(layers: readonly RawLayer[], defaultCacheDir: string, env: Readonly<Record<string, string | undefined>> = {}): Settings {
  for (const layer of layers) {
    for (const [flag, raw] of layer) {
      if (!SPECS.has(flag) && !STRUCTURED_KEYS.has(flag)) throw new ConfigError(`${raw.source}: unknown option ${JSON.stringify(flag)}`)
    }
  }
  const get = <T>(flag: OptionFlag, convert: (raw: RawValue, spec: OptionSpec) => T): T | undefined => {
    const raw = pick(layers, flag)
    const spec = SPECS.get(flag)
    return raw === undefined || spec === undefined ? undefined : convert(raw, spec)
  }
  const int = (flag: OptionFlag) => get(flag, (raw, spec) => toInt(flag, raw, spec))
  const bytes = (flag: OptionFlag) => get(flag, (raw, spec) => toBytes(flag, raw, spec))
  const seconds = (flag: OptionFlag) => get(flag, (raw, spec) => toDurationSeconds(flag, raw, spec))
  const text = (flag: OptionFlag) => get(flag, (raw) => toText(flag, raw))
  const url = (flag: OptionFlag) => get(flag, (raw) => toUrl(flag, raw))
  const oneOf = <T extends string>(flag: OptionFlag, choices: readonly T[]) =>
    get(flag, (raw) => {
      const value = toText(flag, raw)
      if (!(choices as readonly string[]).includes(value)) fail(flag, raw, `must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
      return value as T
    })

  const upstream = url('upstream') ?? DEFAULTS.upstream
  const upstreamHost = new URL(upstream).host
  const extraHosts = get('allow-host', (raw) => toList('allow-host', raw).map((item) => toHost('allow-host', raw, item))) ?? []
  const cacheMaxBytes = bytes('cache-max-bytes') ?? DEFAULTS.cacheMaxBytes

  const tufRoot = text('tuf-root')
  const tufMetadataUrl = url('tuf-metadata-url')
  const tufTargetsUrl = url('tuf-targets-url')
  const tufTrio = { 'tuf-root': tufRoot, 'tuf-metadata-url': tufMetadataUrl, 'tuf-targets-url': tufTargetsUrl }
  const tufMissing = Object.entries(tufTrio).filter(([, value]) => value === undefined).map(([flag]) => `--${flag}`)
  if (tufMissing.length !== 0 && tufMissing.length !== 3) {
    throw new ConfigError(
      `--tuf-root, --tuf-metadata-url and --tuf-targets-url go together: verifying mode needs all three, but ${tufMissing.join(' and ')} ${tufMissing.length === 1 ? 'is' : 'are'} missing`,
    )
  }
  // Converted even outside verifying mode, so a bad value is reported rather than silently ignored.
  const tufLayout = oneOf('tuf-layout', ['paths', 'warehouse'] as const) ?? DEFAULTS.tufLayout
  const tufRefreshSeconds = seconds('tuf-refresh') ?? DEFAULTS.tufRefreshSeconds
  const tufMaxRootBytes = bytes('tuf-max-root-bytes') ?? DEFAULTS.tufMaxRootBytes
  const tufMaxTimestampBytes = bytes('tuf-max-timestamp-bytes') ?? DEFAULTS.tufMaxTimestampBytes
  const tufMaxDelegations = int('tuf-max-delegations') ?? DEFAULTS.tufMaxDelegations
  const sourcesSettings = parseSourcesSettings(layers, { refreshSeconds: tufRefreshSeconds, maxRootBytes: tufMaxRootBytes, maxTimestampBytes: tufMaxTimestampBytes, maxDelegations: tufMaxDelegations })
  if (sourcesSettings.sources && pick(layers, 'upstream') !== undefined) {
    throw new ConfigError(`--upstream (from ${pick(layers, 'upstream')?.source}) and sources: (in the config file) exclude each other: list the upstream as a source`)
  }
  if (sourcesSettings.sources && tufRoot !== undefined) {
    throw new ConfigError(`--tuf-root (from ${pick(layers, 'tuf-root')?.source}) and sources: (in the config file) exclude each other: give the verifying index its own tuf: {root, metadata-url, targets-url} in its sources: entry`)
  }
  const indexHosts = sourcesSettings.sources ? sourcesSettings.sources.flatMap((source) => (source.kind === 'index' ? [new URL(source.url).host] : [])) : [upstreamHost]
  const allowedHosts = new Set<string>([...indexHosts.flatMap((host) => [host, ...(PYPI_FILE_HOSTS[host] ?? [])]), ...extraHosts])
  for (const tufUrl of [tufMetadataUrl, tufTargetsUrl]) if (tufUrl) allowedHosts.add(new URL(tufUrl).host)
  // A verifying source's repository: its metadata and targets hosts, as --tuf-*-url's are.
  for (const source of sourcesSettings.sources ?? []) if (source.kind === 'index' && source.tuf) for (const tufUrl of [source.tuf.metadataUrl, source.tuf.targetsUrl]) allowedHosts.add(new URL(tufUrl).host)

  const proxyRaw = pick(layers, 'upstream-proxy')
  const upstreamProxy = url('upstream-proxy')
  const proxy = proxySettings(upstreamProxy === undefined || proxyRaw === undefined ? undefined : { url: upstreamProxy, source: proxyRaw.source }, env)

  const settings: Settings = {
    upstream,
    host: text('host') ?? DEFAULTS.host,
    port: int('port') ?? DEFAULTS.port,
    cacheDir: text('cache-dir') ?? defaultCacheDir,
    indexTtlSeconds: seconds('index-ttl') ?? DEFAULTS.indexTtlSeconds,
    cacheMaxBytes: cacheMaxBytes === 0 ? Infinity : cacheMaxBytes,
    requireHashes: get('require-hashes', (raw) => toBool('require-hashes', raw)) ?? false,
    allowedHosts: [...allowedHosts],
    caBundleFile: text('ca-bundle'),
    upstreamTimeoutMs: (seconds('upstream-timeout') ?? DEFAULTS.upstreamTimeoutSeconds) * 1000,
    upstreamDeadlineMs: (seconds('upstream-deadline') ?? DEFAULTS.upstreamDeadlineSeconds) * 1000,
    upstreamMinBytesPerSecond: bytes('upstream-min-rate') ?? DEFAULTS.upstreamMinBytesPerSecond,
    maxPageBytes: bytes('max-page-bytes') ?? DEFAULTS.maxPageBytes,
    maxFileBytes: bytes('max-file-bytes') ?? DEFAULTS.maxFileBytes,
    logLevel: oneOf('log-level', ['debug', 'info', 'warn', 'error'] as const) ?? 'info',
    tuf:
      tufRoot !== undefined && tufMetadataUrl !== undefined && tufTargetsUrl !== undefined
        ? {
            rootFile: tufRoot,
            metadataUrl: tufMetadataUrl,
            targetsUrl: tufTargetsUrl,
            layout: tufLayout,
            refreshSeconds: tufRefreshSeconds,
            maxRootBytes: tufMaxRootBytes,
            maxTimestampBytes: tufMaxTimestampBytes,
            maxDelegations: tufMaxDelegations,
          }
        : undefined,
    offline: get('offline', (raw) => toBool('offline', raw)) ?? false,
    adminTokenFile: text('admin-token-file'),
    honorClientRevalidate: get('honor-client-revalidate', (raw) => toBool('honor-client-revalidate', raw)) ?? false,
    proxy,
    offlineGraceSeconds: seconds('offline-grace') ?? 0,
    workers: get('workers', (raw) => toWorkers(raw)) ?? 1,
    ...(sourcesSettings.sources || sourcesSettings.policy ? { routing: sourcesSettings } : {}),
  }
  // Offline, the verified TUF state and where it came from are the import's (tuf-proxy import --tuf-root).
  if (settings.offline && settings.tuf) {
    throw new ConfigError('--offline does not take the verifying-mode flags (--tuf-root, --tuf-metadata-url, --tuf-targets-url): the offline server takes its TUF state from the cache, as `tuf-proxy import --tuf-root` recorded it')
  }
  // `import --tuf-root` records one repository's state (tuf/metadata/), not a source's.
  const tufSource = settings.offline ? settings.routing?.sources?.find((source) => source.kind === 'index' && source.tuf !== undefined) : undefined
  if (tufSource) throw new ConfigError(`--offline does not take a source's tuf: (sources entry ${JSON.stringify(tufSource.name)}): an offline server's TUF state comes from \`tuf-proxy import --tuf-root\` with a single --upstream`)
  if (settings.offlineGraceSeconds > 0 && !settings.offline) throw new ConfigError('--offline-grace applies only with --offline: an online proxy refreshes its TUF metadata instead')
  return Object.freeze(settings)
}
