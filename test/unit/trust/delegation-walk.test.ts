// TUF 5.6.7: the pre-order depth-first delegation search, driven synchronously over the
// simulator; the order of roles requested is the order a client would fetch them.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TrustedSet, isDelegatedPath, metadataFileName, prepareTargetPath, walkDelegations, type DelegatedRole, type TargetFile } from '../../../src/trust/index.js'
import { RepositorySimulator, type RoleDelegation } from '../../helpers/repository-simulator.js'

function must(bytes: Uint8Array | undefined): Uint8Array {
  assert.ok(bytes)
  return bytes
}

function find(sim: RepositorySimulator, path: string, maxDelegations?: number): { target: TargetFile | undefined; visited: string[] } {
  const set = TrustedSet.fromTrustedRoot(sim.trustedRoot(), { now: sim.nowMs })
  set.updateTimestamp(must(sim.fetch('timestamp.json')))
  set.updateSnapshot(must(sim.fetch('snapshot.json')))
  set.updateTargets(must(sim.fetch('targets.json')))
  const visited: string[] = []
  const walk = walkDelegations(set, path, maxDelegations)
  let step = walk.next()
  while (!step.done) {
    visited.push(step.value.role)
    set.updateDelegatedTargets(must(sim.fetch(metadataFileName(step.value.role))), step.value.role, step.value.delegator)
    step = walk.next()
  }
  return { target: step.value, visited }
}

function graph(edges: Array<[string, RoleDelegation]>, targets: Array<[string, string]> = []): RepositorySimulator {
  const sim = new RepositorySimulator()
  for (const [delegator, delegation] of edges) sim.addDelegation(delegator, delegation)
  for (const [role, path] of targets) sim.addTarget(role, path, Buffer.from(`${role}:${path}`))
  return sim.updateSnapshot()
}

