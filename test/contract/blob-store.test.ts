import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBlobStore } from '../../src/store/index.js'
import { diskOfBytes } from '../helpers/full-disk.js'
import { MemoryDisk, openMemoryBlobStore } from '../helpers/memory-blob-store.js'
import { storeContract } from './store-contract.js'

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name)
}

storeContract('disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-blobs-'))
  const disk = { capacityBytes: Infinity }
  return {
    open: (options) => openBlobStore({ dir, writeChunk: diskOfBytes(dir, disk), ...options }),
    listCommitted: () => listFiles(join(dir, 'blobs')),
    countPartials: async () => (await listFiles(join(dir, 'tmp'))).length,
    setDiskBytes: (capacityBytes) => void (disk.capacityBytes = capacityBytes),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

storeContract('memory', async () => {
  const disk = new MemoryDisk()
  return {
    open: async (options) => openMemoryBlobStore({ disk, ...options }),
    listCommitted: async () => [...disk.blobs.keys()],
    countPartials: async () => disk.partials.size,
    setDiskBytes: (capacityBytes) => void (disk.capacityBytes = capacityBytes),
    cleanup: async () => undefined,
  }
})
