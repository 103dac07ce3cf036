/**
 * `tuf-proxy tuf-client`: the client-under-test command line of the TUF conformance suite
 * (theupdateframework/tuf-conformance CLIENT-CLI.md), built on our own engine and driver:
 *
 *   --metadata-dir D init ROOT_FILE
 *   --metadata-url URL --metadata-dir D refresh
 *   --metadata-url URL --metadata-dir D --target-name T [--target-name T ...] --target-dir TD --target-base-url URL download
 *
 * Exit status is exactly 0 on success and 1 on any failure, bad usage included; the failure is
 * one `tuf-client: <code>: <message>` line on stderr. Requests are made one at a time (the suite
 * asserts their order) and only to the hosts of the two URLs. "Now" is this process's clock, so
 * `faketime` reaches it. Owns argument parsing and the download loop; not the TUF rules.
 */
import { readFile } from 'node:fs/promises'
import { describeError, errorCode, ProxyError, systemClock } from '../base/index.js'
// tuf-session.js, not mirror/index.js: this client needs none of the PyPI mirror's modules
import { TufSession } from '../tuf-client/index.js'
import { RepositoryError, TrustError, verifyTargetBytes, type TargetFile } from '../trust/index.js'
import { createUpstreamClient, UpstreamHttpError, type UpstreamClient } from '../upstream/index.js'
import { ClientDirError, installTrustedRoot, openMetadataDir, openTargetDir } from './tuf-client-dirs.js'

const USAGE = `Usage: tuf-proxy tuf-client [options] <command>

Commands:
  init ROOT_FILE   trust ROOT_FILE: copy it to <metadata-dir>/root.json (no network)
  refresh          update root, timestamp, snapshot and targets from --metadata-url
  download         refresh if needed, then download and verify each --target-name into --target-dir

Options (before the command):
  --metadata-dir DIR        local trusted metadata (all commands)
  --metadata-url URL        repository metadata base URL (refresh, download)
  --target-name PATH        target path to download; repeat for several, done in order (download)
  --target-dir DIR          where downloaded targets are stored (download)
  --target-base-url URL     repository targets base URL (download)
  --help                    show this help

Exit status: 0 on success, 1 on any failure.
`

/** Connect, response head and body-idle timeouts: the repository is expected to answer promptly. */
const TIMEOUT_MS = 5_000
/** TUF §5 slow retrieval: no metadata or target request may drip on for longer than this. */
const DEADLINE_MS = 60_000
const MIN_BYTES_PER_SECOND = 1024

/** The command line is wrong: the caller's fault, reported like any other failure. */
export class TufClientUsageError extends ProxyError {
  readonly code = 'usage'
  readonly fault = 'bad_request'
}

interface Invocation {
  readonly command: 'init' | 'refresh' | 'download' | 'help'
  readonly positional: readonly string[]
  readonly metadataDir?: string
  readonly metadataUrl?: string
  readonly targetNames: readonly string[]
  readonly targetDir?: string
  readonly targetBaseUrl?: string
}

const VALUE_OPTIONS = new Set(['--metadata-dir', '--metadata-url', '--target-name', '--target-dir', '--target-base-url'])

/** @throws {TufClientUsageError} */
function parseArgs(argv: readonly string[]): Invocation {
  const values = new Map<string, string[]>()
  let index = 0
  for (; index < argv.length; index++) {
    const arg = argv[index] ?? ''
    if (arg === '--help' || arg === '-h') return { command: 'help', positional: [], targetNames: [] }
    if (!arg.startsWith('-')) break
    const equals = arg.indexOf('=')
    const name = equals === -1 ? arg : arg.slice(0, equals)
    if (!VALUE_OPTIONS.has(name)) throw new TufClientUsageError(`unknown option ${JSON.stringify(arg)}`)
    const value = equals === -1 ? argv[++index] : arg.slice(equals + 1)
    if (value === undefined) throw new TufClientUsageError(`option ${name} needs a value`)
    values.set(name, [...(values.get(name) ?? []), value])
  }
  const command = argv[index]
  const positional = argv.slice(index + 1)
  if (command !== 'init' && command !== 'refresh' && command !== 'download') {
    throw new TufClientUsageError(command === undefined ? 'no command given (init, refresh or download)' : `unknown command ${JSON.stringify(command)}`)
  }
  const single = (name: string): string | undefined => {
    const given = values.get(name)
    if (given && given.length > 1) throw new TufClientUsageError(`option ${name} given more than once`)
    return given?.[0]
  }
  const invocation: Invocation = { command, positional, targetNames: values.get('--target-name') ?? [] }
  const metadataDir = single('--metadata-dir')
  const metadataUrl = single('--metadata-url')
  const targetDir = single('--target-dir')
  const targetBaseUrl = single('--target-base-url')
  return {
    ...invocation,
    ...(metadataDir === undefined ? {} : { metadataDir }),
    ...(metadataUrl === undefined ? {} : { metadataUrl }),
    ...(targetDir === undefined ? {} : { targetDir }),
    ...(targetBaseUrl === undefined ? {} : { targetBaseUrl }),
  }
}

/** @throws {TufClientUsageError} */
function required(value: string | undefined, option: string, command: string): string {
  if (value === undefined || value === '') throw new TufClientUsageError(`${command} needs ${option}`)
  return value
}

