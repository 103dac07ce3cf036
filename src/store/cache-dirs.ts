/**
 * The cache's own subdirectories (`tmp/`, `blobs/`, `blobs/ab/`, record namespaces) must be real
 * directories: the store sweeps and evicts inside them, so a symlink planted at one would make
 * every start delete whatever it points to (issue 7 item 13). Symlinks there are never followed:
 * they are removed and replaced with an empty directory, with a log line naming them. The cache
 * root itself may be a symlink: the operator chose it, and the store deletes nothing directly in it.
 */
import { lstat, mkdir, readlink, unlink } from 'node:fs/promises'
import type { Logger } from '../base/index.js'
import { errnoCode, StoreError } from './errors.js'

/**
 * Makes `path` a real directory, creating it when absent and replacing a symlink (never following
 * it). Its parent must exist.
 * @throws {StoreError} when `path` is another kind of file (it is left alone) or cannot be created.
 */
export async function ensureRealDir(path: string, logger: Logger): Promise<void> {
  let info
  try {
    info = await lstat(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
    try {
      await mkdir(path)
      return
    } catch (mkdirError) {
      // Another process sharing the cache directory created it first: check what it made.
      if (errnoCode(mkdirError) !== 'EEXIST') throw mkdirError
      info = await lstat(path)
    }
  }
  if (info.isDirectory()) return
  if (!info.isSymbolicLink()) {
    throw new StoreError(`${path} is not a directory; move it out of the cache directory so the proxy can create it`)
  }
  const target = await readlink(path).catch(() => '?')
  logger.warn('store_symlink_replaced', { path, target, detail: 'a cache subdirectory was a symlink; it was removed (not followed) and replaced with an empty directory' })
  await unlink(path)
  await mkdir(path)
}
