/**
 * Whole-file replacement by temp file + rename, shared by the record and trust-state stores: a
 * reader sees the old file or the new one, never a mix. Temp names start with "." and end in
 * ".tmp", which no stored file name can (see the name rules of each store), so they are safe to
 * sweep on open. They name their writer (`.<host hash>-<pid>-<random>.tmp`): processes sharing
 * the cache directory sweep only temp files of dead writers, never another live process's.
 */
import { randomBytes } from 'node:crypto'
import { lstat, open, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { toStoreError } from './errors.js'
import { HOST_TAG, isAlive, wallClockMs } from './locks.js'

const OWNED_TEMP = /^\.([0-9a-f]{8})-([0-9]+)-[0-9a-f]{16}\.tmp$/
/** A temp file of another host's writer untouched this long is a crashed writer's (writes take milliseconds). */
const FOREIGN_TEMP_STALE_MS = 60_000

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp')
}

/**
 * Writes `bytes` to `dir/name` atomically (temp in the same directory, then rename).
 * @throws {StoreFullError} / {StoreError}; the temp file is removed on failure.
 */
export async function writeFileAtomic(options: { dir: string; name: string; bytes: Uint8Array; fsync: boolean }): Promise<void> {
  const { dir, name, bytes, fsync } = options
  const tmpPath = join(dir, `.${HOST_TAG}-${process.pid}-${randomBytes(8).toString('hex')}.tmp`)
  try {
    const handle = await open(tmpPath, 'wx')
    try {
      await handle.writeFile(bytes)
      if (fsync) await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmpPath, join(dir, name))
  } catch (error) {
    await rm(tmpPath, { force: true }).catch(() => undefined)
    throw toStoreError(error, `writing ${join(dir, name)}`)
  }
}

/** Deletes temp files left in `dir` by a crashed writer, never one a live process is writing. */
export async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (isTempName(name) && (await isAbandoned(dir, name))) await rm(join(dir, name), { force: true })
  }
}

async function isAbandoned(dir: string, name: string): Promise<boolean> {
  const owner = OWNED_TEMP.exec(name)
  if (!owner) return true
  if (owner[1] === HOST_TAG) return Number(owner[2]) === process.pid || !isAlive(Number(owner[2]))
  const info = await lstat(join(dir, name)).catch(() => undefined)
  return info !== undefined && wallClockMs() - info.mtimeMs > FOREIGN_TEMP_STALE_MS
}

