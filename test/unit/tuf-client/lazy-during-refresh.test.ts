/** A lookup on the current state while a refresh is in flight may still load an unchanged role. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock } from '../../../src/base/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { openMemorySession, simulatorFetcher } from '../../helpers/tuf-memory.js'

test('a lookup on the current state during a refresh in flight can load an unchanged role', async () => {
  const sim = new RepositorySimulator()
  sim.addDelegation('targets', { name: 'a', paths: ['a/*'] }).addDelegation('targets', { name: 'b', paths: ['b/*'] })
  sim.addTarget('a', 'a/f', Buffer.from('a1')).addTarget('b', 'b/f', Buffer.from('b1')).updateSnapshot()
  const inner = simulatorFetcher(sim)
  let hold: Promise<void> | undefined
  let release: (() => void) | undefined
  const fetcher = {
    async fetch(url: string, max: number) {
      if (hold && url.endsWith('snapshot.json')) await hold
      return inner.fetch(url, max)
    },
  }
  const { session } = await openMemorySession({ sim, fetcher, clock: fixedClock(sim.nowMs) })
  await session.refresh()
  assert.ok(await session.findTarget('a/f'))
  // a new release in role a; b is unchanged
  sim.addTarget('a', 'a/g', Buffer.from('a2')).updateSnapshot()
  hold = new Promise((resolve) => (release = resolve))
  const refreshing = session.refresh() // verifies the new timestamp, then waits on the snapshot
  await new Promise((resolve) => setTimeout(resolve, 10))
  try {
    const info = await session.findTarget('b/f') // b is at the same version in both states
    assert.ok(info, 'b/f is vouched for by the current state')
  } finally {
    release?.()
    await refreshing
  }
})
