/**
 * Lock files shared by every process that uses one cache directory: the workers of one
 * `--workers N` server, and independently started `serve` processes on one volume. A lock is a
 * file created exclusively (O_CREAT|O_EXCL, `wx`), holding its owner's pid, host name and a random
 * token; the owner touches its mtime every `heartbeatMs` (the heartbeat).
 *
 * A lock is stale, and may be taken over, when its heartbeat is older than `staleMs`, or when its
 * owner ran on this host and that pid is gone (`kill(pid, 0)` fails with ESRCH): a `kill -9`ed
 * worker's lock is taken over at once, one on another host (a container sharing the volume, whose
 * pids mean nothing here) after `staleMs`. Takeover renames the stale file to a unique name (only
 * one process can win that rename) and checks the token of what it moved: if a live lock slipped
 * in between its read and its rename, it links that one back. In that narrow race two processes
 * may both think they hold the lock for a moment; every user below tolerates that (a second
 * download of one file, one more eviction scan), and correctness never rests on a lock: blobs are
 * verified by whoever serves them.
 *
 * Owns lock files and heartbeats; not what the locks protect.
 */
import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sha256Hex, type Logger } from '../base/index.js'
import { errnoCode } from './errors.js'

export interface LockHolder {
  readonly pid: number
  readonly host: string
  readonly token: string
  /** what the holder lets others read, e.g. the name of its temporary blob */
  readonly detail: string | undefined
}

export interface LockFiles {
  /** Takes the lock, or takes over a stale one; undefined when a live process holds it. @throws node:fs errors other than EEXIST */
  tryAcquire(name: string): Promise<HeldLock | undefined>
  /** The current holder, or undefined when the lock is free or its file is not written yet. */
  holder(name: string): Promise<LockHolder | undefined>
  /** Whether `name` is held by a live process (not free, not stale). */
  isLive(name: string): Promise<boolean>
  /**
   * The holder and whether it is live, from one reading of one lock file; undefined when the
   * lock is free. Use this, not holder() then isLive(), to judge one holder: a holder that
   * releases between two readings would look dead.
   */
  inspect(name: string): Promise<LockState | undefined>
}

export interface LockState {
  /** undefined while the lock file is not written yet */
  readonly holder: LockHolder | undefined
  readonly isLive: boolean
}

export interface HeldLock {
  /** False once another process took the lock over (this one's heartbeat went stale). */
  readonly isHeld: boolean
  /** Publishes `detail` in the lock file (atomically: readers see the old payload or the new one). */
  publish(detail: string, alsoTouch?: string): Promise<void>
  /** Removes the lock if this process still holds it; idempotent. */
  release(): Promise<void>
}

export interface LockFilesOptions {
  readonly dir: string
  readonly logger: Logger
  /** How often a holder touches its lock; default 2 000. */
  readonly heartbeatMs?: number
  /** A lock whose heartbeat is older than this is stale; default 10 000. */
  readonly staleMs?: number
}

/**
 * Lock and temp file times are the kernel's wall clock, which every process sharing the
 * directory reads alike: they are set and judged with it, never with an injected Clock (another
 * process does not share that, and a file's creation time is the kernel's anyway).
 */
export const wallClockMs = (): number => Date.now()

const HOST = hostname()
/** A short tag of this host for file names (temp files name their writer: host tag and pid). */
export const HOST_TAG = sha256Hex(Buffer.from(HOST, 'utf8')).slice(0, 8)

function parseHolder(text: string): LockHolder | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const { pid, host, token, detail } = parsed as Record<string, unknown>
  if (typeof pid !== 'number' || typeof host !== 'string' || typeof token !== 'string') return undefined
  return { pid, host, token, detail: typeof detail === 'string' ? detail : undefined }
}

