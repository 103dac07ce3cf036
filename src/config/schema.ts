/**
 * Every setting of `tuf-proxy serve`: its flag, type, default and help, in one table. Flags,
 * `TUF_PROXY_<NAME>` variables and config-file keys are all derived from this table, so a new
 * option is added in one place. Defaults live here and nowhere else.
 */
import type { SourcesSettings } from './sources.js'

export type OptionKind = 'string' | 'url' | 'int' | 'bytes' | 'duration' | 'bool' | 'list' | 'enum' | 'path'

export interface OptionSpec {
  /** the flag without dashes; also the config-file key; env is TUF_PROXY_ + upper snake case */
  readonly flag: string
  readonly kind: OptionKind
  readonly help: string
  readonly valueName?: string
  readonly choices?: readonly string[]
  readonly min?: number
  readonly max?: number
}

export const OPTIONS = [
  { flag: 'upstream', kind: 'url', valueName: 'URL', help: 'base URL of the upstream simple index (default https://pypi.org/simple/)' },
  { flag: 'host', kind: 'string', valueName: 'H', help: 'address to listen on (default 127.0.0.1)' },
  { flag: 'port', kind: 'int', valueName: 'N', min: 0, max: 65535, help: 'port to listen on, 0 for any free port (default 8080)' },
  { flag: 'cache-dir', kind: 'path', valueName: 'DIR', help: 'where files, pages and trust state are cached (default <user cache dir>/tuf-proxy)' },
  { flag: 'index-ttl', kind: 'duration', valueName: 'DURATION', min: 0, help: 'how long a project page is served without revalidation: 90s, 15m, 12h, 7d, a bare number is seconds (default 10m)' },
  { flag: 'cache-max-bytes', kind: 'bytes', valueName: 'N', help: 'size limit of the file cache, LRU-evicted; suffixes K, M, G, T; 0 = no limit (default 10G)' },
  { flag: 'require-hashes', kind: 'bool', help: 'refuse files whose link carries no strong hash (default off)' },
  { flag: 'allow-host', kind: 'list', valueName: 'HOST', help: 'extra host files may be fetched from (repeatable; files.pythonhosted.org is allowed for pypi.org)' },
  { flag: 'ca-bundle', kind: 'path', valueName: 'FILE', help: 'PEM file of extra CA certificates for a private upstream (TLS is always verified)' },
  { flag: 'upstream-timeout', kind: 'duration', valueName: 'DURATION', min: 1, help: 'connect, response-header and body-idle timeout for upstream requests (default 30s)' },
  { flag: 'upstream-deadline', kind: 'duration', valueName: 'DURATION', min: 1, help: 'total time for one upstream page or metadata request, and for a file request to answer (default 60s)' },
  { flag: 'upstream-min-rate', kind: 'bytes', valueName: 'N', min: 0, help: 'slowest upstream body accepted, in bytes per second over each --upstream-timeout window (at most 10 s); 0 = off (default 16K)' },
  { flag: 'max-page-bytes', kind: 'bytes', valueName: 'N', min: 1, help: 'largest index page accepted from the upstream (default 128M)' },
  { flag: 'max-file-bytes', kind: 'bytes', valueName: 'N', min: 1, help: 'largest file accepted from the upstream (default 20G)' },
  { flag: 'log-level', kind: 'enum', choices: ['debug', 'info', 'warn', 'error'], valueName: 'LEVEL', help: 'least severe log line written (default info)' },
  { flag: 'tuf-root', kind: 'path', valueName: 'FILE', help: 'trusted root.json obtained out of band; turns on verifying mode' },
  { flag: 'tuf-metadata-url', kind: 'url', valueName: 'URL', help: 'where the upstream publishes TUF metadata (root.json, timestamp.json, ...)' },
  { flag: 'tuf-targets-url', kind: 'url', valueName: 'URL', help: 'base URL that TUF target paths are relative to' },
  { flag: 'tuf-layout', kind: 'enum', choices: ['paths', 'warehouse'], valueName: 'NAME', help: 'how index URLs map to TUF targets (default paths)' },
  { flag: 'tuf-refresh', kind: 'duration', valueName: 'DURATION', min: 0, help: 'least time between two TUF metadata refreshes; 0 = whenever a request needs metadata (default 60s)' },
  { flag: 'tuf-max-root-bytes', kind: 'bytes', valueName: 'N', min: 1, help: 'largest root.json accepted (default 512K)' },
  { flag: 'tuf-max-timestamp-bytes', kind: 'bytes', valueName: 'N', min: 1, help: 'largest timestamp.json accepted (default 16K)' },
  { flag: 'tuf-max-delegations', kind: 'int', valueName: 'N', min: 1, help: 'most delegated roles visited for one target (default 32)' },
  { flag: 'offline', kind: 'bool', help: 'serve only what the cache holds (see tuf-proxy import); never open an outbound connection' },
  { flag: 'admin-token-file', kind: 'path', valueName: 'FILE', help: 'turns on the admin API under /-/: a file holding its bearer token (at least 32 characters)' },
  { flag: 'honor-client-revalidate', kind: 'bool', help: 'revalidate a project page upstream when the client sends Cache-Control: no-cache or Pragma: no-cache (default off)' },
  { flag: 'upstream-proxy', kind: 'url', valueName: 'URL', help: 'HTTP proxy for every upstream request, http://[user:password@]host:port; overrides HTTPS_PROXY and HTTP_PROXY, NO_PROXY still applies (default: those variables)' },
  { flag: 'offline-grace', kind: 'duration', valueName: 'DURATION', min: 0, help: 'with --offline and an imported TUF state: keep serving this long past the expiry of its metadata, with a warning (default 0: refuse with 503 once expired)' },
  { flag: 'workers', kind: 'string', valueName: 'N|auto', help: 'server processes sharing the port and the cache directory; auto = one per core (default 1)' },
] as const satisfies readonly OptionSpec[]

