/**
 * `tuf-proxy import BUNDLE --cache-dir DIR [--tuf-root FILE] [--partial]`: verifies a bundle and adds it to a cache
 * directory that `serve` (with or without `--offline`) then serves. Run it while no `serve` uses
 * the directory: the blob store belongs to one process at a time. Exit codes: 0 everything
 * verified and was added, 1 something was refused (each problem listed; nothing added unless
 * `--partial`), 2 usage error.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeError, systemClock } from '../base/index.js'
import { importBundle, openBundle, type BundleSource, type ImportTuf } from '../bundle/index.js'
import { ConfigError } from '../config/index.js'
import { openBlobStore, openRecordStore, openTrustStateStore } from '../store/index.js'
import { splitArgs, valueOf } from './bundle-args.js'
import { commitOfflineTrust, trustStateDir } from './offline-trust.js'
import { createProgress } from './progress.js'

const IMPORT_FLAGS = {
  'cache-dir': { kind: 'value' },
  partial: { kind: 'bool' },
  'tuf-root': { kind: 'value' },
} as const

export const IMPORT_USAGE = `Usage: tuf-proxy import BUNDLE --cache-dir DIR [--tuf-root FILE] [--partial]

Verifies every byte of BUNDLE (a directory or .tar written by 'tuf-proxy mirror') and adds it to the
cache directory DIR, which 'tuf-proxy serve --offline --cache-dir DIR' then serves.

  --cache-dir DIR   the cache directory to add to (created if absent; no serve may be using it)
  --tuf-root FILE   the root.json you trust, obtained out of band: a bundle made in verifying mode is
                    checked against it (never against a root that came with the bundle); the cache
                    then records the verified state, and 'serve --offline' needs no TUF flags
  --partial         add what verifies even when something is refused

Exit codes: 0 everything verified and was added, 1 something was refused (listed), 2 usage error.
`

export async function runImport(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(IMPORT_USAGE)
    return 0
  }
  let bundlePath: string
  let cacheDir: string
  let partial: boolean
  let rootFile: string | undefined
  try {
    const args = splitArgs(argv, IMPORT_FLAGS)
    if (args.rest.length > 0) throw new ConfigError(`unknown flag ${args.rest[0] ?? ''}`)
    if (args.positional.length !== 1) throw new ConfigError('give exactly one BUNDLE')
    bundlePath = args.positional[0] ?? ''
    const dir = valueOf(args, 'cache-dir')
    if (!dir) throw new ConfigError('--cache-dir DIR is required')
    cacheDir = dir
    partial = args.own.get('partial') === true
    rootFile = valueOf(args, 'tuf-root')
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`tuf-proxy import: ${error.message}\nRun 'tuf-proxy import --help' for the flags.\n`)
    return 2
  }
  let source: BundleSource
  try {
    source = await openBundle(bundlePath)
  } catch (error) {
    process.stderr.write(`tuf-proxy import: refused ${bundlePath} (manifest_invalid): cannot read the bundle (${describeError(error)})\nnothing was added\n`)
    return 1
  }
  let tuf: ImportTuf | undefined
  if (rootFile !== undefined) {
    let trustedRoot: Uint8Array
    try {
      trustedRoot = readFileSync(rootFile)
    } catch (error) {
      process.stderr.write(`tuf-proxy import: --tuf-root ${rootFile}: cannot read the file (${describeError(error)})\n`)
      return 2
    }
    const earlier = await openTrustStateStore({ dir: trustStateDir(cacheDir) })
    tuf = { trustedRoot, clock: systemClock, limits: {}, earlier: (name) => earlier.read(name) }
  }
  // No sync per blob: importBundle syncs them all in one pass before any record points at them.
  const blobs = await openBlobStore({ dir: join(cacheDir, 'blobs'), maxBytes: Infinity, fsync: false })
  const records = await openRecordStore({ dir: join(cacheDir, 'records') })
  const progress = createProgress(process.stdout, () => Date.now())
  const startedMs = Date.now()
  const result = await importBundle(source, { partial, ...(tuf ? { tuf } : {}) }, {
    blobs,
    records,
    nowMs: () => Date.now(),
    commitTrust: (trust) => commitOfflineTrust(cacheDir, trust),
    onItem: (entry, verdict) => progress.item({ status: verdict, kind: entry.kind, project: entry.project, name: entry.name, size: entry.size, sha256: entry.sha256 }),
  })
  await blobs.flush()
  for (const problem of result.problems) progress.refused(problem.path, problem.code, problem.detail)
  progress.done({ bundle: bundlePath, cacheDir, pages: result.pages, files: result.files, bytes: result.bytes, refused: result.problems.length, seconds: (Date.now() - startedMs) / 1000 })
  for (const problem of result.problems) process.stderr.write(`tuf-proxy import: refused ${problem.path} (${problem.code}): ${problem.detail}\n`)
  if (result.problems.length > 0) process.stderr.write(partial ? 'tuf-proxy import: --partial: what verified was added\n' : 'tuf-proxy import: nothing was added\n')
  return result.problems.length === 0 ? 0 : 1
}
