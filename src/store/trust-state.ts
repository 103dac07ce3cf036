/**
 * The persisted TUF metadata (root, timestamp, snapshot, targets, delegated roles) in one
 * directory under plain file names, so an operator can inspect it. Only bytes the trust engine
 * accepted should be written here; that is the caller's rule (python-tuf `_persist_metadata`).
 *
 * Role names come from signed-but-remote metadata (delegations), so a name is used verbatim only
 * when it is plainly safe; anything else is percent-encoded byte by byte. The mapping is
 * injective: plain names never contain "%" nor start with "-" or "."; encoded names either
 * contain "%" or start with "-"; temp names start with ".".
 */
import { mkdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Logger, silentLogger } from '../base/index.js'
import { removeStaleTemps, writeFileAtomic } from './atomic-file.js'
import { ensureRealDir } from './cache-dirs.js'
import { errnoCode, StoreError, toStoreError } from './errors.js'

export interface TrustStateStore {
  /** @throws {StoreError} for an unusable name or a disk error. */
  read(name: string): Promise<Uint8Array | undefined>
  /** Atomic and fsynced. @throws {StoreFullError} / {StoreError} */
  write(name: string, bytes: Uint8Array): Promise<void>
  remove(name: string): Promise<void>
}

const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/
const UNRESERVED = /^[A-Za-z0-9_-]$/
const MAX_FILE_NAME_BYTES = 255

/** The file name for a metadata name. @throws {StoreError} when empty or longer than 255 bytes once encoded. */
export function trustFileName(name: string): string {
  let fileName = name
  if (!(PLAIN.test(name) && !name.includes('..'))) {
    fileName = ''
    for (const byte of Buffer.from(name, 'utf8')) {
      const char = String.fromCharCode(byte)
      fileName += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  if (fileName === '' || Buffer.byteLength(fileName) > MAX_FILE_NAME_BYTES) {
    throw new StoreError(`cannot store TUF metadata named ${JSON.stringify(name.slice(0, 64))}: its file name would be empty or over ${MAX_FILE_NAME_BYTES} bytes`)
  }
  return fileName
}

/**
 * Opens the trust-state directory, removing temp files left by a crash. The directory itself must
 * not be a symlink (it is replaced, see cache-dirs.ts), so the sweep never reaches elsewhere.
 * @throws {StoreError} when the directory cannot be created or read.
 */
export async function openTrustStateStore(options: { dir: string; logger?: Logger }): Promise<TrustStateStore> {
  const { dir } = options
  try {
    await mkdir(dirname(dir), { recursive: true })
    await ensureRealDir(dir, options.logger ?? silentLogger)
    await removeStaleTemps(dir)
  } catch (error) {
    throw toStoreError(error, `opening the trust state in ${dir}`)
  }
  return {
    async read(name) {
      const path = join(dir, trustFileName(name))
      try {
        return await readFile(path)
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return undefined
        throw toStoreError(error, `reading ${path}`)
      }
    },
    // fsync: this is the local root of trust; a torn root.json after a power cut would need re-bootstrapping.
    async write(name, bytes) {
      await writeFileAtomic({ dir, name: trustFileName(name), bytes, fsync: true })
    },
    async remove(name) {
      const path = join(dir, trustFileName(name))
      try {
        await rm(path, { force: true })
      } catch (error) {
        throw toStoreError(error, `removing ${path}`)
      }
    },
  }
}
