/**
 * What the blob store needs to know about the other processes sharing its directory: whether
 * any is live (each holds a presence lock, `member-<host tag>-<pid>`, for its lifetime), and
 * every committed blob on disk, for the eviction scan that keeps the byte budget over all of
 * them (blobs.ts). Owns the presence lock and the listing; not eviction decisions.
 */
import { lstat, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../base/index.js'
import { HOST_TAG, type LockFiles } from './locks.js'

const MEMBER_PREFIX = 'member-'
/** How long the answer to "are there other live processes?" is reused before the locks are read again. */
const PEERS_RECHECK_MS = 1_000
const DIGEST = /^[0-9a-f]{64}$/
const PREFIX = /^[0-9a-f]{2}$/

export class PeerWatch {
  readonly #deps: { readonly locks: LockFiles; readonly dir: string; readonly clock: Clock }
  readonly #mine = `${MEMBER_PREFIX}${HOST_TAG}-${process.pid}`
  #last = { hasPeers: false, checkedAtMs: -Infinity }

  constructor(deps: { locks: LockFiles; dir: string; clock: Clock }) {
    this.#deps = deps
  }

  /** Takes this process's presence lock, held (heartbeat) for the life of the process. */
  async join(): Promise<void> {
    await this.#deps.locks.tryAcquire(this.#mine)
  }

  /** Whether another live process shares the directory. */
  async hasPeers(): Promise<boolean> {
    const nowMs = this.#deps.clock.nowMs()
    if (nowMs - this.#last.checkedAtMs < PEERS_RECHECK_MS) return this.#last.hasPeers
    let hasPeers = false
    for (const name of await readdir(this.#deps.dir).catch(() => [])) {
      if (!name.startsWith(MEMBER_PREFIX) || !name.endsWith('.lock') || name === `${this.#mine}.lock`) continue
      if (await this.#deps.locks.isLive(name.slice(0, -'.lock'.length))) {
        hasPeers = true
        break
      }
      // A dead process's presence lock would be read again at every later check.
      await unlink(join(this.#deps.dir, name)).catch(() => undefined)
    }
    this.#last = { hasPeers, checkedAtMs: nowMs }
    return hasPeers
  }
}

/** Every committed blob under `blobsDir` (`ab/<64 hex>`) with its size and mtime (its last persisted use). */
export async function readCommittedBlobs(blobsDir: string): Promise<Array<{ sha256: string; size: number; mtimeMs: number }>> {
  const found: Array<{ sha256: string; size: number; mtimeMs: number }> = []
  for (const prefix of await readdir(blobsDir)) {
    if (!PREFIX.test(prefix)) continue
    const names = (await readdir(join(blobsDir, prefix)).catch(() => [])).filter((name) => DIGEST.test(name) && name.startsWith(prefix))
    const stats = await Promise.all(names.map(async (name) => ({ name, info: await lstat(join(blobsDir, prefix, name)).catch(() => undefined) })))
    for (const { name, info } of stats) if (info?.isFile()) found.push({ sha256: name, size: info.size, mtimeMs: info.mtimeMs })
  }
  return found
}
