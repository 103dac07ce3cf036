/**
 * base/metrics.ts, the facade over prom-client: the Prometheus text exposition format 0.0.4
 * (HELP/TYPE lines, label escaping, sorted labels), declared counters visible at 0 before their
 * first increment, gauges set on collect, counter handles for hot paths, histograms with bound
 * handles, and the Node process metrics under their standard names.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Metrics } from '../../../src/base/index.js'
import { parseExposition, sampleValue } from '../../helpers/exposition.js'

describe('Metrics', () => {
  test('a counter renders HELP, TYPE and its value; labels are sorted by name', async () => {
    const metrics = new Metrics()
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { route: 'simple', cache: 'hit' })
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { cache: 'hit', route: 'simple' }, 2)
    metrics.inc('tuf_proxy_requests_total', 'Requests served', { route: 'files', cache: 'miss' })
    assert.equal(
      await metrics.render(),
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

  test('a declared counter renders 0 before its first increment, and only its real series after', async () => {
    const metrics = new Metrics()
    metrics.declareCounter('tuf_proxy_drops_total', 'Responses refused')
    assert.equal(await metrics.render(), '# HELP tuf_proxy_drops_total Responses refused\n# TYPE tuf_proxy_drops_total counter\ntuf_proxy_drops_total 0\n')
    metrics.inc('tuf_proxy_drops_total', 'Responses refused', { reason: 'hash_mismatch' })
    assert.equal(
      await metrics.render(),
      '# HELP tuf_proxy_drops_total Responses refused\n# TYPE tuf_proxy_drops_total counter\ntuf_proxy_drops_total{reason="hash_mismatch"} 1\n',
    )
  })

  test('label values escape backslash, double quote and newline', async () => {
    const metrics = new Metrics()
    metrics.inc('x_total', 'X', { v: 'a\\b"c\nd' })
    const text = await metrics.render()
    assert.ok(text.includes('x_total{v="a\\\\b\\"c\\nd"} 1\n'), text)
    assert.equal(sampleValue(parseExposition(text), 'x_total', { v: 'a\\b"c\nd' }), 1)
    assert.equal(metrics.value('x_total', { v: 'a\\b"c\nd' }), 1)
  })

  test('an empty label set renders without braces', async () => {
    const metrics = new Metrics()
    metrics.inc('y_total', 'Y', {})
    assert.match(await metrics.render(), /^y_total 1$/m)
  })

  test('gauges render their type and their last value', async () => {
    const metrics = new Metrics()
    metrics.set('tuf_proxy_cache_bytes', 'Bytes cached', 42)
    metrics.set('tuf_proxy_cache_bytes', 'Bytes cached', 40)
    assert.equal(await metrics.render(), '# HELP tuf_proxy_cache_bytes Bytes cached\n# TYPE tuf_proxy_cache_bytes gauge\ntuf_proxy_cache_bytes 40\n')
    assert.equal(metrics.value('tuf_proxy_cache_bytes'), 40)
    metrics.set('b_bytes', 'Budget', Infinity)
    assert.match(await metrics.render(), /^b_bytes \+Inf$/m)
  })

  test('onCollect callbacks run before each render, so gauges are current', async () => {
    const metrics = new Metrics()
    let bytes = 1
    let calls = 0
    metrics.onCollect(() => {
      calls++
      metrics.set('g', 'G', bytes)
    })
    assert.match(await metrics.render(), /^g 1$/m)
    bytes = 7
    assert.match(await metrics.render(), /^g 7$/m)
    assert.equal(calls, 2)
  })

  test('series render in first-use order; value() of an untouched series is 0', async () => {
    const metrics = new Metrics()
    metrics.inc('b_total', 'B')
    metrics.inc('a_total', 'A')
    const names = (await metrics.render()).split('\n').filter((line) => line.startsWith('# TYPE')).map((line) => line.split(' ')[2])
    assert.deepEqual(names, ['b_total', 'a_total'])
    assert.equal(metrics.value('nothing'), 0)
    assert.equal(metrics.value('a_total', { other: 'x' }), 0)
  })

  test('a counter handle adds to its own series, seen by value() at once and by the next render', async () => {
    const metrics = new Metrics()
    const hits = metrics.counter('c_total', 'C', { result: 'HIT' })
    const misses = metrics.counter('c_total', 'C', { result: 'MISS' })
    hits.inc()
    hits.inc(4)
    assert.equal(metrics.value('c_total', { result: 'HIT' }), 5)
    assert.equal(metrics.value('c_total', { result: 'MISS' }), 0)
    const families = parseExposition(await metrics.render())
    assert.equal(sampleValue(families, 'c_total', { result: 'HIT' }), 5)
    assert.equal(families.get('c_total')?.samples.length, 2, 'a bound series renders at 0 before its first increment')
    misses.inc()
    assert.equal(sampleValue(parseExposition(await metrics.render()), 'c_total', { result: 'MISS' }), 1)
  })

  test('a counter refuses to go down or to take a non-number', () => {
    const metrics = new Metrics()
    const handle = metrics.counter('d_total', 'D')
    assert.throws(() => handle.inc(-1), TypeError)
    assert.throws(() => handle.inc(NaN), TypeError)
    assert.throws(() => metrics.inc('d_total', 'D', {}, Infinity), TypeError)
    assert.equal(metrics.value('d_total'), 0)
  })

  test('a family whose series use more label names keeps every series (prom-client needs them up front)', async () => {
    const metrics = new Metrics()
    metrics.inc('e_total', 'E')
    assert.match(await metrics.render(), /^e_total 1$/m)
    metrics.inc('e_total', 'E', { reason: 'a' }, 2)
    metrics.inc('e_total', 'E', { level: 'warn', reason: 'b' }, 3)
    const families = parseExposition(await metrics.render())
    assert.deepEqual(
      families.get('e_total')?.samples.map((sample) => [sample.labels, sample.value]),
      [
        [{}, 1],
        [{ reason: 'a' }, 2],
        [{ level: 'warn', reason: 'b' }, 3],
      ],
    )
  })

  test('misuse is a TypeError at the call, not a broken /metrics later', () => {
    const metrics = new Metrics()
    metrics.inc('f_total', 'F')
    assert.throws(() => metrics.set('f_total', 'F', 1), /f_total is a counter, not a gauge/)
    assert.throws(() => metrics.histogram('f_total', 'F', [], [1]), /f_total is a counter, not a histogram/)
    assert.throws(() => metrics.inc('bad-name', 'B'), /not a Prometheus metric name/)
    assert.throws(() => metrics.inc('g_total', 'G', { 'bad-label': 'x' }), /not a Prometheus label name/)
    assert.throws(() => metrics.inc('g_total', 'G', { __reserved: 'x' }), /not a Prometheus label name/)
    metrics.histogram('h_seconds', 'H', [], [1])
    assert.throws(() => metrics.inc('h_seconds', 'H'), /h_seconds is a histogram, not a counter/)
  })

  test('a histogram renders cumulative buckets, +Inf equal to _count, and _sum; bound and unbound observations meet', async () => {
    const metrics = new Metrics()
    const latency = metrics.histogram('t_seconds', 'T', ['route'], [0.01, 0.1, 1])
    const simple = latency.bind({ route: 'simple' })
    simple.observe(0.005)
    simple.observe(0.05)
    latency.observe({ route: 'simple' }, 5)
    latency.observe({ route: 'files' }, 0.5)
    assert.equal(metrics.histogram('t_seconds', 'T', ['route'], [0.01, 0.1, 1]), latency, 'asking again returns the same histogram')
    const text = await metrics.render()
    const families = parseExposition(text)
    assert.equal(families.get('t_seconds')?.type, 'histogram')
    assert.deepEqual(
      ['0.01', '0.1', '1', '+Inf'].map((le) => sampleValue(families, 't_seconds_bucket', { route: 'simple', le })),
      [1, 2, 2, 3],
    )
    assert.equal(sampleValue(families, 't_seconds_count', { route: 'simple' }), 3)
    assert.equal(sampleValue(families, 't_seconds_sum', { route: 'simple' }), 5.055)
    assert.equal(sampleValue(families, 't_seconds_count', { route: 'files' }), 1)
  })

  test('a histogram counts a value above every bound only in +Inf, and refuses labels it was not given and non-numbers', async () => {
    const metrics = new Metrics()
    const latency = metrics.histogram('u_seconds', 'U', ['route'], [0.1, 1])
    const handle = latency.bind({ route: 'files' })
    handle.observe(120)
    assert.throws(() => handle.observe(NaN), TypeError)
    assert.throws(() => latency.bind({ path: '/x' }), /labels path are not among route/)
    assert.throws(() => metrics.histogram('v_seconds', 'V', [], [1, 0.5]), /bucket bounds must be finite and increasing/)
    const families = parseExposition(await metrics.render())
    assert.deepEqual(
      ['0.1', '1', '+Inf'].map((le) => sampleValue(families, 'u_seconds_bucket', { route: 'files', le })),
      [0, 0, 1],
    )
    assert.equal(sampleValue(families, 'u_seconds_sum', { route: 'files' }), 120)
  })

  test('the exposition checker refuses non-cumulative buckets and a sample of no declared family', () => {
    // The integration tests lean on parseExposition; it must be able to say no.
    const histogram = '# HELP h H\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'
    assert.throws(() => parseExposition(histogram), /not cumulative/)
    assert.throws(() => parseExposition('# HELP h H\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'), /\+Inf bucket 2 != _count 1/)
    assert.throws(() => parseExposition('# HELP a A\n# TYPE a counter\na 1\nb 2\n'), /sample of no declared family: b 2/)
  })

  test('the Node process metrics come under their standard names, only when asked for', async () => {
    const metrics = new Metrics()
    assert.doesNotMatch(await metrics.render(), /process_/)
    metrics.collectProcessMetrics()
    metrics.collectProcessMetrics()
    const families = parseExposition(await metrics.render())
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles_total', 'nodejs_heap_size_used_bytes']) {
      assert.ok(families.has(name), `${name} is exposed`)
    }
    assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8')
  })
})
