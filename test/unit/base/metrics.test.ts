/**
 * base/metrics.ts: Prometheus text exposition format 0.0.4 (HELP/TYPE lines, label escaping,
 * declared counters visible at 0 before their first increment, gauges set on collect).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Metrics } from '../../../src/base/index.js'

describe('Metrics', () => {
  test('a counter renders HELP, TYPE and its value; labels are sorted by name', () => {
    const metrics = new Metrics()
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { route: 'simple', cache: 'hit' })
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { cache: 'hit', route: 'simple' }, 2)
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { route: 'files', cache: 'miss' })
    assert.equal(
      metrics.render(),
      [
        '# HELP tuf_proxy_requests_total Requests served',
        '# TYPE tuf_proxy_requests_total counter',
        'tuf_proxy_requests_total{cache="hit",route="simple"} 3',
        'tuf_proxy_requests_total{cache="miss",route="files"} 1',
        '',
      ].join('\n'),
    )
    assert.equal(metrics.value('tuf_proxy_requests_total', { route: 'simple', cache: 'hit' }), 3)
  })

  test('a declared counter renders 0 before its first increment, and only its real series after', () => {
    const metrics = new Metrics()
    metrics.declareCounter('tuf_proxy_drops_total', 'Responses refused')
    assert.equal(metrics.render(), '# HELP tuf_proxy_drops_total Responses refused\n# TYPE tuf_proxy_drops_total counter\ntuf_proxy_drops_total 0\n')
    metrics.inc('tuf_proxy_drops_total', 'Responses refused', { reason: 'hash_mismatch' })
    assert.equal(
      metrics.render(),
      '# HELP tuf_proxy_drops_total Responses refused\n# TYPE tuf_proxy_drops_total counter\ntuf_proxy_drops_total{reason="hash_mismatch"} 1\n',
    )
  })

  test('label values escape backslash, double quote and newline', () => {
    const metrics = new Metrics()
    metrics.inc('x_total', 'X', { v: 'a\\b"c\nd' })
    assert.ok(metrics.render().includes('x_total{v="a\\\\b\\"c\\nd"} 1\n'), metrics.render())
    assert.equal(metrics.value('x_total', { v: 'a\\b"c\nd' }), 1)
  })

  test('an empty label set renders without braces', () => {
    const metrics = new Metrics()
    metrics.inc('y_total', 'Y', {})
    assert.match(metrics.render(), /^y_total 1$/m)
  })

  test('gauges render their type, and a gauge never set renders no sample', () => {
    const metrics = new Metrics()
    metrics.set('tuf_proxy_cache_bytes', 'Bytes cached', 42)
    metrics.set('tuf_proxy_cache_bytes', 'Bytes cached', 40)
    assert.equal(metrics.render(), '# HELP tuf_proxy_cache_bytes Bytes cached\n# TYPE tuf_proxy_cache_bytes gauge\ntuf_proxy_cache_bytes 40\n')
  })

  test('onCollect callbacks run before each render, so gauges are current', () => {
    const metrics = new Metrics()
    let bytes = 1
    let calls = 0
    metrics.onCollect(() => {
      calls++
      metrics.set('g', 'G', bytes)
    })
    assert.match(metrics.render(), /^g 1$/m)
    bytes = 7
    assert.match(metrics.render(), /^g 7$/m)
    assert.equal(calls, 2)
  })

  test('series render in first-use order; value() of an untouched series is 0', () => {
    const metrics = new Metrics()
    metrics.inc('b_total', 'B')
    metrics.inc('a_total', 'A')
    const names = metrics.render().split('\n').filter((line) => line.startsWith('# TYPE')).map((line) => line.split(' ')[2])
    assert.deepEqual(names, ['b_total', 'a_total'])
    assert.equal(metrics.value('nothing'), 0)
    assert.equal(metrics.value('a_total', { other: 'x' }), 0)
  })
})
