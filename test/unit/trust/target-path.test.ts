import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { consistentTargetPaths, metadataFileName, quoteRoleName, targetDownloadPath, verifyTargetBytes, LengthOrHashMismatchError, type TargetFile } from '../../../src/trust/index.js'
import { createHash } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'

const bytes = Buffer.from('payload')
const sha256 = createHash('sha256').update(bytes).digest('hex')
const sha512 = createHash('sha512').update(bytes).digest('hex')
const info = (hashes: Record<string, string>, length = bytes.byteLength, path = 'dir/sub/file.whl'): TargetFile => ({ path, length, hashes, unrecognized: {} })

describe('role names in URLs (python quote(role, ""))', () => {
  const cases: Array<[string, string]> = [
    ['plain-role_1.x~', 'plain-role_1.x~'],
    ['?', '%3F'],
    ['#', '%23'],
    ['/x', '%2Fx'],
    ['../x', '..%2Fx'],
    ["a b!'()*", 'a%20b%21%27%28%29%2A'],
    ['é', '%C3%A9'],
  ]
  for (const [role, quoted] of cases) test(`${JSON.stringify(role)} → ${quoted}`, () => assert.equal(quoteRoleName(role), quoted))

  test('metadata file names carry the version with consistent snapshots (TUF 5.6.1)', () => {
    assert.equal(metadataFileName('../x'), '..%2Fx.json')
    assert.equal(metadataFileName('snapshot', 7), '7.snapshot.json')
  })
})

describe('target download names (TUF 5.7.3)', () => {
  test('consistent snapshot: dir/HASH.filename for each hash, the first one downloaded', () => {
    const target = info({ sha256, sha512 })
    assert.deepEqual(consistentTargetPaths(target), [`dir/sub/${sha256}.file.whl`, `dir/sub/${sha512}.file.whl`])
    assert.equal(targetDownloadPath(target, true), `dir/sub/${sha256}.file.whl`)
  })

  test('a target at the top level gets no directory prefix', () => {
    assert.equal(targetDownloadPath(info({ sha256 }, 7, 'file'), true), `${sha256}.file`)
  })

  test('without consistent snapshot the path is used as is', () => {
    assert.equal(targetDownloadPath(info({ sha256 }), false), 'dir/sub/file.whl')
  })
})

describe('verifyTargetBytes (TUF 5.7.2, arbitrary installation / endless data)', () => {
  test('accepts matching length and every hash', () => verifyTargetBytes(info({ sha256, sha512 }), bytes))
  test('rejects a wrong length', () => assert.throws(() => verifyTargetBytes(info({ sha256 }, 6), bytes), LengthOrHashMismatchError))
  test('rejects when any listed hash differs', () => assert.throws(() => verifyTargetBytes(info({ sha256, sha512: '00'.repeat(64) }), bytes), LengthOrHashMismatchError))
  test('rejects an unknown hash algorithm instead of skipping it', () => assert.throws(() => verifyTargetBytes(info({ sha256, 'unknown-hash': sha512 }), bytes), LengthOrHashMismatchError))
  test('rejects tampered bytes', () => assert.throws(() => verifyTargetBytes(info({ sha256 }), Buffer.from('paylaod')), LengthOrHashMismatchError))
  test('checks Warehouse\'s blake2b-256 through the hash table (PEP 458), and refuses a wrong one', () => {
    const blake = Buffer.from(blake2b(bytes, { dkLen: 32 })).toString('hex')
    verifyTargetBytes(info({ 'blake2b-256': blake }), bytes)
    assert.throws(() => verifyTargetBytes(info({ 'blake2b-256': blake }), Buffer.from('paylaod')), LengthOrHashMismatchError)
  })
  test('refuses a weak algorithm even when it matches: signed metadata must bind with a strong hash', () => {
    const md5 = createHash('md5').update(bytes).digest('hex')
    assert.throws(() => verifyTargetBytes(info({ md5 }), bytes), { name: 'LengthOrHashMismatchError', message: /unsupported hash algorithm "md5"/ })
  })
})
