/**
 * Single-flight across processes for one blob being downloaded: the first process to take the
 * flight's lock (locks.ts) downloads, and publishes the name of its temporary blob in the lock;
 * the others follow it, reading that temporary blob as it grows (an open descriptor keeps
 * reading after the leader renames the file into blobs/ or removes it). A follower verifies
 * everything it serves itself, exactly as if the bytes came from the upstream: a process never
 * trusts another blindly. When the leader dies (kill -9) or gives up, a follower takes the lock
 * over and goes on from the upstream.
 *
 * Owns the flight's lock and the leader's temporary blob as seen by others; not the download.
 */
import { basename, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BlobReader, BlobWriter } from './blob-writer.js'
import { FileBlobReader } from './blob-writer.js'
import type { HeldLock, LockFiles } from './locks.js'

/** How a followed leader is doing: still writing, finished (committed or gave up), or dead (stale lock). */
export type LeaderState = 'running' | 'ended' | 'dead'

export interface Flight {
  /** Whether this process leads (downloads); otherwise it follows another process's download. */
  readonly isLeader: boolean
  /** Leader: names the writer's temporary blob in the lock so other processes can follow it. */
  announce(writer: BlobWriter): Promise<void>
  /**
   * Follower: a reader of the current leader's temporary blob, undefined while the leader has
   * named none yet (or it is already gone). @throws {StoreError}
   */
  openLeaderReader(): Promise<BlobReader | undefined>
  /** Follower: the state of the leader whose temporary blob was opened last. */
  leaderState(): Promise<LeaderState>
  /**
   * Follower: tries to become the leader (the lock is free or stale); true on success. A free
   * lock may mean the leader committed: look for the committed blob before downloading.
   */
  takeOver(): Promise<boolean>
  /** Follower: resolves once the leader let go of the lock or died (for work that leaves no temporary blob, e.g. a page). */
  waitForLeader(): Promise<void>
  /** Lets go of the lock if this process leads (it leads no more); idempotent. */
  release(): Promise<void>
}

export interface FlightDeps {
  readonly locks: LockFiles
  readonly tmpDir: string
  /** the temporary path of a writer this store created */
  readonly tmpPathOf: (writer: BlobWriter) => string | undefined
}

/** How often a follower waiting for a leader to finish looks at its lock (a poll: no cross-process wake-up). */
const WAIT_POLL_MS = 20

/** The file name part a lock may name: a temp blob of this store (see blobs.ts), never a path. */
const TEMP_NAME = /^[0-9a-f]{8}-[0-9]+-[0-9a-f]{24}\.part$/

export async function joinFlight(name: string, deps: FlightDeps): Promise<Flight> {
  let held: HeldLock | undefined = await deps.locks.tryAcquire(name)
  /** the token of the leader whose temp blob was opened last */
  let followedToken: string | undefined
  return {
    get isLeader() {
      return held !== undefined
    },
    async announce(writer) {
      const tmpPath = deps.tmpPathOf(writer)
      if (!held || !tmpPath) return
      await held.publish(basename(tmpPath), tmpPath)
    },
    async openLeaderReader() {
      const holder = await deps.locks.holder(name)
      if (!holder?.detail || !TEMP_NAME.test(holder.detail)) return undefined
      const reader = await FileBlobReader.open(join(deps.tmpDir, holder.detail))
      if (reader) followedToken = holder.token
      return reader
    },
    async leaderState() {
      // One reading: a leader that commits and releases between two readings would look dead,
      // and its followers would download the file again.
      const found = await deps.locks.inspect(name)
      if (!found?.holder || found.holder.token !== followedToken) return 'ended'
      return found.isLive ? 'running' : 'dead'
    },
    async takeOver() {
      held ??= await deps.locks.tryAcquire(name)
      return held !== undefined
    },
    async waitForLeader() {
      while (await deps.locks.isLive(name)) await sleep(WAIT_POLL_MS)
    },
    async release() {
      await held?.release()
      held = undefined
    },
  }
}
