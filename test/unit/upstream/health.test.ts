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

const INDEX = 'http://index.example/simple/foo/'

describe('upstream health breakers (max_fails / fail_timeout per origin)', () => {
  test('reports: each origin once, in first-asked order, with its state, last failure and last latency', () => {
    const clock = fixedClock(1000)
    const health = createUpstreamHealth({ maxFails: 1, failTimeoutMs: 5000, clock })
    assert.deepEqual(health.reports(), [])
    health.recordSuccess(INDEX, 12)
    health.recordFailure('http://files.example/a.whl', offline)
    health.recordFailure(INDEX, new UpstreamProtocolError('garbled'))
    clock.advanceMs(10)
    health.recordFailure('http://files.example/b.whl', new UpstreamTimeoutError('slow'))
    assert.deepEqual(health.reports(), [
      { origin: 'http://index.example', state: 'up', lastError: undefined, lastSuccessAtMs: 1000, lastLatencyMs: 12 },
      { origin: 'http://files.example', state: 'down', lastError: { code: 'upstream_timeout', message: 'slow', atMs: 1010 }, lastSuccessAtMs: undefined, lastLatencyMs: undefined },
    ])
  })

  test('an origin goes down after maxFails failing URLs, for failTimeoutMs, then allows a trial', () => {
    const clock = fixedClock(0)
    const health = createUpstreamHealth({ maxFails: 3, failTimeoutMs: 10_000, clock })
    health.recordFailure('http://index.example/simple/a/', offline)
    health.recordFailure('http://index.example/simple/b/', new UpstreamTimeoutError('slow'))
    assert.equal(health.stateOf(INDEX), 'up')
    health.recordFailure('http://index.example/simple/c/', new UpstreamHttpError(503, 'http://u/'))
    assert.equal(health.stateOf(INDEX), 'down')
    assert.equal(health.isAvailable(INDEX), false)
    clock.advanceMs(9_999)
    assert.equal(health.isAvailable(INDEX), false)
    clock.advanceMs(1)
    assert.equal(health.stateOf(INDEX), 'trial')
    health.recordFailure('http://index.example/simple/a/', offline)
    assert.equal(health.stateOf(INDEX), 'down', 'a failed trial reopens at once, even for a URL already counted')
    clock.advanceMs(10_000)
    health.recordSuccess(INDEX)
    assert.equal(health.stateOf(INDEX), 'up')
    health.recordFailure(INDEX, offline)
    assert.equal(health.stateOf(INDEX), 'up', 'success reset the count')
  })

  test('one URL failing again and again is not an outage of its origin', () => {
    const health = createUpstreamHealth({ maxFails: 3, failTimeoutMs: 10_000, clock: fixedClock(0) })
    const bad = 'http://files.example/files/bad-1.0.whl'
    for (let i = 0; i < 10; i++) health.recordFailure(i % 2 ? bad : `${bad}#sha256=00`, new UpstreamHttpError(500, bad))
    assert.equal(health.stateOf(bad), 'up', 'a single URL counts once, whatever its fragment')
    assert.equal(health.isAvailable('http://files.example/files/good-1.0.whl'), true)
    health.recordFailure('http://files.example/files/other-1.0.whl', new UpstreamHttpError(500, bad))
    health.recordFailure('http://files.example/files/third-1.0.whl', new UpstreamHttpError(500, bad))
    assert.equal(health.stateOf(bad), 'down', 'three different failing URLs of one host are an outage')
  })

  test('each origin has its own breaker: a file host down leaves the index up, and scheme and port are part of the origin', () => {
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 1000, clock: fixedClock(0) })
    health.recordFailure('http://files.example/a', offline)
    health.recordFailure('http://files.example/b', offline)
    assert.equal(health.stateOf('http://files.example/c'), 'down')
    assert.equal(health.stateOf(INDEX), 'up')
    assert.equal(health.stateOf('https://files.example/c'), 'up')
    assert.equal(health.stateOf('http://files.example:8080/c'), 'up')
  })

  test('a success between failures resets the count', () => {
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 1000, clock: fixedClock(0) })
    health.recordFailure('http://u/a', offline)
    health.recordSuccess('http://u/b')
    health.recordFailure('http://u/c', offline)
    assert.equal(health.stateOf('http://u/'), 'up')
  })

  test('404 and protocol errors say nothing about health and are not counted', () => {
    const health = createUpstreamHealth({ maxFails: 1, failTimeoutMs: 1000, clock: fixedClock(0) })
    health.recordFailure('http://u/a', new UpstreamHttpError(404, 'http://u/'))
    health.recordFailure('http://u/b', new UpstreamProtocolError('short body'))
    health.recordFailure('http://u/c', new Error('bug'))
    assert.equal(health.stateOf('http://u/'), 'up')
  })

  test('bad options are named', () => {
    assert.throws(() => createUpstreamHealth({ maxFails: 0, failTimeoutMs: 1, clock: fixedClock(0) }), /maxFails/)
    assert.throws(() => createUpstreamHealth({ maxFails: 1, failTimeoutMs: -1, clock: fixedClock(0) }), /failTimeoutMs/)
  })

  test('withHealthBreaker fails fast while an origin is down, without calling it, spares other origins, and recovers after a good trial', async () => {
    const clock = fixedClock(0)
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 5_000, clock })
    const calls: string[] = []
    let failing = true
    const inner: UpstreamClient = {
      getBytes: async (url) => {
        calls.push(url)
        if (failing && url.startsWith('http://u/')) throw new UpstreamOfflineError(`refused ${url}`)
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
    assert.equal(health.stateOf('http://u/'), 'up', 'one URL twice is not an outage')
    await assert.rejects(client.getBytes('http://u/b', options), UpstreamOfflineError)
    assert.equal(calls.length, 3)
    await assert.rejects(client.getBytes('http://u/c', options), /failed repeatedly/)
    assert.equal(calls.length, 3, 'the upstream was not contacted while down')
    assert.equal((await client.getBytes('http://files.example/f', options)).status, 200, 'another origin is still asked')
    clock.advanceMs(5_000)
    failing = false
    const response = await client.getBytes('http://u/a', options)
    assert.equal(response.status, 200)
    assert.equal(health.stateOf('http://u/'), 'up')
  })
})
