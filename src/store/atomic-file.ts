/**
 * Whole-file replacement by temp file + rename, shared by the record and trust-state stores: a
 * reader sees the old file or the new one, never a mix. Temp names start with "." and end in
 * ".tmp", which no stored file name can (see the name rules of each store), so they are safe to
 * sweep on open.
 */
import { randomBytes } from 'node:crypto'
import { open, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { toStoreError } from './errors.js'

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp')
}

/**
 * Writes `bytes` to `dir/name` atomically (temp in the same directory, then rename).
 * @throws {StoreFullError} / {StoreError}; the temp file is removed on failure.
 */
export async function writeFileAtomic(options: { dir: string; name: string; bytes: Uint8Array; fsync: boolean }): Promise<void> {
  const { dir, name, bytes, fsync } = options
  const tmpPath = join(dir, `.${randomBytes(8).toString('hex')}.tmp`)
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

/** Deletes temp files left in `dir` by a crashed writer. */
export async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (isTempName(name)) await rm(join(dir, name), { force: true })
  }
}
