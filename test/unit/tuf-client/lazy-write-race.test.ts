/** Disk writes of the TUF state in one order: a slow lazy role write never lands over a newer set. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock } from '../../../src/base/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { MemoryStore, openMemorySession } from '../../helpers/tuf-memory.js'

class HeldStore extends MemoryStore {
  hold: Promise<void> | undefined
  override async write(name: string, bytes: Uint8Array): Promise<void> {
    if (this.hold && name === 'r.json') await this.hold
    return super.write(name, bytes)
  }
}

test('a slow lazy role write never lands over the newer set a refresh put in force', async () => {
  const sim = new RepositorySimulator()
  sim.addDelegation('targets', { name: 'r', paths: ['r/*'] }).addTarget('r', 'r/f', Buffer.from('1')).updateSnapshot()
  const store = new HeldStore()
  const clock = fixedClock(sim.nowMs)
  const { session } = await openMemorySession({ sim, store, clock })
  await session.refresh()
  let release!: () => void
  store.hold = new Promise((resolve) => (release = resolve))
  const lookup = session.findTarget('r/f') // fetches r v1, records it as loaded, its write is slow
  await new Promise((resolve) => setTimeout(resolve, 10))
  sim.addTarget('r', 'r/g', Buffer.from('2')).updateSnapshot() // r v2
  // The refresh reloads r (now v2) and writes the new set; the slow lazy write lands meanwhile.
  const refreshing = session.refresh()
  await new Promise((resolve) => setTimeout(resolve, 10))
  release()
  await refreshing
  await lookup
  const stored = JSON.parse(Buffer.from(store.files.get('r.json')!).toString()).signed.version
  const listed = JSON.parse(Buffer.from(store.files.get('snapshot.json')!).toString()).signed.meta['r.json'].version
  assert.equal(stored, listed, 'the stored r.json is the version the stored snapshot lists')
  // what is on disk must verify together: open it offline
  const offline = { fetch: () => Promise.reject(new Error('upstream down')) }
  const { session: restarted } = await openMemorySession({ sim, store, clock, fetcher: offline, extra: { trustLocalMetadata: true } })
  assert.ok(await restarted.findTarget('r/g'), 'the stored set in force vouches for r/g')
})
