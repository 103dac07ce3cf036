/**
 * `tuf-proxy cache list|purge PROJECT [--forget-owner]|verify [--repair] [--cache-dir DIR] [--json]`:
 * the cache directory seen and cleaned from the command line (the admin API does the same on a
 * running proxy). Output is for people on a terminal and JSON lines otherwise (or with --json).
 * The pages of every source found in the directory (`sources:`: one records namespace each) are
 * listed and purged, with each project's owning source.
 *
 * It may run beside a proxy that uses the same directory: it opens the stores without sweeping
 * their temp files (downloads in progress) and counts no use of any blob. A purge or a repair
 * removes files under the running proxy, which then fetches them again; pages the proxy holds in
 * memory stay until their TTL, and owners it knows until it restarts, so on a running proxy the
 * admin API's purge is the one to use.
 *
 * Exit status: 0 done; 1 `verify` found a blob whose bytes do not match its address (repaired or
 * not), or the directory could not be read; 2 bad usage or no cache directory there.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createJsonLogger, describeError } from '../base/index.js'
import { isValidProjectName, normalizeName } from '../index/index.js'
import { CacheAdmin, pageSpacesOf, projectReport, type CachedProject } from '../mirror/index.js'
import { openBlobStore, openRecordStore } from '../store/index.js'
import { defaultCacheDir } from './serve.js'

const USAGE = `Usage: tuf-proxy cache <command> [--cache-dir DIR] [--json]

Commands:
  list               the cached projects: their pages and files, sizes and last use
  purge PROJECT      remove a project's pages (of every source) and files (fetched and verified again when
                     next asked for); with sources:, its owning source is kept unless --forget-owner
  verify [--repair]  re-hash every blob and report those whose bytes no longer match their address;
                     --repair removes them and the records that point at them

Options:
  --cache-dir DIR    the proxy's cache directory (default: TUF_PROXY_CACHE_DIR, else <user cache dir>/tuf-proxy)
  --json             JSON lines, also the default when stdout is not a terminal
  --forget-owner     with purge: forget which source owns the project too, so the next request asks
                     the sources again in order (how a project moves to another source)

Exit status: 0 done; 1 verify found a damaged blob, or the cache could not be read; 2 bad usage.
`

interface Invocation {
  readonly command: 'list' | 'purge' | 'verify'
  readonly project: string | undefined
  readonly cacheDir: string
  readonly isJson: boolean
  readonly repair: boolean
  readonly forgetOwner: boolean
}

class UsageError extends Error {}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv, isTty: boolean): Invocation | 'help' {
  const positional: string[] = []
  let cacheDir: string | undefined
  let isJson = !isTty
  let repair = false
  let forgetOwner = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--help' || arg === '-h') return 'help'
    else if (arg === '--json') isJson = true
    else if (arg === '--repair') repair = true
    else if (arg === '--forget-owner') forgetOwner = true
    else if (arg === '--cache-dir' || arg.startsWith('--cache-dir=')) {
      cacheDir = arg === '--cache-dir' ? argv[++i] : arg.slice('--cache-dir='.length)
      if (cacheDir === undefined || cacheDir === '' || cacheDir.startsWith('--')) throw new UsageError('--cache-dir needs a directory')
    } else if (arg.startsWith('-')) throw new UsageError(`unknown flag ${arg}`)
    else positional.push(arg)
  }
  const [command, ...rest] = positional
  if (command !== 'list' && command !== 'purge' && command !== 'verify') {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`)
  }
  if (command === 'purge' ? rest.length !== 1 : rest.length !== 0) {
    throw new UsageError(command === 'purge' ? 'purge takes one project name' : `unexpected argument ${JSON.stringify(rest[0])}`)
  }
  if (repair && command !== 'verify') throw new UsageError('--repair goes with verify')
  if (forgetOwner && command !== 'purge') throw new UsageError('--forget-owner goes with purge')
  const envDir = env.TUF_PROXY_CACHE_DIR?.trim()
  return { command, project: rest[0], cacheDir: cacheDir ?? (envDir ? envDir : defaultCacheDir(env)), isJson, repair, forgetOwner }
}

export async function runCache(argv: readonly string[]): Promise<number> {
  let invocation: Invocation | 'help'
  try {
    invocation = parse(argv, process.env, process.stdout.isTTY === true)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`tuf-proxy cache: ${error.message}\n\n${USAGE}`)
    return 2
  }
  if (invocation === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  const { cacheDir } = invocation
  if (!existsSync(join(cacheDir, 'blobs')) && !existsSync(join(cacheDir, 'records'))) {
    process.stderr.write(`tuf-proxy cache: no tuf-proxy cache in ${cacheDir} (give the proxy's --cache-dir)\n`)
    return 2
  }
  const out = (line: string) => process.stdout.write(`${line}\n`)
  const logger = createJsonLogger({ write: (line) => process.stderr.write(line), level: 'warn' })
  try {
    const blobs = await openBlobStore({ dir: join(cacheDir, 'blobs'), maxBytes: Infinity, sweepTemps: false, logger })
    const records = await openRecordStore({ dir: join(cacheDir, 'records'), sweepTemps: false, logger })
    const admin = new CacheAdmin({ blobs, records, pageSpaces: pageSpacesOf(recordNamespaces(join(cacheDir, 'records'))), logger })
    switch (invocation.command) {
      case 'list':
        return await list(admin, invocation.isJson, out)
      case 'purge':
        return await purge(admin, { name: invocation.project ?? '', forgetOwner: invocation.forgetOwner, isJson: invocation.isJson }, out)
      case 'verify':
        return await verify(admin, invocation.repair, invocation.isJson, out)
    }
  } catch (error) {
    process.stderr.write(`tuf-proxy cache: ${describeError(error)}\n`)
    return 1
  }
}

async function list(admin: CacheAdmin, isJson: boolean, out: (line: string) => void): Promise<number> {
  const listing = await admin.list()
  if (isJson) {
    for (const project of listing.projects) out(JSON.stringify(projectReport(project)))
    return 0
  }
  if (listing.projects.length === 0) out('no project is cached')
  else {
    // The owner column only where ownership is recorded (a cache used with sources:).
    const hasOwners = listing.projects.some((project) => project.owner !== undefined)
    const rows = [
      ['PROJECT', ...(hasOwners ? ['OWNER'] : []), 'PAGES', 'FILES', 'SIZE', 'LAST USED'],
      ...listing.projects.map((project) => [project.project, ...(hasOwners ? [project.owner ?? '-'] : []), String(project.pages.length), String(project.files.length), humanBytes(project.bytes), lastUsed(project)]),
    ]
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? []
    for (const row of rows) out(row.map((cell, i) => cell.padEnd((widths[i] ?? 0) + 2)).join('').trimEnd())
  }
  out(`${listing.blobs.count} blobs, ${humanBytes(listing.blobs.bytes)} in all`)
  return 0
}

async function purge(admin: CacheAdmin, request: { name: string; forgetOwner: boolean; isJson: boolean }, out: (line: string) => void): Promise<number> {
  const { name, forgetOwner, isJson } = request
  if (!isValidProjectName(name)) {
    process.stderr.write(`tuf-proxy cache: ${JSON.stringify(name)} is not a valid project name\n`)
    return 2
  }
  const result = await admin.purge(normalizeName(name), { forgetOwner })
  if (isJson) out(JSON.stringify(result))
  else out(`purged ${result.project}: ${plural(result.pages, 'page')}, ${plural(result.files, 'file')}, ${humanBytes(result.bytes)}${result.ownerForgotten === undefined ? '' : `; owner ${result.ownerForgotten} forgotten`}`)
  return 0
}

/** The records namespaces in the cache's records directory (one per source with sources:); none when it is missing. */
function recordNamespaces(recordsDir: string): string[] {
  try {
    return readdirSync(recordsDir)
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return []
    throw error
  }
}

