// One test per TUF client-workflow rule (TUF 1.0.x §5), driving the engine directly with bytes
// from the repository simulator, after python-tuf's test_trusted_metadata_set.py.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TrustedSet, TrustError, EqualVersionError, type TrustErrorCode } from '../../../src/trust/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { generateKey } from '../../helpers/sim-keys.js'

const DAY_MS = 86_400_000

function must(bytes: Uint8Array | undefined, name = 'metadata'): Uint8Array {
  assert.ok(bytes, `simulator did not serve ${name}`)
  return bytes
}

function rejects(code: TrustErrorCode, run: () => unknown): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof TrustError, `expected a TrustError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return true
  })
}

function trusted(sim: RepositorySimulator, nowMs = sim.nowMs): TrustedSet {
  return TrustedSet.fromTrustedRoot(sim.trustedRoot(), { now: nowMs })
}

/** Loads timestamp, snapshot and targets as served right now. */
function loadTopLevel(set: TrustedSet, sim: RepositorySimulator): void {
  set.updateTimestamp(must(sim.fetch('timestamp.json')))
  set.updateSnapshot(must(sim.fetch('snapshot.json')))
  set.updateTargets(must(sim.fetch('targets.json')))
}

function reSigned(bytes: Uint8Array, edit: (envelope: { signed: Record<string, unknown>; signatures: unknown[] }) => void): Uint8Array {
  const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed: Record<string, unknown>; signatures: unknown[] }
  edit(envelope)
  return Buffer.from(JSON.stringify(envelope))
}

describe('trusted root (TUF 5.2)', () => {
  test('loads a self-signed root', () => {
    assert.equal(trusted(new RepositorySimulator()).root.version, 1)
  })

  test('rejects a trusted root whose signature does not verify (5.2)', () => {
    const sim = new RepositorySimulator()
    const bad = reSigned(sim.trustedRoot(), (envelope) => void (envelope.signed['version'] = 1, (envelope.signed['expires'] = '2099-01-01T00:00:00Z')))
    rejects('bad_signature', () => TrustedSet.fromTrustedRoot(bad, { now: sim.nowMs }))
  })

  test('rejects a trusted root without a version (malformed)', () => {
    const sim = new RepositorySimulator()
    rejects('malformed', () => TrustedSet.fromTrustedRoot(reSigned(sim.trustedRoot(), (envelope) => void delete envelope.signed['version']), { now: sim.nowMs }))
  })

  test('an expired trusted root may still be loaded; expiry is checked on the final root (5.3.10)', () => {
    const sim = new RepositorySimulator()
    const set = trusted(sim, sim.nowMs + 400 * DAY_MS)
    rejects('expired', () => set.updateTimestamp(must(sim.fetch('timestamp.json'))))
  })
})

describe('root update (TUF 5.3)', () => {
  test('accepts N+1 signed by old and new root keys after a root key rotation (5.3.4)', () => {
    const sim = new RepositorySimulator()
    sim.rotateKeys('root').publishRoot()
    assert.equal(trusted(sim).updateRoot(must(sim.fetch('2.root.json'))).version, 2)
  })

  test('rejects a new root not signed by the trusted root keys (5.3.4)', () => {
    const sim = new RepositorySimulator()
    sim.rotateKeys('root')
    sim.publishRoot(sim.signers.get('root'))
    rejects('bad_signature', () => trusted(sim).updateRoot(must(sim.fetch('2.root.json'))))
  })

  test('rejects a new root not signed by its own new keys (5.3.4)', () => {
    const sim = new RepositorySimulator()
    const old = sim.signers.get('root') ?? []
    sim.rotateKeys('root').publishRoot(old)
    rejects('bad_signature', () => trusted(sim).updateRoot(must(sim.fetch('2.root.json'))))
  })

  test('rejects a root that skips a version (5.3.5)', () => {
    const sim = new RepositorySimulator()
    sim.publishRoot().publishRoot()
    rejects('mix_and_match', () => trusted(sim).updateRoot(must(sim.fetch('3.root.json'))))
  })

  test('rejects a root that repeats the trusted version (5.3.5 rollback)', () => {
    const sim = new RepositorySimulator()
    rejects('rollback', () => trusted(sim).updateRoot(sim.trustedRoot()))
  })

  test('an expired intermediate root is fine when the final root is fresh (5.3.10)', () => {
    const sim = new RepositorySimulator()
    sim.expire('root', sim.nowMs - DAY_MS).publishRoot()
    sim.expire('root', sim.nowMs + DAY_MS).publishRoot()
    const set = trusted(sim)
    set.updateRoot(must(sim.fetch('2.root.json')))
    set.updateRoot(must(sim.fetch('3.root.json')))
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
  })

  test('rejects an expired final root (5.3.10)', () => {
    const sim = new RepositorySimulator()
    sim.expire('root', sim.nowMs - DAY_MS).publishRoot()
    const set = trusted(sim)
    set.updateRoot(must(sim.fetch('2.root.json')))
    rejects('expired', () => set.updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('root cannot be updated after timestamp (misuse is a plain Error)', () => {
    const sim = new RepositorySimulator()
    sim.publishRoot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    assert.throws(() => set.updateRoot(must(sim.fetch('2.root.json'))), (error: unknown) => error instanceof Error && !(error instanceof TrustError))
  })
})

describe('timestamp update (TUF 5.4)', () => {
  test('rejects a timestamp signed by a key root does not list (5.4.2)', () => {
    const sim = new RepositorySimulator().signWith('timestamp', [generateKey()])
    rejects('bad_signature', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects a timestamp whose version goes backwards (5.4.3.1)', () => {
    const sim = new RepositorySimulator()
    const v1 = must(sim.fetch('timestamp.json'))
    sim.updateTimestamp()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    rejects('rollback', () => set.updateTimestamp(v1))
  })

  test('an equal timestamp version is EqualVersionError: nothing new (5.4.3.1)', () => {
    const sim = new RepositorySimulator()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    assert.throws(() => set.updateTimestamp(must(sim.fetch('timestamp.json'))), EqualVersionError)
  })

  test('rejects a timestamp whose snapshot version goes backwards (5.4.3.2)', () => {
    const sim = new RepositorySimulator()
    sim.updateSnapshot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    ;(sim.signed('timestamp')['meta'] as Record<string, { version: number }>)['snapshot.json'] = { version: 1 }
    sim.signed('timestamp').version += 1
    sim.invalidate('timestamp')
    rejects('rollback', () => set.updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects an expired timestamp (5.4.4, indefinite freeze) but keeps it for rollback checks', () => {
    const sim = new RepositorySimulator()
    sim.expire('timestamp', sim.nowMs - DAY_MS).updateTimestamp()
    const set = trusted(sim)
    rejects('expired', () => set.updateTimestamp(must(sim.fetch('timestamp.json'))))
    assert.equal(set.timestamp?.version, 2)
    assert.throws(() => set.updateSnapshot(must(sim.fetch('snapshot.json'))), (error: unknown) => error instanceof TrustError && error.code === 'expired')
  })

  test('rejects timestamp metadata labelled as another role', () => {
    const sim = new RepositorySimulator().mislabel('timestamp.json', 'snapshot')
    rejects('malformed', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects an unsupported spec_version major version', () => {
    const sim = new RepositorySimulator()
    sim.signed('timestamp').spec_version = '2.0.0'
    sim.invalidate('timestamp')
    rejects('malformed', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects an expires value that is not YYYY-MM-DDTHH:MM:SSZ', () => {
    const sim = new RepositorySimulator()
    sim.signed('timestamp').expires = '2099-01-01T00:00:00.000+00:00'
    sim.invalidate('timestamp')
    rejects('malformed', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects duplicate signature keyids even when the threshold is met', () => {
    const sim = new RepositorySimulator().duplicateSignature('timestamp.json')
    rejects('malformed', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects a timestamp larger than the limit (endless data)', () => {
    const sim = new RepositorySimulator().inflate('timestamp.json', 20_000)
    rejects('length_or_hash_mismatch', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })

  test('rejects bytes that are not JSON', () => {
    const sim = new RepositorySimulator().malformed('timestamp.json', '{"signed": ')
    rejects('malformed', () => trusted(sim).updateTimestamp(must(sim.fetch('timestamp.json'))))
  })
})

describe('snapshot update (TUF 5.5)', () => {
  test('rejects a snapshot whose hash does not match timestamp meta (5.5.2)', () => {
    const sim = new RepositorySimulator({ metaHashes: true })
    sim.updateSnapshot().corruptBytes('snapshot.json')
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    rejects('length_or_hash_mismatch', () => set.updateSnapshot(must(sim.fetch('snapshot.json'))))
  })

  test('a locally cached snapshot skips the hash check (python-tuf trusted=True)', () => {
    const sim = new RepositorySimulator({ metaHashes: true })
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    const padded = Buffer.concat([must(sim.fetch('snapshot.json')), Buffer.from(' ')])
    rejects('length_or_hash_mismatch', () => set.updateSnapshot(padded))
    assert.equal(set.updateSnapshot(padded, { fromLocalCache: true }).version, 1)
  })

  test('rejects a snapshot not signed by the snapshot keys (5.5.3)', () => {
    const sim = new RepositorySimulator().signWith('snapshot', [generateKey()])
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    rejects('bad_signature', () => set.updateSnapshot(must(sim.fetch('snapshot.json'))))
  })

  test('rejects a snapshot version other than the one timestamp announces (5.5.4 mix-and-match)', () => {
    const sim = new RepositorySimulator()
    const v1 = must(sim.fetch('snapshot.json'))
    sim.updateSnapshot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    rejects('mix_and_match', () => set.updateSnapshot(v1))
  })

  /** python-tuf's order: local then remote timestamp, then the local snapshot as the intermediate one. */
  function withIntermediateSnapshot(sim: RepositorySimulator, oldVersion: number): TrustedSet {
    const set = trusted(sim)
    set.updateTimestamp(must(sim.historicBytes('timestamp', oldVersion)))
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    // the old local snapshot is kept as intermediate even though it is no longer final
    rejects('mix_and_match', () => set.updateSnapshot(must(sim.historicBytes('snapshot', oldVersion)), { fromLocalCache: true }))
    return set
  }

  test('rejects a new snapshot that rolls back a targets version (5.5.5)', () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'a', Buffer.from('a')).updateSnapshot()
    ;(sim.signed('snapshot')['meta'] as Record<string, { version: number }>)['targets.json'] = { version: 1 }
    sim.invalidate('snapshot').updateSnapshot()
    const set = withIntermediateSnapshot(sim, 2)
    rejects('rollback', () => set.updateSnapshot(must(sim.fetch('snapshot.json'))))
  })

  test('rejects a new snapshot that drops a targets role (5.5.5)', () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'a' }).updateSnapshot()
    sim.dropFromSnapshot('a').updateSnapshot()
    const set = withIntermediateSnapshot(sim, 2)
    rejects('repository', () => set.updateSnapshot(must(sim.fetch('snapshot.json'))))
  })

  test('rejects an expired snapshot (5.5.6)', () => {
    const sim = new RepositorySimulator()
    sim.expire('snapshot', sim.nowMs - DAY_MS).invalidate('snapshot').updateSnapshot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    rejects('expired', () => set.updateSnapshot(must(sim.fetch('snapshot.json'))))
  })

  test('snapshot cannot be loaded before timestamp (misuse is a plain Error)', () => {
    const sim = new RepositorySimulator()
    assert.throws(() => trusted(sim).updateSnapshot(must(sim.fetch('snapshot.json'))), (error: unknown) => !(error instanceof TrustError))
  })
})

describe('targets update (TUF 5.6)', () => {
  test('loads top-level targets listed in snapshot', () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'file.txt', Buffer.from('x')).updateSnapshot()
    const set = trusted(sim)
    loadTopLevel(set, sim)
    assert.equal(set.targets?.targets.get('file.txt')?.length, 1)
  })

  test('rejects targets whose hash does not match snapshot meta (5.6.2)', () => {
    const sim = new RepositorySimulator({ metaHashes: true })
    sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot().corruptBytes('targets.json')
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    set.updateSnapshot(must(sim.fetch('snapshot.json')))
    rejects('length_or_hash_mismatch', () => set.updateTargets(must(sim.fetch('targets.json'))))
  })

  test('rejects targets not signed by the targets keys (5.6.3)', () => {
    const sim = new RepositorySimulator()
    sim.signWith('targets', [generateKey()]).invalidate('targets').updateSnapshot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    set.updateSnapshot(must(sim.fetch('snapshot.json')))
    rejects('bad_signature', () => set.updateTargets(must(sim.fetch('targets.json'))))
  })

  test('rejects targets whose version is not the one snapshot lists (5.6.4 mix-and-match)', () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot().serveOldSnapshotTargets()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    set.updateSnapshot(must(sim.fetch('snapshot.json')))
    rejects('mix_and_match', () => set.updateTargets(must(sim.fetch('targets.json'))))
  })

  test('rejects expired targets (5.6.5)', () => {
    const sim = new RepositorySimulator()
    sim.expire('targets', sim.nowMs - DAY_MS).updateSnapshot()
    const set = trusted(sim)
    set.updateTimestamp(must(sim.fetch('timestamp.json')))
    set.updateSnapshot(must(sim.fetch('snapshot.json')))
    rejects('expired', () => set.updateTargets(must(sim.fetch('targets.json'))))
  })

  test('rejects a delegated role that snapshot does not list (5.6.1)', () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'a' }).updateSnapshot().dropFromSnapshot('a').updateSnapshot()
    const set = trusted(sim)
    loadTopLevel(set, sim)
    rejects('repository', () => set.updateDelegatedTargets(must(sim.fetch('a.json')), 'a', 'targets'))
  })

  test('a delegated role is verified with the keys its delegator assigns (5.6.3)', () => {
    const sim = new RepositorySimulator()
    sim.addDelegation('targets', { name: 'a' }).updateSnapshot()
    sim.signWith('a', [generateKey()])
    const set = trusted(sim)
    loadTopLevel(set, sim)
    rejects('bad_signature', () => set.updateDelegatedTargets(must(sim.fetch('a.json')), 'a', 'targets'))
  })

  test('a role trusted through one delegator is not trusted through another until verified for it', () => {
    const sim = new RepositorySimulator()
    const key = generateKey()
    sim.addDelegation('targets', { name: 'p1', paths: ['x/*'] }).addDelegation('targets', { name: 'p2', paths: ['y/*'] })
    sim.addDelegation('p1', { name: 'r', keys: [key] }).addDelegation('p2', { name: 'r', keys: [generateKey()] })
    sim.signWith('r', [key]).updateSnapshot()
    const set = trusted(sim)
    loadTopLevel(set, sim)
    set.updateDelegatedTargets(must(sim.fetch('p1.json')), 'p1', 'targets')
    set.updateDelegatedTargets(must(sim.fetch('p2.json')), 'p2', 'targets')
    set.updateDelegatedTargets(must(sim.fetch('r.json')), 'r', 'p1')
    assert.equal(set.getTargets('r', 'p2'), undefined)
    rejects('bad_signature', () => set.updateDelegatedTargets(must(sim.fetch('r.json')), 'r', 'p2'))
  })
})
