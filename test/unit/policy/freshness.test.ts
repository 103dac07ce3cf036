/**
 * policy/freshness.ts: page TTLs as absolute times computed from an explicit `nowMs`, serial
 * ordering (a lagging replica must not roll a page back), and the capped 404 memory.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { StaleUpstreamError, checkSerial, isFresh, negativeStaleAtMs, staleAtMs } from '../../../src/policy/index.js'

const T = 1_700_000_000_000

describe('staleAtMs / isFresh', () => {
  const rows: Array<{ fetchedAtMs: number; ttlSeconds: number; want: number }> = [
    { fetchedAtMs: T, ttlSeconds: 600, want: T + 600_000 },
    { fetchedAtMs: T, ttlSeconds: 0, want: T },
    { fetchedAtMs: 0, ttlSeconds: 1, want: 1000 },
  ]
  for (const { fetchedAtMs, ttlSeconds, want } of rows) {
    test(`fetched at ${fetchedAtMs} with ttl ${ttlSeconds}s goes stale at ${want}`, () => {
      assert.equal(staleAtMs(fetchedAtMs, ttlSeconds), want)
    })
  }

  test('fresh strictly before staleAt, stale at and after it (RFC 9111 §4.2: age < lifetime)', () => {
    const staleAt = staleAtMs(T, 600)
    assert.equal(isFresh(staleAt, T), true)
    assert.equal(isFresh(staleAt, staleAt - 1), true)
    assert.equal(isFresh(staleAt, staleAt), false)
    assert.equal(isFresh(staleAt, staleAt + 1), false)
  })

  test('ttl 0 means never fresh, not even at the moment of fetching', () => {
    assert.equal(isFresh(staleAtMs(T, 0), T), false)
  })
})

describe('checkSerial', () => {
  const accepted: Array<[number | undefined, number | undefined]> = [
    [undefined, undefined],
    [undefined, 5],
    [5, 5],
    [5, 6],
    [0, 0],
  ]
  for (const [known, received] of accepted) {
    test(`known ${String(known)}, received ${String(received)}: accepted`, () => {
      assert.doesNotThrow(() => checkSerial(known, received))
    })
  }

  test('a lower serial than already seen is a serial_regression naming both', () => {
    assert.throws(
      () => checkSerial(10, 9),
      (error: unknown) => {
        assert.ok(error instanceof StaleUpstreamError)
        assert.equal(error.code, 'serial_regression')
        assert.equal(error.knownSerial, 10)
        assert.equal(error.receivedSerial, 9)
        assert.equal(error.message, 'upstream served serial 9, older than serial 10 already seen for this page')
        return true
      },
    )
    assert.throws(() => checkSerial(1, 0), StaleUpstreamError)
  })

  test('no serial after a known one is a serial_regression too: it is not newer, and accepting it would forget the serial', () => {
    assert.throws(
      () => checkSerial(10, undefined),
      (error: unknown) => {
        assert.ok(error instanceof StaleUpstreamError)
        assert.equal(error.code, 'serial_regression')
        assert.equal(error.knownSerial, 10)
        assert.equal(error.receivedSerial, undefined)
        assert.equal(error.message, 'upstream served a page without a serial after serial 10 was already seen for this page')
        return true
      },
    )
    assert.throws(() => checkSerial(0, undefined), StaleUpstreamError)
  })
})

describe('negativeStaleAtMs', () => {
  const rows: Array<[number, number]> = [
    [0, T],
    [30, T + 30_000],
    [60, T + 60_000],
    [61, T + 60_000],
    [600, T + 60_000],
  ]
  for (const [ttlSeconds, want] of rows) {
    test(`ttl ${ttlSeconds}s: a 404 is remembered until ${want - T} ms from now (capped at 60 s)`, () => {
      assert.equal(negativeStaleAtMs(T, ttlSeconds), want)
    })
  }
})
