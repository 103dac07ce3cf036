/**
 * base/hash.ts: the strong-hash allowlist and hashers. Digests are checked against node:crypto
 * and @noble/hashes directly, so a wrong algorithm mapping cannot pass.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'
import { STRONG_HASH_ALGORITHMS, createHasher, digestHex, hasStrongHash, hashesToCheck, isStrongHashAlgorithm, sha256Hex } from '../../../src/base/index.js'

const bytes = new TextEncoder().encode('tuf-proxy hash test vector')

describe('hashers', () => {
  test('known answer: sha256 of "abc" (FIPS 180-2)', () => {
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  for (const algorithm of STRONG_HASH_ALGORITHMS) {
    test(`${algorithm}: streaming equals one-shot equals the reference`, () => {
      const reference =
        algorithm === 'blake2b_256' ? Buffer.from(blake2b(bytes, { dkLen: 32 })).toString('hex') : createHash(algorithm).update(bytes).digest('hex')
      const hasher = createHasher(algorithm)
      for (let i = 0; i < bytes.length; i += 5) hasher.update(bytes.subarray(i, i + 5))
      assert.equal(hasher.digestHex(), reference)
      assert.equal(digestHex(algorithm, bytes), reference)
    })
  }

  test('blake2b_256 is 32 bytes, not BLAKE2b-512', () => {
    assert.equal(digestHex('blake2b_256', bytes).length, 64)
  })
})

describe('allowlist', () => {
  test('sha256, sha384, sha512, blake2b_256 are strong; md5, sha1, sha224, SHA256 are not', () => {
    for (const name of ['sha256', 'sha384', 'sha512', 'blake2b_256']) assert.equal(isStrongHashAlgorithm(name), true, name)
    for (const name of ['md5', 'sha1', 'sha224', 'SHA256', 'blake2b', 'blake2s_256', '']) assert.equal(isStrongHashAlgorithm(name), false, name)
  })

  test('hasStrongHash', () => {
    assert.equal(hasStrongHash({}), false)
    assert.equal(hasStrongHash({ md5: 'x', sha1: 'y' }), false)
    assert.equal(hasStrongHash({ md5: 'x', blake2b_256: 'y' }), true)
  })

  test('hashesToCheck: every SHA-2, cheapest first, blake2b only alone, hex lower-cased', () => {
    assert.deepEqual(hashesToCheck({ sha512: 'B', md5: 'x', sha256: 'A', blake2b_256: 'C', sha384: 'D' }), [
      { algorithm: 'sha256', hex: 'a' },
      { algorithm: 'sha512', hex: 'b' },
      { algorithm: 'sha384', hex: 'd' },
    ])
    assert.deepEqual(hashesToCheck({ blake2b_256: 'C', md5: 'x' }), [{ algorithm: 'blake2b_256', hex: 'c' }])
    assert.deepEqual(hashesToCheck({ md5: 'x' }), [])
  })
})
