/**
 * Single-flight across processes (store/flights.ts), with two flights on one lock directory in
 * one process standing for two processes. Interleavings a loaded machine produces by chance are
 * forced here: a wrapper around the follower's lock files runs the leader's next step right after
 * the follower's next reading of the lock.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../../src/base/index.js'
import { joinFlight } from '../../../src/store/flights.js'
import { openBlobStore, openLockFiles, type LockFiles } from '../../../src/store/index.js'

/** `locks`, except that once armed, the next call of any of its methods runs `between` before it returns. */
function interleaved(locks: LockFiles): { locks: LockFiles; arm(between: () => Promise<void>): void } {
  let between: (() => Promise<void>) | undefined
  const wrapped = new Proxy(locks, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        const result: unknown = await (value as (...args: unknown[]) => Promise<unknown>).apply(target, args)
        const step = between
        between = undefined
        await step?.()
        return result
      }
    },
  })
  return { locks: wrapped, arm: (step) => void (between = step) }
}

describe('flights across processes', () => {
  test('a follower asking how the leader is doing while it commits and lets go hears "running" or "ended", never "dead"', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-flights-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const tmpDir = join(dir, 'tmp')
    const lockDir = join(dir, 'locks')
    const writer = await store.createWriter()
    const [tempName] = await readdir(tmpDir)
    assert.ok(tempName)
    const leader = await joinFlight('flight-x', { locks: openLockFiles({ dir: lockDir, logger: silentLogger }), tmpDir, tmpPathOf: () => join(tmpDir, tempName) })
    assert.ok(leader.isLeader)
    await writer.write(Buffer.from('the whole file'))
    await leader.announce(writer)
    const view = interleaved(openLockFiles({ dir: lockDir, logger: silentLogger }))
    const follower = await joinFlight('flight-x', { locks: view.locks, tmpDir, tmpPathOf: () => undefined })
    assert.equal(follower.isLeader, false)
    const reader = await follower.openLeaderReader()
    assert.ok(reader, 'the follower reads the temporary blob the leader named')
    t.after(() => reader.close())
    assert.equal(await follower.leaderState(), 'running')
    await writer.commit()
    // The leader lets go of the lock right after the follower's next look at it.
    view.arm(() => leader.release())
    const state = await follower.leaderState()
    assert.notEqual(state, 'dead', 'a leader that committed and let go is not dead: taking over would download the file again')
    assert.equal(await follower.leaderState(), 'ended')
  })
})
