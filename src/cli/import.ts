/**
 * `tuf-proxy import BUNDLE --cache-dir DIR [--partial]`: verifies a bundle and adds it to a cache
 * directory that `serve` (with or without `--offline`) then serves. Run it while no `serve` uses
 * the directory: the blob store belongs to one process at a time. Exit codes: 0 everything
 * verified and was added, 1 something was refused (each problem listed; nothing added unless
 * `--partial`), 2 usage error.
 */
import { join } from 'node:path'
import { describeError } from '../base/index.js'
import { importBundle, openBundle, type BundleSource } from '../bundle/index.js'
import { ConfigError } from '../config/index.js'
import { openBlobStore, openRecordStore } from '../store/index.js'
import { splitArgs, valueOf } from './bundle-args.js'
import { createProgress } from './progress.js'

const IMPORT_FLAGS = {
  'cache-dir': { kind: 'value' },
  partial: { kind: 'bool' },
} as const

export const IMPORT_USAGE = `Usage: tuf-proxy import BUNDLE --cache-dir DIR [--partial]

Verifies every byte of BUNDLE (a directory or .tar written by 'tuf-proxy mirror') and adds it to the
cache directory DIR, which 'tuf-proxy serve --offline --cache-dir DIR' then serves.

  --cache-dir DIR   the cache directory to add to (created if absent; no serve may be using it)
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
  try {
    const args = splitArgs(argv, IMPORT_FLAGS)
    if (args.rest.length > 0) throw new ConfigError(`unknown flag ${args.rest[0] ?? ''}`)
    if (args.positional.length !== 1) throw new ConfigError('give exactly one BUNDLE')
    bundlePath = args.positional[0] ?? ''
    const dir = valueOf(args, 'cache-dir')
    if (!dir) throw new ConfigError('--cache-dir DIR is required')
    cacheDir = dir
    partial = args.own.get('partial') === true
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
  const blobs = await openBlobStore({ dir: join(cacheDir, 'blobs'), maxBytes: Infinity })
  const records = await openRecordStore({ dir: join(cacheDir, 'records') })
  const progress = createProgress(process.stdout, () => Date.now())
  const startedMs = Date.now()
  const result = await importBundle(source, { partial }, {
    blobs,
    records,
    nowMs: () => Date.now(),
    onItem: (entry, verdict) => progress.item({ status: verdict, kind: entry.kind, project: entry.project, name: entry.name, size: entry.size, sha256: entry.sha256 }),
  })
  await blobs.flush()
  for (const problem of result.problems) progress.refused(problem.path, problem.code, problem.detail)
  progress.done({ bundle: bundlePath, cacheDir, pages: result.pages, files: result.files, bytes: result.bytes, refused: result.problems.length, seconds: (Date.now() - startedMs) / 1000 })
  for (const problem of result.problems) process.stderr.write(`tuf-proxy import: refused ${problem.path} (${problem.code}): ${problem.detail}\n`)
  if (result.problems.length > 0) process.stderr.write(partial ? 'tuf-proxy import: --partial: what verified was added\n' : 'tuf-proxy import: nothing was added\n')
  return result.problems.length === 0 ? 0 : 1
}
