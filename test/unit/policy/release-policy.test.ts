/**
 * The release policy's verdicts: cooldown on both clocks with exemptions, a missing upload time
 * either way, deny by name glob or by version (failing closed on an unreadable version),
 * allow-only, and yanked files hidden; and entries that cannot be used name themselves.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { PolicyOptionError, ReleasePolicy, type FileEvidence, type ReleasePolicyOptions } from '../../../src/policy/index.js'

const DAY_MS = 86_400_000
const NOW_MS = Date.parse('2026-06-10T12:00:00Z')
const BASE: ReleasePolicyOptions = { minReleaseAgeSeconds: 0, releaseAgeClock: 'upload-time', missingUploadTime: 'deny', exempt: [], deny: [], allowOnly: [], yanked: 'serve' }

function policy(options: Partial<ReleasePolicyOptions>): ReleasePolicy {
  return new ReleasePolicy({ ...BASE, ...options })
}

function file(evidence: Partial<FileEvidence>): FileEvidence {
  return { version: '1.0', uploadTimeMs: NOW_MS - 10 * DAY_MS, firstSeenMs: undefined, isYanked: false, ...evidence }
}

describe('release policy', () => {
  test('cooldown on the upload-time clock: too new until the age is reached, with the time it becomes available', () => {
    const threeDays = policy({ minReleaseAgeSeconds: 3 * 86_400 })
    const young = threeDays.fileVerdict('requests', file({ uploadTimeMs: NOW_MS - DAY_MS }), NOW_MS)
    assert.equal(young.kind, 'refuse')
    assert.equal(young.kind === 'refuse' && young.reason, 'too_new')
    assert.equal(young.kind === 'refuse' && young.availableAtMs, NOW_MS + 2 * DAY_MS)
    assert.deepEqual(threeDays.fileVerdict('requests', file({ uploadTimeMs: NOW_MS - 3 * DAY_MS }), NOW_MS), { kind: 'serve', recheckAtMs: Infinity })
  })

  test('cooldown on the first-seen clock ignores the upload time the index claims', () => {
    const firstSeen = policy({ minReleaseAgeSeconds: 3 * 86_400, releaseAgeClock: 'first-seen' })
    assert.ok(firstSeen.needsFirstSeen)
    const claimedOld = firstSeen.fileVerdict('requests', file({ uploadTimeMs: NOW_MS - 100 * DAY_MS, firstSeenMs: NOW_MS - DAY_MS }), NOW_MS)
    assert.equal(claimedOld.kind === 'refuse' && claimedOld.reason, 'too_new')
  })

  test('exempt projects skip the cooldown, by glob on normalized names', () => {
    const exempt = policy({ minReleaseAgeSeconds: 86_400, exempt: ['Certi_fi', 'acme-*'] })
    assert.equal(exempt.fileVerdict('certi-fi', file({ uploadTimeMs: NOW_MS }), NOW_MS).kind, 'serve')
    assert.equal(exempt.fileVerdict('acme-utils', file({ uploadTimeMs: NOW_MS }), NOW_MS).kind, 'serve')
    assert.equal(exempt.fileVerdict('requests', file({ uploadTimeMs: NOW_MS }), NOW_MS).kind, 'refuse')
  })

  test('a missing upload time is denied by default and allowed on request', () => {
    const denied = policy({ minReleaseAgeSeconds: 60 }).fileVerdict('requests', file({ uploadTimeMs: undefined }), NOW_MS)
    assert.equal(denied.kind === 'refuse' && denied.reason, 'no_upload_time')
    assert.equal(policy({ minReleaseAgeSeconds: 60, missingUploadTime: 'allow' }).fileVerdict('requests', file({ uploadTimeMs: undefined }), NOW_MS).kind, 'serve')
    // Without a cooldown nothing needs the time.
    assert.equal(policy({}).fileVerdict('requests', file({ uploadTimeMs: undefined }), NOW_MS).kind, 'serve')
  })

  test('deny: whole projects by glob, versions by PEP 440 specifier, an unreadable version fails closed', () => {
    const deny = policy({ deny: ['evil-*', 'requests==2.99.0', 'urllib3>=3,<3.2'] })
    assert.match(deny.projectRefusal('evil-thing') ?? '', /policy\.deny entry "evil-\*"/)
    assert.equal(deny.projectRefusal('requests'), undefined)
    const verdict = (project: string, version: string | undefined) => deny.fileVerdict(project, file({ version }), NOW_MS)
    assert.equal(verdict('requests', '2.99.0').kind, 'refuse')
    assert.equal(verdict('requests', '2.99').kind, 'refuse')
    assert.equal(verdict('requests', '2.98.0').kind, 'serve')
    assert.equal(verdict('urllib3', '3.1.5').kind, 'refuse')
    assert.equal(verdict('urllib3', '3.2').kind, 'serve')
    // A resolver skips pre-releases by default (PEP 440 §Handling of pre-releases); a deny rule must not.
    assert.equal(verdict('urllib3', '3.1rc1').kind, 'refuse')
    const unreadable = verdict('requests', undefined)
    assert.equal(unreadable.kind === 'refuse' && unreadable.reason, 'denied_by_policy')
  })

  test('allow-only: only listed projects are served', () => {
    const allowOnly = policy({ allowOnly: ['requests', 'acme-*'] })
    assert.equal(allowOnly.projectRefusal('requests'), undefined)
    assert.equal(allowOnly.projectRefusal('acme-utils'), undefined)
    assert.match(allowOnly.projectRefusal('six') ?? '', /not on policy\.allow-only/)
    assert.equal(policy({}).projectRefusal('six'), undefined)
  })

  test('yanked: served by default (PEP 592), refused under hide', () => {
    assert.equal(policy({}).fileVerdict('requests', file({ isYanked: true }), NOW_MS).kind, 'serve')
    const hidden = policy({ yanked: 'hide' }).fileVerdict('requests', file({ isYanked: true }), NOW_MS)
    assert.equal(hidden.kind === 'refuse' && hidden.reason, 'yanked')
  })

  test('entries that cannot be used name themselves', () => {
    const problems: Array<[Partial<ReleasePolicyOptions>, RegExp]> = [
      [{ deny: ['requests', 'flask>=1.0.*'] }, /^policy\.deny\[1\]: .*trailing \.\*/],
      [{ deny: ['requests=2'] }, /^policy\.deny\[0\]: .*not a version specifier/],
      [{ exempt: ['cert/ifi'] }, /^policy\.exempt\[0\]: "cert\/ifi" is not a project name or glob/],
      [{ allowOnly: ['a b'] }, /^policy\.allow-only\[0\]/],
    ]
    for (const [options, message] of problems) assert.throws(() => policy(options), (error: unknown) => error instanceof PolicyOptionError && message.test(error.message))
  })
})