/** The `host[:port]` of an http(s) URL, for the upstream allowlist. @throws {TufClientUsageError} */
function hostOf(url: string, option: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TufClientUsageError(`${option} is not an absolute URL: ${JSON.stringify(url)}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TufClientUsageError(`${option} must be an http or https URL`)
  return parsed.host
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}

function createClient(urls: ReadonlyArray<readonly [string, string]>): UpstreamClient {
  return createUpstreamClient({
    allowedHosts: [...new Set(urls.map(([url, option]) => hostOf(url, option)))],
    connectTimeoutMs: TIMEOUT_MS,
    headersTimeoutMs: TIMEOUT_MS,
    bodyTimeoutMs: TIMEOUT_MS,
    deadlineMs: DEADLINE_MS,
    minBytesPerSecond: MIN_BYTES_PER_SECOND,
    rateWindowMs: TIMEOUT_MS,
    maxRedirects: 5,
    userAgent: 'tuf-proxy-tuf-client/0.1',
  })
}

async function openSession(metadataUrl: string, metadataDir: string, upstream: UpstreamClient): Promise<TufSession> {
  return TufSession.open({
    metadataBaseUrl: withSlash(metadataUrl),
    fetcher: { fetch: async (url, maxBytes) => (await upstream.getBytes(url, { maxBytes })).body },
    store: await openMetadataDir(metadataDir),
    clock: systemClock,
    // TUF 5.3.3: the next root "does not exist"; 403 too, as static hosts (S3) answer it for missing keys
    isNotFound: (error) => error instanceof UpstreamHttpError && (error.status === 403 || error.status === 404),
  })
}

function isCached(info: TargetFile, bytes: Uint8Array | undefined): boolean {
  if (!bytes) return false
  try {
    verifyTargetBytes(info, bytes)
    return true
  } catch (error) {
    if (error instanceof TrustError) return false
    throw error
  }
}

async function init(invocation: Invocation): Promise<void> {
  const metadataDir = required(invocation.metadataDir, '--metadata-dir', 'init')
  const [rootFile, ...extra] = invocation.positional
  if (rootFile === undefined || extra.length > 0) throw new TufClientUsageError('init takes exactly one argument, the trusted root file')
  let rootBytes: Uint8Array
  try {
    rootBytes = await readFile(rootFile)
  } catch (error) {
    throw new ClientDirError(`cannot read the trusted root ${rootFile}: ${describeError(error)}`, { cause: error })
  }
  await installTrustedRoot(metadataDir, rootBytes)
}

async function refresh(invocation: Invocation): Promise<void> {
  const metadataUrl = required(invocation.metadataUrl, '--metadata-url', 'refresh')
  const metadataDir = required(invocation.metadataDir, '--metadata-dir', 'refresh')
  if (invocation.positional.length > 0) throw new TufClientUsageError('refresh takes no arguments')
  const upstream = createClient([[metadataUrl, '--metadata-url']])
  try {
    const session = await openSession(metadataUrl, metadataDir, upstream)
    await session.refresh()
  } finally {
    await upstream.close()
  }
}

/** One session for all targets, in argument order, stopping at the first failure (TUF 5.7). */
async function download(invocation: Invocation): Promise<void> {
  const metadataUrl = required(invocation.metadataUrl, '--metadata-url', 'download')
  const metadataDir = required(invocation.metadataDir, '--metadata-dir', 'download')
  const targetDirPath = required(invocation.targetDir, '--target-dir', 'download')
  const targetBaseUrl = withSlash(required(invocation.targetBaseUrl, '--target-base-url', 'download'))
  if (invocation.targetNames.length === 0) throw new TufClientUsageError('download needs at least one --target-name')
  if (invocation.positional.length > 0) throw new TufClientUsageError('download takes no arguments')
  const upstream = createClient([
    [metadataUrl, '--metadata-url'],
    [targetBaseUrl, '--target-base-url'],
  ])
  try {
    const targetDir = await openTargetDir(targetDirPath)
    const session = await openSession(metadataUrl, metadataDir, upstream)
    for (const name of invocation.targetNames) {
      const info = await session.findTarget(name)
      if (!info) throw new RepositoryError(`no trusted targets role lists ${JSON.stringify(name)}`, 'unknown_target')
      if (isCached(info, await targetDir.readCached(info.path, info.length))) continue
      const { body } = await upstream.getBytes(targetBaseUrl + session.targetDownloadPath(info), { maxBytes: info.length })
      // TUF 5.7.3: verify before writing, so a bad download never replaces a good file
      verifyTargetBytes(info, body)
      await targetDir.write(info.path, body)
    }
  } finally {
    await upstream.close()
  }
}

/**
 * Runs one tuf-client invocation. Never throws: every failure becomes exit status 1 and one
 * line on stderr.
 */
export async function runTufClient(argv: readonly string[]): Promise<number> {
  try {
    const invocation = parseArgs(argv)
    switch (invocation.command) {
      case 'help':
        process.stdout.write(USAGE)
        return 0
      case 'init':
        await init(invocation)
        return 0
      case 'refresh':
        await refresh(invocation)
        return 0
      case 'download':
        await download(invocation)
        return 0
    }
  } catch (error) {
    const hint = error instanceof TufClientUsageError ? " (see 'tuf-proxy tuf-client --help')" : ''
    process.stderr.write(`tuf-client: ${errorCode(error)}: ${describeError(error).replace(/\s+/g, ' ')}${hint}\n`)
    return 1
  }
}
