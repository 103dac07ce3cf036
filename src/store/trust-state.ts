/**
 * The persisted TUF metadata (root, timestamp, snapshot, targets, delegated roles) under plain
 * file names, so an operator can inspect it. Only bytes the trust engine accepted should be
 * written here; that is the caller's rule (python-tuf `_persist_metadata`).
 *
 * Roots (`root.json`, `N.root.json`) sit in the directory itself. Everything else forms one set
 * that must verify together, so it lives in a set directory (`set-<id>/`) named by the `CURRENT`
 * file, and a new set replaces the old one by one atomic rename of `CURRENT`.
 *
 * Role names come from signed-but-remote metadata (delegations), so a name is used verbatim only
 * when it is plainly safe; anything else is percent-encoded byte by byte. The mapping is
 * injective: plain names never contain "%" nor start with "-" or "."; encoded names either
 * contain "%" or start with "-"; temp names start with ".".
 */
import { randomBytes } from 'node:crypto'
import { copyFile, link, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Logger, silentLogger } from '../base/index.js'
import { removeStaleTemps, writeFileAtomic } from './atomic-file.js'
import { ensureRealDir } from './cache-dirs.js'
import { errnoCode, StoreError, toStoreError } from './errors.js'

export interface TrustStateStore {
  /** @throws {StoreError} for an unusable name or a disk error. */
  read(name: string): Promise<Uint8Array | undefined>
  /** Atomic and fsynced: a root, or a file added to the current set. @throws {StoreFullError} / {StoreError} */
  write(name: string, bytes: Uint8Array): Promise<void>
  /**
   * Replaces the non-root files with `files`, as one: they go to a new set directory, with the
   * old set's other files linked in beside them (a cache of delegated roles, which the TUF
   * client verifies before any use), and one atomic rename of `CURRENT` puts it in force, so
   * after a crash at any moment the store holds the old set or the new one, never a mix.
   * @throws {StoreFullError} / {StoreError}; the set in force is then unchanged
   */
  writeSet(files: ReadonlyMap<string, Uint8Array>): Promise<void>
  remove(name: string): Promise<void>
  /**
   * The file as in the set in force on disk now, which another process sharing the directory
   * may have put there since this store opened (`read` keeps to the set this store knows).
   * Bytes to verify before any use, like every stored file. @throws {StoreError}
   */
  readInForce(name: string): Promise<Uint8Array | undefined>
}

const ROOT_NAME = /^(\d+\.)?root\.json$/
const CURRENT_FILE = 'CURRENT'
const SET_PREFIX = 'set-'
const SET_NAME = /^set-[0-9a-f]{12}$/
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
export async function openTrustStateStore(options: { dir: string; logger?: Logger; sweepTemps?: boolean }): Promise<TrustStateStore> {
  const { dir } = options
  // False for a reader beside a running proxy (`mirror --from-cache`): its temp files are writes in progress.
  const sweepTemps = options.sweepTemps ?? true
  let current: string | undefined
  try {
    await mkdir(dirname(dir), { recursive: true })
    await ensureRealDir(dir, options.logger ?? silentLogger)
    if (sweepTemps) await removeStaleTemps(dir)
    current = await readCurrent(dir)
    if (current !== undefined && sweepTemps) await removeStaleTemps(join(dir, current))
  } catch (error) {
    throw toStoreError(error, `opening the trust state in ${dir}`)
  }
  /** Roots stay in `dir`: their history only grows. The rest lives in the current set. */
  const dirOf = (name: string): string => (ROOT_NAME.test(name) || current === undefined ? dir : join(dir, current))
  return {
    async read(name) {
      const path = join(dirOf(name), trustFileName(name))
      try {
        return await readFile(path)
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return undefined
        throw toStoreError(error, `reading ${path}`)
      }
    },
    // fsync: this is the local root of trust; a torn root.json after a power cut would need re-bootstrapping.
    async write(name, bytes) {
      try {
        await writeFileAtomic({ dir: dirOf(name), name: trustFileName(name), bytes, fsync: true })
      } catch (error) {
        // Another writer of the same directory put a newer set in force and removed ours: the
        // file joins the set now in force (it is verified before any use, like every role file).
        const isSetGone = !ROOT_NAME.test(name) && current !== undefined && errnoCode(error instanceof Error ? error.cause : undefined) === 'ENOENT'
        if (!isSetGone) throw error
        current = await readCurrent(dir)
        await writeFileAtomic({ dir: dirOf(name), name: trustFileName(name), bytes, fsync: true })
      }
    },
    async writeSet(files) {
      const next = `${SET_PREFIX}${randomBytes(6).toString('hex')}`
      const setDir = join(dir, next)
      try {
        await mkdir(setDir)
        const written = new Set<string>()
        for (const [name, bytes] of files) {
          if (ROOT_NAME.test(name)) throw new TypeError(`a root is not part of the metadata set: ${name}`)
          written.add(trustFileName(name))
          await writeFileAtomic({ dir: setDir, name: trustFileName(name), bytes, fsync: true })
        }
        await carryOver(current === undefined ? dir : join(dir, current), setDir, written)
        // The switch is this one rename: before it the old set is in force, after it the new one.
        await writeFileAtomic({ dir, name: CURRENT_FILE, bytes: Buffer.from(`${next}\n`), fsync: true })
      } catch (error) {
        await rm(setDir, { recursive: true, force: true }).catch(() => undefined)
        throw toStoreError(error, `writing the TUF metadata set ${setDir}`)
      }
      current = next
      await removeOldSets(dir, next)
    },
    async readInForce(name) {
      let inForce: string | undefined
      try {
        inForce = await readCurrent(dir)
      } catch (error) {
        throw toStoreError(error, `reading ${join(dir, CURRENT_FILE)}`)
      }
      const path = join(ROOT_NAME.test(name) || inForce === undefined ? dir : join(dir, inForce), trustFileName(name))
      try {
        return await readFile(path)
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return undefined
        throw toStoreError(error, `reading ${path}`)
      }
    },
    async remove(name) {
      const path = join(dirOf(name), trustFileName(name))
      try {
        await rm(path, { force: true })
      } catch (error) {
        throw toStoreError(error, `removing ${path}`)
      }
    },
  }
}

/** The set in force, named by `CURRENT`; undefined before the first set (every file then sits in `dir`). */
async function readCurrent(dir: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, CURRENT_FILE), 'utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw error
  }
  const name = text.trim()
  if (!SET_NAME.test(name)) throw new StoreError(`${join(dir, CURRENT_FILE)} does not name a metadata set (${JSON.stringify(name.slice(0, 40))}); remove it to start afresh`)
  return name
}

/** Links the old set's role files that the new set does not replace into it (copies across devices). */
async function carryOver(fromDir: string, toDir: string, replaced: ReadonlySet<string>): Promise<void> {
  for (const entry of await readdir(fromDir, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.json') || ROOT_NAME.test(entry.name) || replaced.has(entry.name)) continue
    await link(join(fromDir, entry.name), join(toDir, entry.name)).catch(() => copyFile(join(fromDir, entry.name), join(toDir, entry.name)))
  }
}

/** Earlier sets, and the non-root files of the layout before sets, once a newer set is in force. */
async function removeOldSets(dir: string, keep: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const isOldSet = entry.isDirectory() && SET_NAME.test(entry.name) && entry.name !== keep
    const isLegacyFile = entry.isFile() && entry.name.endsWith('.json') && !ROOT_NAME.test(entry.name)
    if (isOldSet || isLegacyFile) await rm(join(dir, entry.name), { recursive: true, force: true }).catch(() => undefined)
  }
}
