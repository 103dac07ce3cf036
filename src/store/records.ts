/**
 * Small JSON records kept per (namespace, key): page metadata such as ETag, serial, fetched-at
 * time and the blob digest of the body. The store keeps whatever it is given and never decides
 * what is fresh. Files live at `${dir}/<namespace>/<ab>/<sha256(key) hex>`: the key is hashed,
 * so an upstream-derived key never becomes a path.
 *
 * No fsync: a record lost or torn by a power cut is unparseable or absent, which only costs a
 * refetch. Each file holds `{ key, value }` so a file can be checked against the key it serves.
 */
import { lstat, mkdir, readFile, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { type Logger, sha256Hex, silentLogger } from '../base/index.js'
import { isTempName, removeStaleTemps, writeFileAtomic } from './atomic-file.js'
import { ensureRealDir } from './cache-dirs.js'
import { errnoCode, toStoreError } from './errors.js'

export interface RecordStore {
  /** The stored value, or undefined when absent; a corrupt file is deleted and reported absent. @throws {StoreError} */
  get(namespace: string, key: string): Promise<unknown>
  /** Replaces the value atomically. @throws {StoreFullError} / {StoreError} */
  put(namespace: string, key: string, value: unknown): Promise<void>
  delete(namespace: string, key: string): Promise<void>
  /** How many records the namespace holds (counted at open, kept current by put and delete). */
  count(namespace: string): number
  /**
   * Every readable record of a namespace, in no particular order (for listings and purges; a
   * scan of the namespace's files). Corrupt files are skipped, not deleted: a listing changes nothing.
   * @throws {StoreError}
   */
  list(namespace: string): Promise<StoredRecord[]>
}

export interface StoredRecord {
  readonly key: string
  readonly value: unknown
}

/** A record file's name: the SHA-256 of its key (temp files and strays are not records). */
const RECORD_NAME = /^[0-9a-f]{64}$/

const NAMESPACE = /^[a-z][a-z0-9-]{0,31}$/

function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) throw new TypeError(`record namespace must match ${NAMESPACE.source}: ${JSON.stringify(namespace)}`)
}

function isRecordFile(parsed: unknown, key: string): parsed is { key: string; value: unknown } {
  return typeof parsed === 'object' && parsed !== null && 'key' in parsed && parsed.key === key && 'value' in parsed
}

/**
 * Opens the record store in `options.dir`, removing temp files left by a crash (unless `sweepTemps` is false).
 * @throws {StoreError} when the directory cannot be created or read.
 */
export async function openRecordStore(options: { dir: string; logger?: Logger; sweepTemps?: boolean }): Promise<RecordStore> {
  const { dir } = options
  const logger = options.logger ?? silentLogger
  const counts = new Map<string, number>()
  const adjust = (namespace: string, by: number) => counts.set(namespace, Math.max(0, (counts.get(namespace) ?? 0) + by))
  try {
    await mkdir(dir, { recursive: true })
    // The temp sweep must not follow a symlink planted at a namespace or prefix directory.
    for (const namespace of await readdir(dir)) {
      if (!NAMESPACE.test(namespace)) continue
      await ensureRealDir(join(dir, namespace), logger)
      for (const prefix of await readdir(join(dir, namespace))) {
        if (!/^[0-9a-f]{2}$/.test(prefix)) continue
        await ensureRealDir(join(dir, namespace, prefix), logger)
        // Not beside a running proxy (`tuf-proxy cache`): its temp files are writes in progress.
        if (options.sweepTemps ?? true) await removeStaleTemps(join(dir, namespace, prefix))
        adjust(namespace, (await readdir(join(dir, namespace, prefix))).filter((name) => RECORD_NAME.test(name)).length)
      }
    }
  } catch (error) {
    throw toStoreError(error, `opening the record store in ${dir}`)
  }

  const locate = (namespace: string, key: string): { folder: string; name: string } => {
    checkNamespace(namespace)
    const name = sha256Hex(Buffer.from(key, 'utf8'))
    return { folder: join(dir, namespace, name.slice(0, 2)), name }
  }

  return {
    async get(namespace, key) {
      const { folder, name } = locate(namespace, key)
      const path = join(folder, name)
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return undefined
        throw toStoreError(error, `reading record ${path}`)
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
      if (!isRecordFile(parsed, key)) {
        logger.warn('store_record_corrupt', { path })
        if (await removeIfPresent(path).catch(() => false)) adjust(namespace, -1)
        return undefined
      }
      return parsed.value
    },

    async put(namespace, key, value) {
      const { folder, name } = locate(namespace, key)
      const text = JSON.stringify({ key, value })
      if (text === undefined) throw new TypeError('record value is not JSON-serializable')
      try {
        await mkdir(folder, { recursive: true })
      } catch (error) {
        throw toStoreError(error, `creating ${folder}`)
      }
      // One lstat per write, off the hot path (pages and file records are written on misses), buys an exact count.
      const isNew = !(await exists(join(folder, name)))
      await writeFileAtomic({ dir: folder, name, bytes: Buffer.from(text, 'utf8'), fsync: false })
      if (isNew) adjust(namespace, 1)
    },

    async delete(namespace, key) {
      const { folder, name } = locate(namespace, key)
      try {
        if (await removeIfPresent(join(folder, name))) adjust(namespace, -1)
      } catch (error) {
        throw toStoreError(error, `deleting record ${join(folder, name)}`)
      }
    },

    count: (namespace) => counts.get(namespace) ?? 0,

    async list(namespace) {
      checkNamespace(namespace)
      const found: StoredRecord[] = []
      try {
        for (const prefix of await readdirIfAny(join(dir, namespace))) {
          if (!/^[0-9a-f]{2}$/.test(prefix)) continue
          for (const name of await readdirIfAny(join(dir, namespace, prefix))) {
            if (isTempName(name) || !RECORD_NAME.test(name)) continue
            const parsed = await readJson(join(dir, namespace, prefix, name))
            // The file must be the one its key hashes to: a copied or renamed file is not that key's record.
            if (typeof parsed === 'object' && parsed !== null && 'key' in parsed && typeof parsed.key === 'string' && 'value' in parsed && sha256Hex(Buffer.from(parsed.key, 'utf8')) === name) {
              found.push({ key: parsed.key, value: parsed.value })
            }
          }
        }
      } catch (error) {
        throw toStoreError(error, `listing records in ${join(dir, namespace)}`)
      }
      return found
    },
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false
    throw toStoreError(error, `checking record ${path}`)
  }
}

/** @returns whether there was a file to remove */
async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false
    throw error
  }
}

async function readdirIfAny(path: string): Promise<string[]> {
  try {
    return await readdir(path)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []
    throw error
  }
}

/** The parsed file, or undefined when it vanished meanwhile or is not JSON. */
async function readJson(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw error
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
