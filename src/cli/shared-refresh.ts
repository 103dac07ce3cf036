/**
 * Verifying mode with several processes on one cache directory: one process at a time refreshes
 * the TUF metadata (the `tuf-refresh` lock file), and a process that found the lock held waits
 * for that refresh and then adopts its result from disk. Adopting is an ordinary refresh of its
 * own session whose metadata reads come from the set the other process stored, so every file is
 * verified here exactly as if it came from the repository (TUF 5.3-5.6: signatures, versions,
 * rollback against this process's own trusted state, expiry); nothing from another process is
 * trusted blindly. If that refresh refuses the stored set, or the set lacks a file (a delegated
 * role the other process did not load), the refresh goes to the repository as usual.
 */
import type { Logger } from '../base/index.js'
import type { LockFiles, TrustStateStore } from '../store/index.js'
import type { MetadataFetcher } from '../tuf-client/index.js'
import { UpstreamHttpError } from '../upstream/index.js'

const LOCK = 'tuf-refresh'
/** How often a waiting process looks whether the refreshing one is done: a poll, there is no cross-process wake-up. */
const POLL_MS = 50
const ROOT = /^\d+\.root\.json$/
/** Consistent snapshots (TUF 5.5.2): `N.snapshot.json`, `N.targets.json`, `N.<role>.json`; stored without the prefix. */
const VERSIONED = /^\d+\.(.+)$/

export interface SharedRefresh {
  /** The session's fetcher: the repository, or the stored set while adopting another process's refresh. */
  readonly fetcher: MetadataFetcher
  /** Runs one refresh under the lock, or waits for the other process's and adopts it. */
  exclusive(refresh: () => Promise<void>): Promise<void>
}

export function sharedRefresh(deps: { locks: LockFiles; store: TrustStateStore; metadataBaseUrl: string; upstream: MetadataFetcher; logger: Logger }): SharedRefresh {
  const { locks, store, metadataBaseUrl, upstream, logger } = deps
  let isAdopting = false

  const fromDisk = async (url: string, maxBytes: number): Promise<Uint8Array> => {
    const name = url.startsWith(metadataBaseUrl) ? url.slice(metadataBaseUrl.length) : undefined
    if (name === undefined) return upstream.fetch(url, maxBytes)
    if (ROOT.test(name)) {
      // The refreshing process stored every root it verified: none stored means none newer (TUF 5.3.3).
      const root = await store.readInForce(name)
      if (!root) throw new UpstreamHttpError(404, url)
      return checkedSize(root, maxBytes, url, upstream)
    }
    const stored = await store.readInForce(VERSIONED.exec(name)?.[1] ?? name)
    return stored ? checkedSize(stored, maxBytes, url, upstream) : upstream.fetch(url, maxBytes)
  }

  return {
    fetcher: { fetch: (url, maxBytes) => (isAdopting ? fromDisk(url, maxBytes) : upstream.fetch(url, maxBytes)) },
    async exclusive(refresh) {
      let held = await locks.tryAcquire(LOCK)
      if (!held) {
        while (await locks.isLive(LOCK)) await new Promise((resolve) => setTimeout(resolve, POLL_MS))
        isAdopting = true
        try {
          await refresh()
          return
        } catch (error) {
          logger.info('tuf_adopt_refused', { detail: error instanceof Error ? error.message : String(error), effect: 'refreshing from the repository' })
        } finally {
          isAdopting = false
        }
        held = await locks.tryAcquire(LOCK)
      }
      try {
        await refresh()
      } finally {
        await held?.release()
      }
    },
  }
}

/** A stored file over the size the session allows is not used: the repository is asked instead. */
async function checkedSize(bytes: Uint8Array, maxBytes: number, url: string, upstream: MetadataFetcher): Promise<Uint8Array> {
  return bytes.byteLength <= maxBytes ? bytes : upstream.fetch(url, maxBytes)
}
