import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBlobStore } from '../../src/store/index.js'
import { storeContract } from './store-contract.js'

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name)
}

storeContract('disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-blobs-'))
  return {
    open: (options) => openBlobStore({ dir, ...options }),
    listCommitted: () => listFiles(join(dir, 'blobs')),
    countPartials: async () => (await listFiles(join(dir, 'tmp'))).length,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})
