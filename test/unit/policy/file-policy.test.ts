/**
 * policy/file-policy.ts: which evidence a file needs before it is served. Matrix of evidence ×
 * --require-hashes → verify / weak / IntegrityError('no_strong_hash').
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { IntegrityError } from '../../../src/base/index.js'
import { decideFile, type DigestEvidence } from '../../../src/policy/index.js'

const H = 'ab'.repeat(32)

const rows: Array<{ name: string; evidence: DigestEvidence; lax: 'verify' | 'weak'; strict: 'verify' | 'no_strong_hash' }> = [
  { name: 'sha256', evidence: { hashes: { sha256: H } }, lax: 'verify', strict: 'verify' },
  { name: 'sha384', evidence: { hashes: { sha384: H } }, lax: 'verify', strict: 'verify' },
  { name: 'sha512', evidence: { hashes: { sha512: H } }, lax: 'verify', strict: 'verify' },
  { name: 'blake2b_256 alone', evidence: { hashes: { blake2b_256: H } }, lax: 'verify', strict: 'verify' },
  { name: 'md5 beside sha256', evidence: { hashes: { md5: H, sha256: H } }, lax: 'verify', strict: 'verify' },
  { name: 'no hashes', evidence: { hashes: {} }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'md5 only', evidence: { hashes: { md5: H } }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'sha1 only', evidence: { hashes: { sha1: H } }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'sha224 only (112-bit collision resistance)', evidence: { hashes: { sha224: H } }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'upper-case SHA256 (names are found case-insensitively, as hashlib.new finds them)', evidence: { hashes: { SHA256: H } }, lax: 'verify', strict: 'verify' },
  { name: 'sha3_256', evidence: { hashes: { sha3_256: H } }, lax: 'verify', strict: 'verify' },
  { name: 'TUF spelling blake2b-256', evidence: { hashes: { 'blake2b-256': H } }, lax: 'verify', strict: 'verify' },
  { name: 'sha3_224 only', evidence: { hashes: { sha3_224: H } }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'an unknown name only', evidence: { hashes: { whirlpool: H } }, lax: 'weak', strict: 'no_strong_hash' },
  { name: 'size only (PEP 700)', evidence: { hashes: {}, expectedSize: 10 }, lax: 'weak', strict: 'no_strong_hash' },
]

describe('decideFile: evidence × requireHashes', () => {
  for (const row of rows) {
    test(`${row.name}, hashes not required → ${row.lax}`, () => {
      const decision = decideFile(row.evidence, { requireHashes: false })
      assert.equal(decision.kind, row.lax)
      assert.equal(decision.evidence, row.evidence, 'the evidence (size included) is carried to the verifier')
    })
    test(`${row.name}, --require-hashes → ${row.strict}`, () => {
      if (row.strict === 'verify') {
        assert.equal(decideFile(row.evidence, { requireHashes: true }).kind, 'verify')
        return
      }
      assert.throws(
        () => decideFile(row.evidence, { requireHashes: true }),
        (error: unknown) => {
          assert.ok(error instanceof IntegrityError)
          assert.equal(error.code, 'no_strong_hash')
          assert.equal(error.message, 'the index lists no strong hash (sha256, sha512, sha384, sha3_256, sha3_512, sha3_384, blake2b, blake2s, blake2b_256) for this file and --require-hashes is set')
          return true
        },
      )
    })
  }
})
