/**
 * base/hash.ts: the one table of hash algorithms. Digests are checked against node:crypto and
 * @noble/hashes directly, so a wrong algorithm mapping cannot pass; lengths, aliases, strength
 * and which digests a verifier checks are read from the table as every room reads them.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'
import { HASH_ALGORITHMS, STRONG_HASH_NAMES, createHasher, digestHex, findHashAlgorithm, hasStrongHash, hashesToCheck, sha256Hex } from '../../../src/base/index.js'

const bytes = new TextEncoder().encode('tuf-proxy hash test vector')

/** The reference digest of each table row, computed without the table. */
const REFERENCE: Readonly<Record<string, (input: Uint8Array) => string>> = {
  sha256: (input) => createHash('sha256').update(input).digest('hex'),
  sha512: (input) => createHash('sha512').update(input).digest('hex'),
  sha384: (input) => createHash('sha384').update(input).digest('hex'),
  sha3_256: (input) => createHash('sha3-256').update(input).digest('hex'),
  sha3_512: (input) => createHash('sha3-512').update(input).digest('hex'),
  sha3_384: (input) => createHash('sha3-384').update(input).digest('hex'),
  blake2b: (input) => Buffer.from(blake2b(input)).toString('hex'),
  blake2s: (input) => createHash('blake2s256').update(input).digest('hex'),
  blake2b_256: (input) => Buffer.from(blake2b(input, { dkLen: 32 })).toString('hex'),
  sha224: (input) => createHash('sha224').update(input).digest('hex'),
  sha3_224: (input) => createHash('sha3-224').update(input).digest('hex'),
  sha1: (input) => createHash('sha1').update(input).digest('hex'),
  md5: (input) => createHash('md5').update(input).digest('hex'),
}

describe('hash table: hashers', () => {
  test('known answers: sha256 of "abc" (FIPS 180-2) and md5 of "" (RFC 1321)', () => {
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    assert.equal(digestHex('md5', new Uint8Array()), 'd41d8cd98f00b204e9800998ecf8427e')
  })

  test('every row has a reference here, and no reference lacks a row', () => {
    assert.deepEqual(HASH_ALGORITHMS.map((algorithm) => algorithm.name).sort(), Object.keys(REFERENCE).sort())
  })

  for (const algorithm of HASH_ALGORITHMS) {
    test(`${algorithm.name}: streaming equals one-shot equals the reference, and the digest has the table's length`, () => {
      const reference = REFERENCE[algorithm.name]?.(bytes)
      const hasher = createHasher(algorithm.name)
      for (let i = 0; i < bytes.length; i += 5) hasher.update(bytes.subarray(i, i + 5))
      assert.equal(hasher.digestHex(), reference)
      assert.equal(digestHex(algorithm.name, bytes), reference)
      assert.equal(reference?.length, algorithm.hexLength)
    })
  }

  test('blake2b_256 is 32 bytes, not BLAKE2b-512 (hashlib `blake2b`)', () => {
    assert.equal(digestHex('blake2b_256', bytes).length, 64)
    assert.equal(digestHex('blake2b', bytes).length, 128)
  })
})

describe('hash table: names, aliases and strength', () => {
  test('TUF and OpenSSL spellings, and any case, find the hashlib-named row', () => {
    assert.equal(findHashAlgorithm('blake2b-256')?.name, 'blake2b_256')
    assert.equal(findHashAlgorithm('sha3-256')?.name, 'sha3_256')
    assert.equal(findHashAlgorithm('SHA256')?.name, 'sha256')
    for (const name of ['shake_128', 'blake2b-512x', 'whirlpool', 'sha-256', '']) assert.equal(findHashAlgorithm(name), undefined, name)
  })

  test('md5, sha1, sha224 and sha3_224 are weak; the rest strong', () => {
    assert.deepEqual(
      HASH_ALGORITHMS.filter((algorithm) => !algorithm.isStrong).map((algorithm) => algorithm.name),
      ['sha224', 'sha3_224', 'sha1', 'md5'],
    )
    assert.deepEqual(STRONG_HASH_NAMES, ['sha256', 'sha512', 'sha384', 'sha3_256', 'sha3_512', 'sha3_384', 'blake2b', 'blake2s', 'blake2b_256'])
  })

  test('hasStrongHash', () => {
    assert.equal(hasStrongHash({}), false)
    assert.equal(hasStrongHash({ md5: 'x', sha1: 'y', sha224: 'z', whirlpool: 'w' }), false)
    assert.equal(hasStrongHash({ md5: 'x', blake2b_256: 'y' }), true)
    assert.equal(hasStrongHash({ 'blake2b-256': 'y' }), true)
  })
})

describe('hashesToCheck', () => {
  const names = (hashes: Record<string, string>) => hashesToCheck(hashes).map((check) => `${check.algorithm.name}=${check.hex}`)

  test('every digest the table can compute, in table order, hex lower-cased, unknown names left out', () => {
    assert.deepEqual(names({ md5: 'E', sha512: 'B', whirlpool: 'x', sha256: 'A', sha384: 'D' }), ['sha256=a', 'sha512=b', 'sha384=d', 'md5=e'])
  })

  test('a weak-only link is still checked with its weak digests', () => {
    assert.deepEqual(names({ md5: 'x' }), ['md5=x'])
    assert.deepEqual(names({ sha1: 'y', sha224: 'z' }), ['sha224=z', 'sha1=y'])
  })

  test('the slow BLAKE2b-256 only when no fast strong digest is listed', () => {
    assert.deepEqual(names({ sha256: 'a', blake2b_256: 'c' }), ['sha256=a'])
    assert.deepEqual(names({ blake2b_256: 'C', md5: 'x' }), ['blake2b_256=c', 'md5=x'])
    assert.deepEqual(names({ 'blake2b-256': 'c' }), ['blake2b_256=c'])
  })

  test('nothing computable, nothing to check', () => {
    assert.deepEqual(names({ whirlpool: 'x' }), [])
  })
})