describe('delegation walk (TUF 5.6.7)', () => {
  test('a target in top-level targets needs no delegated role', () => {
    const sim = graph([['targets', { name: 'A' }]], [['targets', 'f']])
    const { target, visited } = find(sim, 'f')
    assert.deepEqual(visited, [])
    assert.equal(target?.path, 'f')
  })

  test('visits delegations pre-order, depth first, in listed order (5.6.7.2)', () => {
    const sim = graph([['targets', { name: 'A' }], ['targets', { name: 'B' }], ['A', { name: 'C' }], ['B', { name: 'D' }]])
    assert.deepEqual(find(sim, 'missing').visited, ['A', 'C', 'B', 'D'])
  })

  test('stops at the first role that lists the target, in trust order', () => {
    const sim = graph([['targets', { name: 'A' }], ['targets', { name: 'B' }]], [['A', 'f'], ['B', 'f']])
    const { target, visited } = find(sim, 'f')
    assert.deepEqual(visited, ['A'])
    assert.equal(target?.length, Buffer.byteLength('A:f'))
  })

  test('a terminating delegation ends the search after its subtree (5.6.7.2.1)', () => {
    const sim = graph([['targets', { name: 'A', terminating: true }], ['targets', { name: 'B' }], ['A', { name: 'C' }]], [['B', 'f']])
    const { target, visited } = find(sim, 'f')
    assert.deepEqual(visited, ['A', 'C'])
    assert.equal(target, undefined)
  })

  test('a terminating delegation deeper down also drops roles still waiting higher up (5.6.7.2.1)', () => {
    const sim = graph([['targets', { name: 'A' }], ['targets', { name: 'B' }], ['A', { name: 'C', terminating: true }], ['A', { name: 'D' }]], [['B', 'f']])
    assert.deepEqual(find(sim, 'f'), { target: undefined, visited: ['A', 'C'] })
  })

  test('succinct bins deeper down are terminating too: later roles are not searched (TAP 15)', () => {
    const sim = graph([['targets', { name: 'A' }], ['targets', { name: 'B' }]], [['B', 'f']])
    sim.addSuccinctRoles('A', 2, 'bin').updateSnapshot()
    const { target, visited } = find(sim, 'f')
    assert.deepEqual(visited, ['A', sim.binOf('A', 'f')])
    assert.equal(target, undefined)
  })

  test('a non-matching terminating delegation does not end the search', () => {
    const sim = graph([['targets', { name: 'A', terminating: true, paths: ['other/*'] }], ['targets', { name: 'B' }]], [['B', 'f']])
    assert.deepEqual(find(sim, 'f').visited, ['B'])
  })

  test('roles whose paths do not match the target are skipped (extraneous dependencies)', () => {
    const sim = graph([['targets', { name: 'A', paths: ['a/*'] }], ['targets', { name: 'B', paths: ['b/*'] }]], [['A', 'b/evil'], ['B', 'b/good']])
    assert.deepEqual(find(sim, 'b/evil'), { target: undefined, visited: ['B'] })
  })

  test('cycles are visited once (a role name is never revisited)', () => {
    const sim = graph([['targets', { name: 'A' }], ['A', { name: 'B' }], ['B', { name: 'A' }]])
    assert.deepEqual(find(sim, 'f').visited, ['A', 'B'])
  })

  test('at most maxDelegations delegated roles are visited', () => {
    const sim = graph([['targets', { name: 'A' }], ['A', { name: 'B' }], ['B', { name: 'C' }], ['C', { name: 'D' }]], [['D', 'f']])
    assert.deepEqual(find(sim, 'f', 2), { target: undefined, visited: ['A', 'B'] })
    assert.equal(find(sim, 'f').target?.path, 'f')
  })

  test('succinct hash bins: exactly the bin of the path is visited (TAP 15)', () => {
    const sim = new RepositorySimulator()
    sim.addSuccinctRoles('targets', 8, 'bin')
    const bin = sim.binOf('targets', 'pkg/file.whl')
    sim.addTarget(bin, 'pkg/file.whl', Buffer.from('wheel')).updateSnapshot()
    assert.match(bin, /^bin-[0-9a-f]{2}$/)
    assert.deepEqual(find(sim, 'pkg/file.whl').visited, [bin])
    assert.equal(find(sim, 'pkg/file.whl').target?.length, 5)
  })

  test('succinct bins are terminating: no other role is searched after the bin', () => {
    const sim = new RepositorySimulator()
    sim.addSuccinctRoles('targets', 1, 'half')
    const { visited, target } = find(sim.updateSnapshot(), 'x')
    assert.equal(visited.length, 1)
    assert.equal(target, undefined)
  })

  test('path_hash_prefixes select roles by SHA-256 of the path', () => {
    const prefix = prepareTargetPath('f').sha256Hex.slice(0, 2)
    const other = prefix === '00' ? '01' : '00'
    const sim = graph([['targets', { name: 'wrong', pathHashPrefixes: [other] }], ['targets', { name: 'right', pathHashPrefixes: [prefix] }]], [['right', 'f']])
    assert.deepEqual(find(sim, 'f').visited, ['right'])
  })
})

describe('delegated paths (TUF 4.5 "paths", fnmatch per segment)', () => {
  const role = (paths: string[]): DelegatedRole => ({ name: 'r', keyids: [], threshold: 1, terminating: false, paths })
  const cases: Array<[string[], string, boolean]> = [
    [['*'], 'file', true],
    [['*'], 'dir/file', false],
    [['dir/*'], 'dir/file', true],
    [['dir/*'], 'dir/sub/file', false],
    [['*/*'], 'dir/file', true],
    [['file?.txt'], 'file1.txt', true],
    [['file?.txt'], 'file12.txt', false],
    [['file[0-9].txt'], 'file7.txt', true],
    [['file[!0-9].txt'], 'file7.txt', false],
    [['file[!0-9].txt'], 'filex.txt', true],
    [['a.b'], 'aXb', false],
    [['[unclosed'], '[unclosed', true],
    [['*.tar.gz'], 'pkg.tar.gz', true],
    [['(x)+'], '(x)+', true],
  ]
  for (const [paths, target, expected] of cases) {
    test(`${JSON.stringify(paths)} ${expected ? 'matches' : 'does not match'} ${target}`, () => {
      assert.equal(isDelegatedPath(role(paths), prepareTargetPath(target)), expected)
    })
  }
})
