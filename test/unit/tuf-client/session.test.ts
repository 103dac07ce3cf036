// The async TUF driver against the in-memory simulator: request sequence, persistence, reload,
// and the attacks of the TUF spec's threat list as seen by a client (TUF 1.0.x §1.5.2, §5).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock } from '../../../src/base/index.js'
import { TrustError, verifyTargetBytes, type TrustErrorCode } from '../../../src/trust/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { generateKey } from '../../helpers/sim-keys.js'
import { MemoryStore, TooLargeError, openMemorySession, simulatorFetcher } from '../../helpers/tuf-memory.js'

const DAY_MS = 86_400_000

function trustCode(code: TrustErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TrustError, `expected TrustError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return true
  }
}

describe('TufSession workflow (TUF 5.3-5.6)', () => {
  test('first refresh probes N+1.root.json, then timestamp, snapshot, targets', async () => {
    const sim = new RepositorySimulator()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json'])
    assert.deepEqual([...store.files.keys()].sort(), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json'])
  })

  test('persisted files are byte-identical to what the repository served', async () => {
    const sim = new RepositorySimulator()
    sim.rotateKeys('root').publishRoot().addTarget('targets', 'f', Buffer.from('x')).updateSnapshot()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) assert.deepEqual(store.files.get(`${role}.json`), sim.currentBytes(role), role)
  })

  test('consistent snapshot: fetches N.snapshot.json, N.targets.json and N.<quoted role>.json', async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    sim.addDelegation('targets', { name: '../x' }).addTarget('../x', 'f', Buffer.from('x')).updateSnapshot()
    const { session, store } = await openMemorySession({ sim })
    const info = await session.findTarget('f')
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json', '2.snapshot.json', '2.targets.json', '1...%2Fx.json'])
    assert.ok(store.files.has('..%2Fx.json'))
    assert.ok(info)
    assert.match(session.targetDownloadPath(info), /^[0-9a-f]{64}\.f$/)
  })

  test('verifiedMetadata verifies a delegated role on demand, through its delegator, only at the listed version', async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    sim.addDelegation('targets', { name: 'a', paths: ['a/*'] }).addDelegation('a', { name: 'deep', paths: ['a/deep/*'] })
    sim.addTarget('deep', 'a/deep/f', Buffer.from('x')).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    await session.refresh()
    assert.equal(session.verifiedBytes('1.deep.json'), undefined, 'not walked yet')
    assert.deepEqual(await session.verifiedMetadata('1.deep.json'), sim.currentBytes('deep'))
    assert.deepEqual(session.verifiedBytes('1.a.json'), sim.currentBytes('a'), 'its delegator was verified on the way')
    assert.equal(await session.verifiedMetadata('7.deep.json'), undefined, 'a version the snapshot does not list')
    assert.equal(await session.verifiedMetadata('1.nobody.json'), undefined)
    sim.corruptBytes('deep.json')
    const fresh = (await openMemorySession({ sim })).session
    await fresh.refresh()
    await assert.rejects(fresh.verifiedMetadata('1.deep.json'), TrustError)
  })

  test('no snapshot or targets download when timestamp is unchanged (5.4.3.1 equal version)', async () => {
    const sim = new RepositorySimulator()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    const writes = store.writes.length
    sim.fetchLog.length = 0
    await session.refresh()
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json'])
    assert.equal(store.writes.length, writes, 'nothing new is written')
  })

  test('an unchanged timestamp keeps the trusted set: loaded delegated roles are not fetched or verified again', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'bin', paths: ['*'] }).addTarget('bin', 'f', Buffer.from('x')).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    assert.ok(await session.findTarget('f'))
    sim.fetchLog.length = 0
    await session.refresh()
    assert.ok(await session.findTarget('f'))
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json'])
  })

  test('an unchanged timestamp does not keep a set whose delegated role has expired (5.6.5 at the new time)', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'bin', paths: ['*'] }).addTarget('bin', 'f', Buffer.from('x'))
    sim.expire('bin', sim.nowMs + DAY_MS).updateSnapshot()
    const clock = fixedClock(sim.nowMs)
    const { session } = await openMemorySession({ sim, clock })
    assert.ok(await session.findTarget('f'))
    clock.advanceMs(2 * DAY_MS)
    await session.refresh()
    await assert.rejects(session.findTarget('f'), trustCode('expired'))
  })

  test('trustLocalMetadata: a reopened session answers lookups from unexpired stored metadata while the repository is unreachable', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    const unreachable = { fetch: async () => Promise.reject(new Error('connection refused')) }
    const offline = (await openMemorySession({ sim, store, fetcher: unreachable, extra: { trustLocalMetadata: true } })).session
    assert.equal((await offline.findTarget('f'))?.length, 1)
    const strict = (await openMemorySession({ sim, store, fetcher: unreachable })).session
    await assert.rejects(strict.findTarget('f'), /connection refused/, 'a TUF client refreshes first (TUF 5.3)')
  })

  test('a reopened session re-verifies stored metadata and reuses it', async () => {
    const sim = new RepositorySimulator()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    sim.fetchLog.length = 0
    const reopened = await openMemorySession({ sim, store, trustedRoot: Buffer.from('unused') })
    assert.equal(reopened.session.status().timestamp?.version, 1)
    await reopened.session.refresh()
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json'])
  })

  test('a tampered stored root is rejected on reload', async () => {
    const sim = new RepositorySimulator()
    const { store } = await openMemorySession({ sim })
    const root = store.files.get('root.json')
    assert.ok(root)
    store.files.set('root.json', Buffer.from(Buffer.from(root).toString('utf8').replace('"version":1', '"version":9')))
    await assert.rejects(openMemorySession({ sim, store }), trustCode('bad_signature'))
  })

  test('a tampered stored snapshot is not trusted on reload and is downloaded again', async () => {
    const sim = new RepositorySimulator()
    const { session, store } = await openMemorySession({ sim })
    await session.refresh()
    const snapshot = store.files.get('snapshot.json')
    assert.ok(snapshot)
    store.files.set('snapshot.json', Buffer.from(Buffer.from(snapshot).toString('utf8').replace('"version":1', '"version":2')))
    const reopened = await openMemorySession({ sim, store })
    assert.equal(reopened.session.status().snapshot, undefined)
    sim.fetchLog.length = 0
    await reopened.session.refresh()
    // the stored targets.json still verifies against the re-downloaded snapshot, so it is reused
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json', 'snapshot.json'])
    assert.deepEqual(store.files.get('snapshot.json'), sim.currentBytes('snapshot'))
  })

  test('cached delegated roles are used while snapshot still lists their version', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'A' }).addTarget('A', 'f', Buffer.from('x')).updateSnapshot()
    const { store } = await openMemorySession({ sim })
    const first = await openMemorySession({ sim, store })
    await first.session.findTarget('f')
    sim.fetchLog.length = 0
    const second = await openMemorySession({ sim, store })
    assert.ok(await second.session.findTarget('f'))
    assert.deepEqual(sim.metadataRequests(), ['2.root.json', 'timestamp.json'])
  })

  test('a cached role is verified against its current delegator, not the one that first vouched for it', async () => {
    const sim = new RepositorySimulator()
    const releaseKey = generateKey()
    sim.addDelegation('targets', { name: 'parent-a', paths: ['team-a/*'] }).addDelegation('targets', { name: 'parent-b', paths: ['team-b/*'] })
    sim.addDelegation('parent-a', { name: 'release', paths: ['team-a/*'], keys: [releaseKey] })
    sim.addDelegation('parent-b', { name: 'release', paths: ['team-b/*'], keys: [generateKey()] })
    sim.signWith('release', [releaseKey]).addTarget('release', 'team-a/f', Buffer.from('a')).addTarget('release', 'team-b/f', Buffer.from('b')).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    assert.ok(await session.findTarget('team-a/f'))
    await assert.rejects(session.findTarget('team-b/f'), trustCode('bad_signature'))
  })

  test('verifiedBytes serves the verified chain and current files by their served names', async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    sim.publishRoot().addDelegation('targets', { name: 'a b' }).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    await session.findTarget('nothing')
    assert.deepEqual(session.verifiedBytes('1.root.json'), sim.trustedRoot(1))
    assert.deepEqual(session.verifiedBytes('2.root.json'), sim.trustedRoot(2))
    assert.deepEqual(session.verifiedBytes('root.json'), sim.trustedRoot(2))
    assert.deepEqual(session.verifiedBytes('timestamp.json'), sim.currentBytes('timestamp'))
    assert.deepEqual(session.verifiedBytes('2.snapshot.json'), sim.currentBytes('snapshot'))
    assert.deepEqual(session.verifiedBytes('1.a%20b.json'), sim.currentBytes('a b'))
    assert.deepEqual(session.verifiedBytes('a b.json'), sim.currentBytes('a b'))
    assert.equal(session.verifiedBytes('1.snapshot.json'), undefined)
    const status = session.status()
    assert.equal(status.rootVersion, 2)
    assert.equal(status.thresholds['root']?.threshold, 1)
    assert.equal(status.delegatedRoles, 1)
  })

  test('keepRootHistory persists N.root.json only when asked', async () => {
    const sim = new RepositorySimulator()
    sim.publishRoot()
    const plain = await openMemorySession({ sim })
    await plain.session.refresh()
    assert.equal(plain.store.files.has('2.root.json'), false)
    const kept = await openMemorySession({ sim, extra: { keepRootHistory: true } })
    await kept.session.refresh()
    assert.deepEqual(kept.store.files.get('2.root.json'), sim.trustedRoot(2))
  })

  test('root probing stops at maxRootRotations', async () => {
    const sim = new RepositorySimulator()
    sim.publishRoot().publishRoot().publishRoot()
    const { session } = await openMemorySession({ sim, extra: { limits: { maxRootRotations: 2 } } })
    await session.refresh()
    assert.equal(session.status().rootVersion, 3)
    assert.equal(sim.metadataRequests().filter((name) => name.endsWith('root.json')).length, 2)
  })
})

describe('attacks (TUF spec threat list) seen through the driver', () => {
  test('arbitrary installation: tampered target bytes fail verification', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'f', Buffer.from('good')).updateSnapshot().corruptTarget('f')
    const { session } = await openMemorySession({ sim })
    const info = await session.findTarget('f')
    assert.ok(info)
    assert.throws(() => verifyTargetBytes(info, sim.fetchTarget('f') ?? new Uint8Array()), trustCode('length_or_hash_mismatch'))
  })

  test('endless data: an oversized timestamp is refused by the bounded fetch', async () => {
    const sim = new RepositorySimulator().inflate('timestamp.json', 1_000_000)
    const { session } = await openMemorySession({ sim })
    await assert.rejects(session.refresh(), TooLargeError)
  })

  test('endless data: a target with extra bytes fails verification', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'f', Buffer.from('good')).updateSnapshot().inflateTarget('f', 1000)
    const { session } = await openMemorySession({ sim })
    const info = await session.findTarget('f')
    assert.ok(info)
    assert.throws(() => verifyTargetBytes(info, sim.fetchTarget('f') ?? new Uint8Array()), trustCode('length_or_hash_mismatch'))
  })

  test('extraneous dependencies: a role cannot vouch for paths it was not delegated', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'A', paths: ['a/*'] }).addTarget('A', 'b/evil', Buffer.from('x')).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    assert.equal(await session.findTarget('b/evil'), undefined)
  })

  test('fast-forward: after timestamp key rotation, a client recovers from an inflated timestamp version (5.3.11)', async () => {
    const sim = new RepositorySimulator()
    const { session } = await openMemorySession({ sim })
    sim.signed('timestamp').version = 999
    sim.updateTimestamp()
    await session.refresh()
    assert.equal(session.status().timestamp?.version, 1000)
    sim.signed('timestamp').version = 1
    sim.rotateKeys('timestamp').publishRoot().updateTimestamp()
    await session.refresh()
    assert.equal(session.status().timestamp?.version, 2)
  })

  test('fast-forward without key rotation is refused as rollback', async () => {
    const sim = new RepositorySimulator()
    const { session } = await openMemorySession({ sim })
    sim.signed('timestamp').version = 999
    sim.updateTimestamp()
    await session.refresh()
    sim.signed('timestamp').version = 1
    sim.updateTimestamp()
    await assert.rejects(session.refresh(), trustCode('rollback'))
  })

  test('indefinite freeze: an expired timestamp is refused (5.4.4)', async () => {
    const sim = new RepositorySimulator()
    const { session } = await openMemorySession({ sim, clock: fixedClock(sim.nowMs + 2 * DAY_MS) })
    await session.refresh()
    sim.expire('timestamp', sim.nowMs + DAY_MS).updateTimestamp()
    await assert.rejects(session.refresh(), trustCode('expired'))
  })

  test('malicious mirror: metadata signed by the wrong key is refused', async () => {
    const sim = new RepositorySimulator().signWith('snapshot', [generateKey()])
    const { session, store } = await openMemorySession({ sim })
    await assert.rejects(session.refresh(), trustCode('bad_signature'))
    assert.equal(store.files.has('snapshot.json'), false, 'refused metadata is never persisted')
  })

  test('mix-and-match: an older targets beside a newer snapshot is refused (5.6.4)', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot().serveOldSnapshotTargets()
    const { session } = await openMemorySession({ sim })
    await assert.rejects(session.refresh(), trustCode('mix_and_match'))
  })

  test('rollback: an older timestamp than the trusted one is refused (5.4.3.1)', async () => {
    const sim = new RepositorySimulator()
    sim.updateTimestamp()
    const { session } = await openMemorySession({ sim })
    await session.refresh()
    sim.rollback('timestamp', 1)
    await assert.rejects(session.refresh(), trustCode('rollback'))
  })

  test('slow retrieval: a fetcher timeout fails the refresh and persists nothing new', async () => {
    const sim = new RepositorySimulator()
    const timeout = new Error('upstream timed out')
    const fetcher = simulatorFetcher(sim, { failWith: (name) => (name === 'snapshot.json' ? timeout : undefined) })
    const store = new MemoryStore()
    const { session } = await openMemorySession({ sim, store, fetcher })
    await assert.rejects(session.refresh(), (error: unknown) => error === timeout)
    assert.equal(store.files.has('snapshot.json'), false)
  })

  test('key compromise below threshold: one stolen targets key of two cannot sign alone', async () => {
    const sim = new RepositorySimulator()
    const keys = [generateKey(), generateKey()]
    sim.setRootRole('targets', keys, 2).publishRoot()
    sim.signWith('targets', [keys[0] ?? generateKey(), generateKey()]).invalidate('targets').updateSnapshot()
    const { session } = await openMemorySession({ sim })
    await assert.rejects(session.refresh(), trustCode('threshold_not_met'))
  })

  test('wrong software: bytes of another target do not match the requested target info', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'good', Buffer.from('good')).addTarget('targets', 'other', Buffer.from('othr')).updateSnapshot()
    const { session } = await openMemorySession({ sim })
    const info = await session.findTarget('good')
    assert.ok(info)
    assert.throws(() => verifyTargetBytes(info, sim.fetchTarget('other') ?? new Uint8Array()), trustCode('length_or_hash_mismatch'))
  })

  test('TUF cannot tell: a repository re-signed with online keys only is accepted', async () => {
    const sim = new RepositorySimulator()
    const { session } = await openMemorySession({ sim })
    await session.refresh()
    sim.resignWithOnlineKeys()
    await session.refresh()
    assert.equal(session.status().snapshot?.version, 2)
  })
})

describe('TufSession: one verified state, replaced only whole', () => {
  test('a refresh whose changed delegated role fails verification keeps the whole current state, and the next valid state is adopted', async () => {
    const sim = new RepositorySimulator()
    const claimedKey = generateKey()
    sim.addDelegation('targets', { name: 'claimed', paths: ['claimed/*'], keys: [claimedKey] })
    sim.addTarget('claimed', 'claimed/a', Buffer.from('a1')).updateSnapshot()
    const { session, store } = await openMemorySession({ sim })
    assert.ok(await session.findTarget('claimed/a'), 'claimed is loaded into the state')
    const before = { timestamp: session.verifiedBytes('timestamp.json'), snapshot: session.verifiedBytes('snapshot.json'), claimed: session.verifiedBytes('claimed.json') }

    // An attacker with the online keys re-signs claimed (offline key) with a wrong key.
    sim.addTarget('claimed', 'claimed/b', Buffer.from('evil'))
    sim.signWith('claimed', [generateKey()]).updateSnapshot()
    await assert.rejects(session.refresh(), trustCode('bad_signature'))
    assert.deepEqual(session.verifiedBytes('timestamp.json'), before.timestamp, 'the new timestamp is not served beside the old claimed')
    assert.deepEqual(session.verifiedBytes('snapshot.json'), before.snapshot)
    assert.deepEqual(session.verifiedBytes('claimed.json'), before.claimed)
    assert.equal(await session.findTarget('claimed/b'), undefined)
    assert.deepEqual(store.files.get('timestamp.json'), before.timestamp, 'nor is it stored')

    // The repository repairs claimed: a valid newer state, adopted whole.
    sim.signWith('claimed', [claimedKey]).updateSnapshot()
    await session.refresh()
    assert.equal((await session.findTarget('claimed/b'))?.length, 4)
    assert.notDeepEqual(session.verifiedBytes('timestamp.json'), before.timestamp)
  })

  test('a reopened session holds exactly the state that was in force (never a timestamp of a refused refresh)', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'claimed', paths: ['claimed/*'], keys: [generateKey()] })
    sim.addTarget('claimed', 'claimed/a', Buffer.from('a1')).updateSnapshot()
    const { session, store } = await openMemorySession({ sim })
    await session.findTarget('claimed/a')
    const version = session.status().timestamp?.version
    sim.addTarget('claimed', 'claimed/b', Buffer.from('evil'))
    sim.signWith('claimed', [generateKey()]).updateSnapshot()
    await assert.rejects(session.refresh())
    const offline = { fetch: async () => Promise.reject(new Error('connection refused')) }
    const reopened = (await openMemorySession({ sim, store, fetcher: offline, extra: { trustLocalMetadata: true } })).session
    assert.equal(reopened.status().timestamp?.version, version)
    assert.equal((await reopened.findTarget('claimed/a'))?.length, 2)
  })

  test('a long-lived state refuses a target whose delegated role expired since it was verified, without a refresh', async () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'bin', paths: ['*'] }).addTarget('bin', 'f', Buffer.from('x'))
    sim.expire('bin', sim.nowMs + DAY_MS).updateSnapshot()
    const clock = fixedClock(sim.nowMs)
    const { session } = await openMemorySession({ sim, clock })
    const found = await session.lookupTarget('f')
    assert.equal(found?.validUntilMs, sim.nowMs + DAY_MS - (sim.nowMs + DAY_MS) % 1000, 'the answer is bounded by the delegated role')
    clock.advanceMs(2 * DAY_MS)
    await assert.rejects(session.lookupTarget('f'), trustCode('expired'))
  })

  test('stored root history is served only as far as it chains from the trusted root (TUF 5.3.4)', async () => {
    const sim = new RepositorySimulator()
    sim.publishRoot().publishRoot()
    const { session, store } = await openMemorySession({ sim, extra: { keepRootHistory: true } })
    await session.refresh()
    assert.equal(session.status().rootVersion, 3)
    store.files.set('2.root.json', Buffer.from(sim.trustedRoot(1)))
    const reopened = (await openMemorySession({ sim, store, extra: { keepRootHistory: true } })).session
    assert.ok(reopened.verifiedBytes('1.root.json'), 'the trusted root itself')
    assert.equal(reopened.verifiedBytes('2.root.json'), undefined, 'a stored 2.root.json that is not root 2 is not served')
    const intact = new MemoryStore()
    for (const [name, bytes] of store.files) intact.files.set(name, bytes)
    intact.files.set('2.root.json', Buffer.from(sim.trustedRoot(2)))
    const good = (await openMemorySession({ sim, store: intact, extra: { keepRootHistory: true } })).session
    assert.deepEqual(good.verifiedBytes('2.root.json'), Buffer.from(sim.trustedRoot(2)))
  })
})