export type OptionFlag = (typeof OPTIONS)[number]['flag']

export type TufLayout = 'paths' | 'warehouse'

export interface TufSettings {
  readonly rootFile: string
  readonly metadataUrl: string
  readonly targetsUrl: string
  readonly layout: TufLayout
  readonly refreshSeconds: number
  readonly maxRootBytes: number
  readonly maxTimestampBytes: number
  readonly maxDelegations: number
}

export interface Settings {
  readonly upstream: string
  readonly host: string
  readonly port: number
  readonly cacheDir: string
  readonly indexTtlSeconds: number
  /** Infinity when unlimited */
  readonly cacheMaxBytes: number
  readonly requireHashes: boolean
  /** the upstream's host, PyPI's file host for pypi.org, and every --allow-host */
  readonly allowedHosts: readonly string[]
  readonly caBundleFile: string | undefined
  readonly upstreamTimeoutMs: number
  readonly upstreamDeadlineMs: number
  /** 0 = no floor */
  readonly upstreamMinBytesPerSecond: number
  readonly maxPageBytes: number
  readonly maxFileBytes: number
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** present in verifying mode */
  readonly tuf: TufSettings | undefined
  /** serve only the cache; no outbound connection */
  readonly offline: boolean
  /** the admin API's token file; the API is off without it */
  readonly adminTokenFile: string | undefined
  readonly honorClientRevalidate: boolean
  /** how upstream requests leave the machine: --upstream-proxy, else the proxy variables */
  readonly proxy: ProxySettings
  /** offline verifying mode: how long past the expiry of the imported TUF metadata it is still served */
  readonly offlineGraceSeconds: number
  /**
   * config-file only (sources.ts): present when `sources:` or `policy:` is given; absent, the
   * single --upstream is served exactly as without them
   */
  readonly routing?: SourcesSettings
  /** worker processes (node:cluster); 'auto' is one per core, resolved at start */
  readonly workers: number | 'auto'
}

/**
 * Upstream proxies: '' = none. `https` serves https upstreams (and falls back to `http` when
 * empty, undici's rule), `http` plain-http ones; hosts in `noProxy` are reached directly.
 */
export interface ProxySettings {
  readonly http: string
  readonly https: string
  readonly noProxy: string
  /** where the proxy came from, for the start-up line: `--upstream-proxy (from …)`, `HTTPS_PROXY`, …; '' without one */
  readonly source: string
}

export const DEFAULTS = {
  upstream: 'https://pypi.org/simple/',
  host: '127.0.0.1',
  port: 8080,
  indexTtlSeconds: 600,
  cacheMaxBytes: 10 * 1024 ** 3,
  upstreamTimeoutSeconds: 30,
  upstreamDeadlineSeconds: 60,
  upstreamMinBytesPerSecond: 16 * 1024,
  maxPageBytes: 128 * 1024 ** 2,
  maxFileBytes: 20 * 1024 ** 3,
  tufLayout: 'paths',
  tufRefreshSeconds: 60,
  tufMaxRootBytes: 512 * 1024,
  tufMaxTimestampBytes: 16 * 1024,
  tufMaxDelegations: 32,
} as const

/** PyPI serves pages from pypi.org and files from this host. */
export const PYPI_FILE_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'pypi.org': ['files.pythonhosted.org'],
  'test.pypi.org': ['test-files.pythonhosted.org'],
}

export function envName(flag: string): string {
  return `TUF_PROXY_${flag.toUpperCase().replace(/-/g, '_')}`
}
