/**
 * Verifying mode against an independent client over generated repository histories (issue 8):
 * a fixed set of seeds, each a history of good releases, online-key compromises, offline-role
 * tampering, rollback, freeze, mix-and-match, endless data, stalls, mirror swaps, root rotations,
 * consistent_snapshot switches and proxy restarts (kill -9 or graceful), under the PEP 458
 * hash-bin or the PEP 480 claimed/recently-claimed/unclaimed layout; after every step tuf-js at
 * the repository, tuf-js through /tuf/, plain GETs and (every fourth step) pip through /simple/
 * are compared. The invariants are listed in test/helpers/tuf-differential.ts.
 *
 * `npm run fuzz:tuf` runs many more seeds. A history that found a defect is kept below as a
 * named regression case, spelled out step by step so a change to the generator cannot lose it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { requirePip } from '../helpers/pip.js'
import { formatFailure, runHistory } from '../helpers/tuf-differential.js'
import { generateHistory, type HistoryEntry, type HistorySpec, type Step } from '../helpers/tuf-history.js'

/** Chosen so that together they cover every step kind, both layouts and both consistent_snapshot settings. */
const FIXED_SEEDS = [57, 51, 49, 40, 58]
const STEPS = 12

function history(seed: number, layout: HistorySpec['layout'], consistentSnapshot: boolean, steps: ReadonlyArray<Step | [Step, { pip?: HistoryEntry['pip']; healFirst?: boolean }]>): HistorySpec {
  const entries = steps.map((entry): HistoryEntry => {
    const [step, options] = Array.isArray(entry) ? entry : [entry, {}]
    return { step, healFirst: options.healFirst ?? true, pip: options.pip }
  })
  return { seed, layout, consistentSnapshot, entries }
}

const REGRESSIONS: ReadonlyArray<{ readonly name: string; readonly spec: HistorySpec }> = [
  {
    // Found by seed 9: the first answer after --tuf-refresh comes from the previous state (defect 3).
    name: 'a good release is served on the first request after the refresh interval',
    spec: history(9, 'pep480', false, [{ kind: 'release', project: 'gamma' }, [{ kind: 'heal', project: 'beta' }, { pip: 'beta' }]]),
  },
  {
    // Found by seed 1: a bin served beside a snapshot that lists its next version (defect 1), then recovery (defect 2).
    name: 'mix-and-match of a hash bin keeps one consistent state for /tuf/ and /simple/, then the next good state is adopted',
    spec: history(1, 'pep458', true, [{ kind: 'mix', role: 'delegated', project: 'gamma' }, [{ kind: 'heal', project: 'gamma' }, { pip: 'gamma' }]]),
  },
  {
    // Found by seed 8: claimed re-signed with an online key is neither dropped nor kept out of /tuf/ (defects 1, 2).
    name: 'claimed signed with a wrong key is dropped, the earlier state stays whole, and the repaired claimed is adopted',
    spec: history(8, 'pep480', false, [{ kind: 'tamper', role: 'claimed' }, { kind: 'release', project: 'gamma' }, [{ kind: 'heal', project: 'alpha' }, { pip: 'alpha' }]]),
  },
  {
    // Found by seed 58: a stalled timestamp.json is not recorded as a drop before the answer (defect 7).
    name: 'a stalled timestamp is a slow-retrieval drop and the verified state keeps being served',
    spec: history(58, 'pep480', false, [{ kind: 'stall' }, { kind: 'heal', project: 'alpha' }]),
  },
  {
    // Found by fuzz seed 102: restarted (kill -9) while the repository's newest state was refused,
    // roles whose stored copy verified were answered 404 under /tuf/ while /simple/ served pages.
    name: 'a restart while the newest state is refused serves the stored roles under /tuf/ as under /simple/',
    spec: history(102, 'pep458', false, [
      [{ kind: 'swap', what: 'file', project: 'gamma' }, { healFirst: false }],
      { kind: 'endless', role: 'snapshot' },
      [{ kind: 'release', project: 'beta' }, { healFirst: false }],
      [{ kind: 'swap', what: 'file', project: 'gamma' }, { healFirst: false }],
      { kind: 'freeze', role: 'timestamp', project: 'beta' },
      [{ kind: 'restart', how: 'kill', releaseFirst: 'gamma' }, { healFirst: false }],
      [{ kind: 'heal', project: 'alpha' }, { pip: 'alpha' }],
    ]),
  },
]

describe('verifying mode, differential against tuf-js over generated histories (issue 8)', { concurrency: 4 }, () => {
  const pip = requirePip()
  for (const seed of FIXED_SEEDS) {
    test(`seed ${seed}: ${STEPS} steps`, pip, async () => {
      const result = await runHistory(generateHistory(seed, STEPS))
      assert.equal(result.failed, undefined, formatFailure(result))
    })
  }
  for (const { name, spec } of REGRESSIONS) {
    test(`regression (seed ${spec.seed}): ${name}`, pip, async () => {
      const result = await runHistory(spec)
      assert.equal(result.failed, undefined, formatFailure(result))
    })
  }
})
