// Table-driven key rotation cases after python-tuf's test_updater_key_rotations.py (MdVersion):
// each case is a sequence of root versions with the keys root lists, its threshold and the
// keys that actually sign. TUF 5.3.4: root N+1 needs the threshold of root N and its own.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TrustedSet, TrustError } from '../../../src/trust/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { generateKey } from '../../helpers/sim-keys.js'
import { openMemorySession } from '../../helpers/tuf-memory.js'

interface MdVersion {
  readonly keys: readonly number[]
  readonly threshold: number
  readonly sigs: readonly number[]
  /** Expected refusal code for this version; absent means accepted. */
  readonly expect?: 'bad_signature' | 'threshold_not_met'
}

const ALL5 = [0, 1, 2, 3, 4]
const cases: Record<string, readonly MdVersion[]> = {
  '1-of-1 key rotation': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [2, 1] }, { keys: [2], threshold: 1, sigs: [2] }],
  '1-of-1 key rotation, unused signatures': [{ keys: [1], threshold: 1, sigs: [3, 4, 1] }, { keys: [2], threshold: 1, sigs: [2, 1, 3, 4] }, { keys: [2], threshold: 1, sigs: [2, 3, 4] }],
  '1-of-1 key rotation fails: not signed with old key': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [2, 3, 4], expect: 'bad_signature' }],
  '1-of-1 key rotation fails: not signed with new key': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [1, 3, 4], expect: 'bad_signature' }],
  '3-of-5, sign with different key combinations': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: ALL5, threshold: 3, sigs: [0, 4, 1] }, { keys: ALL5, threshold: 3, sigs: [0, 1, 3] }],
  '3-of-5, one key rotated': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4, 1] }],
  '3-of-5, one key rotation fails: not signed with 3 new keys': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 2, 4], expect: 'threshold_not_met' }],
  '3-of-5, one key rotation fails: not signed with 3 old keys': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4, 5], expect: 'threshold_not_met' }],
  '3-of-5, one key rotated with an intermediate step': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 2, 4, 5] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4, 5] }],
  '3-of-5, all keys rotated with an intermediate step': [{ keys: ALL5, threshold: 3, sigs: [0, 2, 4] }, { keys: [5, 6, 7, 8, 9], threshold: 3, sigs: [0, 2, 4, 5, 6, 7] }, { keys: [5, 6, 7, 8, 9], threshold: 3, sigs: [5, 6, 7] }],
  '1-of-3 threshold increased to 2-of-3': [{ keys: [1, 2, 3], threshold: 1, sigs: [1] }, { keys: [1, 2, 3], threshold: 2, sigs: [1, 2] }],
  '2-of-3 threshold decreased to 1-of-3': [{ keys: [1, 2, 3], threshold: 2, sigs: [1, 2] }, { keys: [1, 2, 3], threshold: 1, sigs: [1, 2] }, { keys: [1, 2, 3], threshold: 1, sigs: [1] }],
  '1-of-2 threshold increased to 2-of-2': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [1, 2], threshold: 2, sigs: [1, 2] }],
  '1-of-3 threshold bump to 2-of-3 fails: new threshold not reached': [{ keys: [1, 2, 3], threshold: 1, sigs: [1] }, { keys: [1, 2, 3], threshold: 2, sigs: [2], expect: 'threshold_not_met' }],
  '2-of-3 threshold decrease to 1-of-3 fails: old threshold not reached': [{ keys: [1, 2, 3], threshold: 2, sigs: [1, 2] }, { keys: [1, 2, 3], threshold: 1, sigs: [1], expect: 'threshold_not_met' }],
  '1-of-2 threshold bump to 2-of-2 fails: new root not signed by new key': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [1, 2], threshold: 2, sigs: [1], expect: 'threshold_not_met' }],
  '2-of-2 threshold bump to 3-of-3 fails: new root not signed by new key': [{ keys: [1, 2], threshold: 2, sigs: [1, 2] }, { keys: [1, 2, 3], threshold: 3, sigs: [1, 2], expect: 'threshold_not_met' }],
}

const pool = Array.from({ length: 10 }, () => generateKey())
const pick = (indices: readonly number[]) => indices.map((i) => pool[i] ?? pool[0] ?? generateKey())

describe('root key rotation (TUF 5.3.4, python-tuf MdVersion table)', () => {
  for (const [name, versions] of Object.entries(cases)) {
    test(name, () => {
      const sim = new RepositorySimulator()
      versions.forEach((version, index) => {
        sim.setRootRole('root', pick(version.keys), version.threshold)
        if (index === 0) sim.resetInitialRoot(pick(version.sigs))
        else sim.publishRoot(pick(version.sigs))
      })
      const set = TrustedSet.fromTrustedRoot(sim.trustedRoot(), { now: sim.nowMs })
      for (let v = 2; v <= versions.length; v++) {
        const expected = versions[v - 1]?.expect
        const bytes = sim.trustedRoot(v)
        if (!expected) {
          assert.equal(set.updateRoot(bytes).version, v)
          continue
        }
        assert.throws(() => set.updateRoot(bytes), (error: unknown) => error instanceof TrustError && error.code === expected)
        assert.equal(set.root.version, v - 1, 'the last good root stays trusted')
        return
      }
    })
  }
})

describe('top-level role key rotation (python-tuf test_non_root_rotations)', () => {
  for (const role of ['timestamp', 'snapshot', 'targets']) {
    for (const [name, versions] of Object.entries(cases)) {
      test(`${role}: ${name}`, async () => {
        const sim = new RepositorySimulator()
        const { session } = await openMemorySession({ sim })
        for (const version of versions) {
          sim.setRootRole(role, pick(version.keys), version.threshold).publishRoot()
          sim.signWith(role, pick(version.sigs)).invalidate(role).updateSnapshot()
          // Only the keys root now lists for the role count: old keys give no authority here.
          const valid = version.sigs.filter((sig) => version.keys.includes(sig)).length
          if (valid >= version.threshold) await session.refresh()
          else await assert.rejects(session.refresh(), (error: unknown) => error instanceof TrustError && error.code === (valid === 0 ? 'bad_signature' : 'threshold_not_met'))
        }
      })
    }
  }
})
