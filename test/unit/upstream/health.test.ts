import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock } from '../../../src/base/index.js'
import {
  createUpstreamHealth,
  UpstreamHttpError,
  UpstreamOfflineError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  withHealthBreaker,
  type UpstreamClient,
} from '../../../src/upstream/index.js'

const offline = new UpstreamOfflineError('refused')

describe('upstream health breaker (max_fails / fail_timeout)', () => {
  test('goes down after maxFails consecutive failures, for failTimeoutMs, then allows one trial', () => {
    const clock = fixedClock(0)
    const health = createUpstreamHealth({ maxFails: 3, failTimeoutMs: 10_000, clock })
    health.recordFailure(offline)
    health.recordFailure(new UpstreamTimeoutError('slow'))
    assert.equal(health.state, 'up')
    health.recordFailure(new UpstreamHttpError(503, 'http://u/'))
    assert.equal(health.state, 'down')
    assert.equal(health.isAvailable(), false)
    clock.advanceMs(9_999)
    assert.equal(health.isAvailable(), false)
    clock.advanceMs(1)
    assert.equal(health.state, 'trial')
    health.recordFailure(offline)
    assert.equal(health.state, 'down', 'a failed trial reopens at once')
    clock.advanceMs(10_000)
    health.recordSuccess()
    assert.equal(health.state, 'up')
    health.recordFailure(offline)
    assert.equal(health.state, 'up', 'success reset the count')
  })

  test('a success between failures resets the count', () => {
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 1000, clock: fixedClock(0) })
    health.recordFailure(offline)
    health.recordSuccess()
    health.recordFailure(offline)
    assert.equal(health.state, 'up')
  })

  test('404 and protocol errors say nothing about health and are not counted', () => {
    const health = createUpstreamHealth({ maxFails: 1, failTimeoutMs: 1000, clock: fixedClock(0) })
    health.recordFailure(new UpstreamHttpError(404, 'http://u/'))
    health.recordFailure(new UpstreamProtocolError('short body'))
    health.recordFailure(new Error('bug'))
    assert.equal(health.state, 'up')
  })

  test('bad options are named', () => {
    assert.throws(() => createUpstreamHealth({ maxFails: 0, failTimeoutMs: 1, clock: fixedClock(0) }), /maxFails/)
    assert.throws(() => createUpstreamHealth({ maxFails: 1, failTimeoutMs: -1, clock: fixedClock(0) }), /failTimeoutMs/)
  })

  test('withHealthBreaker fails fast while the upstream is down, without calling it, and recovers after a good trial', async () => {
    const clock = fixedClock(0)
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 5_000, clock })
    let calls = 0
    let failing = true
    const inner: UpstreamClient = {
      getBytes: async (url) => {
        calls++
        if (failing) throw new UpstreamOfflineError(`refused ${url}`)
        return { status: 200, url, headers: {}, body: new Uint8Array() }
      },
      getStream: async () => {
        throw new Error('not used')
      },
      assertAllowed: () => undefined,
      close: async () => undefined,
    }
    const client = withHealthBreaker(inner, health, 5_000)
    const options = { maxBytes: 10 }
    await assert.rejects(client.getBytes('http://u/a', options), UpstreamOfflineError)
    await assert.rejects(client.getBytes('http://u/a', options), UpstreamOfflineError)
    assert.equal(calls, 2)
    await assert.rejects(client.getBytes('http://u/a', options), /failed repeatedly/)
    assert.equal(calls, 2, 'the upstream was not contacted while down')
    clock.advanceMs(5_000)
    failing = false
    const response = await client.getBytes('http://u/a', options)
    assert.equal(response.status, 200)
    assert.equal(calls, 3)
    assert.equal(health.state, 'up')
  })
})
