/**
 * A disk of a given size for the disk blob store, without a tiny filesystem (which needs root):
 * the store's per-chunk write seam fails with a real ENOSPC-coded error whenever the bytes under
 * the store's directory plus the chunk would exceed `capacityBytes`. Unlinks free space at once,
 * as on a real disk once no descriptor holds the file.
 */
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { WriteChunk } from '../../src/store/index.js'

export function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}

async function usedBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    // Lock files (a few dozen bytes each, see src/store/locks.ts) are not what these tests fill the disk with.
    if (entry.isFile() && !entry.parentPath.endsWith('/locks')) total += (await lstat(join(entry.parentPath, entry.name))).size
  }
  return total
}

/** A write seam for a disk of `capacityBytes` holding the store's directory `dir`; `capacityBytes` may be changed later. */
export function diskOfBytes(dir: string, capacity: { capacityBytes: number }): WriteChunk {
  return async (handle, chunks, position) => {
    const fileSize = (await handle.stat()).size
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)
    const growth = Math.max(0, position + bytes - fileSize)
    if ((await usedBytes(dir)) + growth > capacity.capacityBytes) throw enospc()
    return (await handle.writev(chunks, position)).bytesWritten
  }
}
