/** The status page's request rate: per-second slots over the last minute, errors by class since start. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TrafficWindow } from '../../../src/http/traffic.js'

describe('TrafficWindow', () => {
  test('averages the full seconds so far, then the last 59, and counts 4xx and 5xx since start', () => {
    const startMs = 1_000_000
    const window = new TrafficWindow(startMs)
    for (let i = 0; i < 10; i++) window.record(200, startMs + 100)
    window.record(404, startMs + 1500)
    window.record(503, startMs + 1600)
    let snapshot = window.snapshot(startMs + 2100)
    assert.deepEqual(snapshot, { requestsPerSecond: 6, errorsPerSecond: 1, windowSeconds: 2, total: 12, clientErrors: 1, serverErrors: 1 })
    // Two minutes later the old slots are gone from the rate, not from the totals.
    window.record(200, startMs + 120_000)
    snapshot = window.snapshot(startMs + 121_000)
    assert.equal(snapshot.windowSeconds, 59)
    assert.equal(snapshot.requestsPerSecond, 1 / 59)
    assert.equal(snapshot.errorsPerSecond, 0)
    assert.equal(snapshot.total, 13)
  })

  test('the second still filling is not averaged in, and a clock going back does not corrupt the slots', () => {
    const window = new TrafficWindow(0)
    window.record(200, 5_500)
    assert.equal(window.snapshot(5_900).requestsPerSecond, 0)
    window.record(200, 4_000)
    assert.equal(window.snapshot(6_000).requestsPerSecond, 2 / 6)
  })
})
