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
      { origin: 'http://files.example', state: 'down', lastError: { code: 'upstream_timeout', cause: 'timeout', message: 'slow', atMs: 1010 }, lastSuccessAtMs: undefined, lastLatencyMs: undefined },
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
      getInto: async () => {
        throw new Error('not used')
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

describe('upstream health: the state an operator sees, and one warning per change of it', () => {
  function capture() {
    const lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = []
    const log = (level: string, event: string, fields: Readonly<Record<string, unknown>> = {}) => void lines.push({ level, event, fields: { ...fields } })
    return { lines, logger: { log, info: (e: string, f?: Record<string, unknown>) => log('info', e, f), warn: (e: string, f?: Record<string, unknown>) => log('warn', e, f), error: (e: string, f?: Record<string, unknown>) => log('error', e, f) } }
  }
  const refused = new UpstreamOfflineError('upstream unreachable (refused)', { failureCause: 'refused' })

  test('unreachable is down at the first failure, with its cause; more failures add no warning; a success recovers once', () => {
    const clock = fixedClock(0)
    const { lines, logger } = capture()
    const health = createUpstreamHealth({ maxFails: 3, failTimeoutMs: 10_000, clock, logger })
    assert.equal(health.report(INDEX).state, 'up', 'never asked: up')
    health.recordFailure(INDEX, refused)
    assert.equal(health.report(INDEX).state, 'down')
    assert.equal(health.report(INDEX).lastError?.cause, 'refused')
    assert.equal(health.isAvailable(INDEX), true, 'the breaker still lets requests try until maxFails')
    health.recordFailure('http://index.example/simple/bar/', refused)
    assert.deepEqual(lines.map((line) => [line.level, line.event, line.fields.cause]), [['warn', 'upstream_down', 'refused']])
    clock.advanceMs(125_000)
    health.recordSuccess(INDEX, 5)
    health.recordSuccess(INDEX, 5)
    assert.equal(health.report(INDEX).state, 'up')
    assert.equal(lines.length, 2)
    assert.deepEqual([lines[1]?.level, lines[1]?.event, lines[1]?.fields.detail, lines[1]?.fields.downMs], ['warn', 'upstream_recovered', 'recovered after 2 min 5 s (last cause: refused)', 125_000])
  })

  test('a 5xx or a slow answer of one URL is not "down" until the breaker opens', () => {
    const { lines, logger } = capture()
    const health = createUpstreamHealth({ maxFails: 2, failTimeoutMs: 10_000, clock: fixedClock(0), logger })
    health.recordFailure(INDEX, new UpstreamHttpError(503, INDEX))
    health.recordFailure(INDEX, new UpstreamHttpError(503, INDEX))
    assert.equal(health.report(INDEX).state, 'up')
    assert.equal(health.report(INDEX).lastError?.cause, 'http_5xx')
    assert.equal(lines.length, 0)
    health.recordFailure('http://index.example/simple/other/', new UpstreamTimeoutError('slow'))
    assert.equal(health.report(INDEX).state, 'down')
    assert.deepEqual(lines.map((line) => [line.event, line.fields.cause]), [['upstream_down', 'timeout']])
  })

  test('a failed start check speaks for the whole origin, whatever its cause', () => {
    const { lines, logger } = capture()
    const health = createUpstreamHealth({ maxFails: 3, failTimeoutMs: 10_000, clock: fixedClock(0), logger })
    health.recordFailure(INDEX, new UpstreamTimeoutError('no answer'), { check: true })
    assert.equal(health.report(INDEX).state, 'down')
    assert.equal(lines.length, 1)
  })

  test('the breaker\'s fast failure carries the last cause', async () => {
    const health = createUpstreamHealth({ maxFails: 1, failTimeoutMs: 10_000, clock: fixedClock(0) })
    health.recordFailure(INDEX, refused)
    const never: UpstreamClient = {
      getBytes: () => assert.fail('not asked'),
      getInto: () => assert.fail('not asked'),
      getStream: () => assert.fail('not asked'),
      assertAllowed: () => undefined,
      close: async () => undefined,
    }
    await assert.rejects(withHealthBreaker(never, health, 10_000).getBytes(INDEX, { maxBytes: 1 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamOfflineError)
      assert.equal(error.failureCause, 'refused')
      assert.match(error.message, /\(refused\): its host failed repeatedly/)
      return true
    })
  })
})
