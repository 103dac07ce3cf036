/**
 * The two directories of `tuf-proxy tuf-client` as the TUF conformance suite lays them out: the
 * metadata dir (plain names handed over by TufSession, e.g. `root.json`, `%3F.json`, stored
 * byte for byte) and the target dir (one stable file per target path). Writes are temp file +
 * rename (store/'s writeFileAtomic), so a reader sees the old file or the new one; temp names
 * start with "." and end in ".tmp", which the suite ignores (it counts `*.json` and reads
 * non-hidden files) and which are swept on open.
 *
 * Deliberately not store/'s trust-state store: its name encoding would re-encode the already
 * quoted role names (`%3F.json` → `%253F%2Ejson`), and the suite expects `<quoted role>.json`.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ProxyError } from '../base/index.js'
import { isTempName, removeStaleTemps, writeFileAtomic } from '../store/index.js'
import { quoteRoleName } from '../trust/index.js'
import type { MetadataStore } from '../tuf-client/index.js'

/** The local disk refused a read or write of the client's directories. */
export class ClientDirError extends ProxyError {
  readonly code = 'local_disk'
  readonly fault = 'storage'
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * A single file name for `name` in a directory: refuses anything that could leave the directory
 * or be taken for a temp file. A leading "." is fine: `..%2Fx.json` is the role `../x`.
 * @throws {ClientDirError}
 */
function checkedFileName(name: string): string {
  if (name === '' || name === '.' || name === '..' || isTempName(name) || /[/\\\0]/.test(name)) {
    throw new ClientDirError(`refusing to use ${JSON.stringify(name.slice(0, 64))} as a file name`)
  }
  return name
}

/** Removes temp files left by a crashed run. @throws {ClientDirError} when `dir` cannot be listed */
async function sweepTemps(dir: string): Promise<void> {
  try {
    await removeStaleTemps(dir)
  } catch (error) {
    throw new ClientDirError(`cannot read the directory ${dir}: ${describe(error)}`, { cause: error })
  }
}

async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw new ClientDirError(`cannot read ${path}: ${describe(error)}`, { cause: error })
  }
}

/**
 * The metadata dir as TufSession's store. Files are fsynced: `root.json` is the local root of
 * trust, and a torn one would need a new `init`.
 * @throws {ClientDirError} when the directory cannot be listed
 */
export async function openMetadataDir(dir: string): Promise<MetadataStore> {
  await sweepTemps(dir)
  return {
    read: (name) => readIfPresent(join(dir, checkedFileName(name))),
    write: (name, bytes) => writeFileAtomic({ dir, name: checkedFileName(name), bytes, fsync: true }),
  }
}

/**
 * Installs the trusted root for `init`: a plain copy, no checks (the first refresh verifies it
 * against itself before any request, TUF 5.2).
 * @throws {ClientDirError}
 */
export async function installTrustedRoot(dir: string, rootBytes: Uint8Array): Promise<void> {
  await writeFileAtomic({ dir, name: 'root.json', bytes: rootBytes, fsync: true })
}

/**
 * The file name of a target path in the target dir: percent-encoded with no safe characters
 * besides `A-Za-z0-9_.-~` (python-tuf's `quote(path, "")`), so `a/b` and `../x` stay one file
 * inside the dir, and a leading "." is encoded too, so no target is hidden or taken for a temp file.
 */
export function targetFileName(path: string): string {
  const quoted = quoteRoleName(path)
  return quoted.startsWith('.') ? `%2E${quoted.slice(1)}` : quoted
}

export interface TargetDir {
  /** The bytes stored for `path` if its size is `length`, else undefined (cheap check before hashing). */
  readCached(path: string, length: number): Promise<Uint8Array | undefined>
  /** Replaces the file of `path` atomically. */
  write(path: string, bytes: Uint8Array): Promise<void>
}

/** @throws {ClientDirError} when the directory cannot be listed */
export async function openTargetDir(dir: string): Promise<TargetDir> {
  await sweepTemps(dir)
  return {
    async readCached(path, length) {
      const file = join(dir, checkedFileName(targetFileName(path)))
      try {
        const info = await stat(file)
        if (!info.isFile() || info.size !== length) return undefined
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return undefined
        throw new ClientDirError(`cannot read ${file}: ${describe(error)}`, { cause: error })
      }
      return readIfPresent(file)
    },
    // Not fsynced: a target lost in a power cut is simply downloaded again.
    write: (path, bytes) => writeFileAtomic({ dir, name: checkedFileName(targetFileName(path)), bytes, fsync: false }),
  }
}