async function verify(admin: CacheAdmin, repair: boolean, isJson: boolean, out: (line: string) => void): Promise<number> {
  let checked = 0
  let damaged = 0
  for await (const verdict of admin.verify({ repair })) {
    checked += 1
    if (verdict.isIntact) continue
    damaged += 1
    if (isJson) out(JSON.stringify(verdict))
    else out(`damaged ${verdict.sha256} (${humanBytes(verdict.size)}): ${verdict.reason}${verdict.actualSha256 ? `, its bytes hash to ${verdict.actualSha256}` : ''}${verdict.isRemoved ? `; removed with ${plural(verdict.recordsRemoved, 'record')}` : ''}`)
  }
  if (isJson) out(JSON.stringify({ checked, damaged, repaired: repair ? damaged : 0 }))
  else out(`checked ${plural(checked, 'blob')}: ${damaged === 0 ? 'all intact' : `${damaged} damaged${repair ? ', removed' : ' (run verify --repair to remove them)'}`}`)
  return damaged === 0 ? 0 : 1
}

function lastUsed(project: CachedProject): string {
  return project.lastUsedMs === undefined ? '-' : new Date(project.lastUsedMs).toISOString().replace(/\.\d+Z$/, 'Z')
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** 1024-based units, as --cache-max-bytes takes them. */
function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