/** Whether `pid` names a live process on this host (EPERM: alive, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoCode(error) === 'EPERM'
  }
}

export function openLockFiles(options: LockFilesOptions): LockFiles {
  const { dir, logger } = options
  const heartbeatMs = options.heartbeatMs ?? 2_000
  const staleMs = options.staleMs ?? 10_000
  const pathOf = (name: string) => join(dir, `${name}.lock`)

  /**
   * The holder and the file's mtime; undefined when absent. A file not yet written has no holder.
   * Both from one open descriptor: reading the path twice could pair one holder's token with the
   * next holder's heartbeat.
   */
  const inspect = async (name: string): Promise<{ holder: LockHolder | undefined; mtimeMs: number } | undefined> => {
    let handle
    try {
      handle = await open(pathOf(name), 'r')
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined
      throw error
    }
    try {
      const [text, info] = await Promise.all([handle.readFile('utf8'), handle.stat()])
      return { holder: parseHolder(text), mtimeMs: info.mtimeMs }
    } finally {
      await handle.close()
    }
  }

  const isStale = (found: { holder: LockHolder | undefined; mtimeMs: number }): boolean => {
    if (wallClockMs() - found.mtimeMs > staleMs) return true
    const holder = found.holder
    return holder !== undefined && holder.host === HOST && holder.pid !== process.pid && !isAlive(holder.pid)
  }

  const payload = (token: string, detail: string | undefined) => JSON.stringify({ pid: process.pid, host: HOST, token, detail })

  const hold = (name: string, token: string): HeldLock => {
    const path = pathOf(name)
    let isHeld = true
    let touchToo: string | undefined
    const beat = async () => {
      const current = await inspect(name).catch(() => undefined)
      if (current?.holder?.token !== token) {
        isHeld = false
        clearInterval(timer)
        logger.warn('lock_lost', { lock: name, detail: 'another process took this lock over after its heartbeat went stale' })
        return
      }
      const nowSeconds = wallClockMs() / 1000
      await utimes(path, nowSeconds, nowSeconds).catch(() => undefined)
      if (touchToo) await utimes(touchToo, nowSeconds, nowSeconds).catch(() => undefined)
    }
    const timer = setInterval(() => void beat(), heartbeatMs)
    timer.unref()
    return {
      get isHeld() {
        return isHeld
      },
      async publish(detail, alsoTouch) {
        touchToo = alsoTouch
        const tmp = join(dir, `.${randomBytes(8).toString('hex')}.tmp`)
        await writeFile(tmp, payload(token, detail), { flag: 'wx' })
        await rename(tmp, path)
      },
      async release() {
        if (!isHeld) return
        isHeld = false
        clearInterval(timer)
        const current = await inspect(name).catch(() => undefined)
        if (current?.holder?.token === token) await unlink(path).catch(() => undefined)
      },
    }
  }

  const create = async (name: string): Promise<HeldLock | undefined> => {
    const token = randomBytes(12).toString('hex')
    let handle
    try {
      handle = await open(pathOf(name), 'wx')
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return undefined
      throw error
    }
    try {
      await handle.writeFile(payload(token, undefined))
    } finally {
      await handle.close()
    }
    return hold(name, token)
  }

  /** Moves a stale lock aside; false when what was moved turned out to be a fresh lock (then it is put back). */
  const moveAside = async (name: string, stale: LockHolder | undefined): Promise<boolean> => {
    const aside = join(dir, `.${randomBytes(8).toString('hex')}.stale`)
    try {
      await rename(pathOf(name), aside)
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return true
      throw error
    }
    const moved = parseHolder(await readFile(aside, 'utf8').catch(() => ''))
    if (moved?.token !== stale?.token) {
      await link(aside, pathOf(name)).catch(() => undefined)
      await unlink(aside).catch(() => undefined)
      return false
    }
    await unlink(aside).catch(() => undefined)
    logger.warn('lock_taken_over', { lock: name, ...(stale ? { pid: stale.pid, host: stale.host } : {}) })
    return true
  }

  return {
    async tryAcquire(name) {
      const held = await create(name)
      if (held) return held
      const found = await inspect(name)
      if (found && !isStale(found)) return undefined
      if (found && !(await moveAside(name, found.holder))) return undefined
      return create(name)
    },
    async holder(name) {
      return (await inspect(name))?.holder
    },
    async isLive(name) {
      const found = await inspect(name)
      return found !== undefined && !isStale(found)
    },
    async inspect(name) {
      const found = await inspect(name)
      return found && { holder: found.holder, isLive: !isStale(found) }
    },
  }
}
