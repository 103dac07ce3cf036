/**
 * RFC 9110 §14 byte ranges and §13.1.5 If-Range, table-driven: which requests get a 206, which a
 * 416, and which the whole file.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { decideRange, type RangeDecision } from '../../../src/http/byte-range.js'

const ETAG = '"sha256-abc"'
const SIZE = 1000

const cases: Array<{ name: string; range: string | undefined; ifRange?: string; size?: number; expect: RangeDecision }> = [
  { name: 'no Range: whole', range: undefined, expect: { kind: 'whole' } },
  { name: 'first-last', range: 'bytes=0-99', expect: { kind: 'partial', start: 0, end: 99 } },
  { name: 'unit is case-insensitive', range: 'BYTES=10-19', expect: { kind: 'partial', start: 10, end: 19 } },
  { name: 'open-ended a-', range: 'bytes=900-', expect: { kind: 'partial', start: 900, end: 999 } },
  { name: 'suffix -n', range: 'bytes=-100', expect: { kind: 'partial', start: 900, end: 999 } },
  { name: 'suffix longer than the file is the whole file as 206', range: 'bytes=-5000', expect: { kind: 'partial', start: 0, end: 999 } },
  { name: 'last-pos past the end is clamped (§14.1.1)', range: 'bytes=990-5000', expect: { kind: 'partial', start: 990, end: 999 } },
  { name: 'the last byte', range: 'bytes=999-999', expect: { kind: 'partial', start: 999, end: 999 } },
  { name: 'first-pos at the length: 416', range: 'bytes=1000-', expect: { kind: 'unsatisfiable' } },
  { name: 'first-pos past the length: 416', range: 'bytes=5000-6000', expect: { kind: 'unsatisfiable' } },
  { name: 'zero-length suffix: 416', range: 'bytes=-0', expect: { kind: 'unsatisfiable' } },
  { name: 'several ranges: whole (§14.2 allows ignoring)', range: 'bytes=0-1, 5-6', expect: { kind: 'whole' } },
  { name: 'several ranges, none satisfiable: 416 (§15.5.17)', range: 'bytes=2000-, 3000-3001', expect: { kind: 'unsatisfiable' } },
  { name: 'empty list elements are allowed (§5.6.1)', range: 'bytes=, 0-9 ,', expect: { kind: 'partial', start: 0, end: 9 } },
  { name: 'last below first is invalid: ignored', range: 'bytes=5-1', expect: { kind: 'whole' } },
  { name: 'another unit: ignored', range: 'items=0-5', expect: { kind: 'whole' } },
  { name: 'garbage: ignored', range: 'bytes=abc', expect: { kind: 'whole' } },
  { name: 'no range-set: ignored', range: 'bytes=', expect: { kind: 'whole' } },
  { name: 'a huge first-pos is unsatisfiable, not a crash', range: `bytes=${'9'.repeat(400)}-`, expect: { kind: 'unsatisfiable' } },
  { name: 'empty file: a first-last is unsatisfiable', range: 'bytes=0-0', size: 0, expect: { kind: 'unsatisfiable' } },
  { name: 'empty file: a suffix is served whole (no Content-Range can name it)', range: 'bytes=-5', size: 0, expect: { kind: 'whole' } },
  { name: 'If-Range with the ETag: the range', range: 'bytes=0-9', ifRange: ETAG, expect: { kind: 'partial', start: 0, end: 9 } },
  { name: 'If-Range with another ETag: whole', range: 'bytes=0-9', ifRange: '"sha256-other"', expect: { kind: 'whole' } },
  { name: 'If-Range with the weak form of the ETag: whole (strong comparison)', range: 'bytes=0-9', ifRange: `W/${ETAG}`, expect: { kind: 'whole' } },
  { name: 'If-Range with a date: whole (no Last-Modified is sent)', range: 'bytes=0-9', ifRange: 'Sat, 01 Jan 2000 00:00:00 GMT', expect: { kind: 'whole' } },
  { name: 'If-Range without Range: whole', range: undefined, ifRange: ETAG, expect: { kind: 'whole' } },
]

describe('byte ranges (RFC 9110 §14)', () => {
  for (const { name, range, ifRange, size, expect } of cases) {
    test(name, () => {
      assert.deepEqual(decideRange({ range, ifRange }, { etag: ETAG, size: size ?? SIZE }), expect)
    })
  }

  test('without an ETag an If-Range never matches', () => {
    assert.deepEqual(decideRange({ range: 'bytes=0-9', ifRange: '"x"' }, { etag: undefined, size: SIZE }), { kind: 'whole' })
    assert.deepEqual(decideRange({ range: 'bytes=0-9', ifRange: undefined }, { etag: undefined, size: SIZE }), { kind: 'partial', start: 0, end: 9 })
  })
})
