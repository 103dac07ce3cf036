import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { canonicalJsonBytes, canonicalJsonString, MalformedMetadataError } from '../../../src/trust/index.js'

// Vectors from securesystemslib's encode_canonical doctests plus its escaping and ordering rules.
describe('canonical JSON (securesystemslib encode_canonical)', () => {
  const vectors: Array<[string, unknown, string]> = [
    ['empty string', '', '""'],
    ['array', [1, 2, 3], '[1,2,3]'],
    ['empty array', [], '[]'],
    ['object with array', { A: [99] }, '{"A":[99]}'],
    ['two keys', { y: 2, x: 3 }, '{"x":3,"y":2}'],
    ['nested keys sorted at every level', { b: 1, a: { d: true, c: null, e: false } }, '{"a":{"c":null,"d":true,"e":false},"b":1}'],
    ['only quote and backslash are escaped', 'a"b\\c\n\t/', '"a\\"b\\\\c\n\t/"'],
    ['negative and zero integers', [-5, 0], '[-5,0]'],
    ['uppercase sorts before lowercase (code point order)', { a: 1, B: 2 }, '{"B":2,"a":1}'],
    ['keys sorted by code point, not UTF-16 unit', { '\u{1F600}': 2, '\uFFFF': 1 }, '{"\uFFFF":1,"\u{1F600}":2}'],
  ]
  for (const [name, value, expected] of vectors) {
    test(name, () => assert.equal(canonicalJsonString(value), expected))
  }

  test('output is UTF-8 bytes, non-ASCII unescaped', () => {
    assert.deepEqual([...canonicalJsonBytes({ k: 'é' })], [...Buffer.from('{"k":"é"}', 'utf8')])
    assert.deepEqual([...canonicalJsonBytes('é')].slice(1, 3), [0xc3, 0xa9])
  })

  test('floats are refused, as securesystemslib refuses them', () => {
    assert.throws(() => canonicalJsonString({ a: 1.5 }), MalformedMetadataError)
  })

  test('integers beyond 2^53 are refused rather than silently rounded', () => {
    assert.throws(() => canonicalJsonString(2 ** 53), MalformedMetadataError)
  })
})
