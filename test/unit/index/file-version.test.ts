/** The version a distribution file's name carries, read as installers read it. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileVersion } from '../../../src/index/index.js'
import { ReleasePolicy } from '../../../src/policy/index.js'

describe('file versions', () => {
  test('wheels, eggs and sdists whose names hold hyphens', () => {
    assert.equal(fileVersion('requests', 'requests-2.31.0-1-py3-none-any.whl'), '2.31.0')
    assert.equal(fileVersion('acme-utils', 'acme-utils-1.0.tar.gz'), '1.0')
    assert.equal(fileVersion('acme-utils', 'acme_utils-1.0.tar.gz'), '1.0')
    assert.equal(fileVersion('setuptools', 'setuptools-0.6c11-py2.7.egg'), '0.6c11')
  })

  test('a legacy sdist version with a hyphen is read whole, as pip reads it: 2.99.0-1 is 2.99.0.post1', () => {
    assert.equal(fileVersion('requests', 'requests-2.99.0-1.tar.gz'), '2.99.0-1')
    // The deny rule of a post-release must hold for the spelling pip resolves to that release.
    const policy = new ReleasePolicy({ minReleaseAgeSeconds: 0, releaseAgeClock: 'upload-time', missingUploadTime: 'deny', exempt: [], deny: ['requests==2.99.0.post1'], allowOnly: [], yanked: 'serve' })
    const verdict = policy.fileVerdict('requests', { version: fileVersion('requests', 'requests-2.99.0-1.tar.gz'), uploadTimeMs: undefined, firstSeenMs: undefined, isYanked: false }, 0)
    assert.equal(verdict.kind === 'refuse' ? verdict.reason : verdict.kind, 'denied_by_policy')
  })
})
