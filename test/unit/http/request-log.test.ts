/**
 * http/request-log.ts: each answer lands in the latency histogram under a route family taken from
 * the path's prefix and a cache outcome from X-Cache (fixed sets, whatever the request said), and
 * only bodies sent in full count as bytes served.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock, Metrics, silentLogger } from '../../../src/base/index.js'
import { createRequestLog, type RequestRecord } from '../../../src/http/request-log.js'
import { TrafficWindow } from '../../../src/http/traffic.js'
import { parseExposition, sampleValue } from '../../helpers/exposition.js'

const COUNT = 'tuf_proxy_http_request_duration_seconds_count'

describe('request log metrics', () => {
  test('routes and cache outcomes come from fixed sets', async () => {
    const metrics = new Metrics()
    const log = createRequestLog({ logger: silentLogger, metrics, clock: fixedClock(0), traffic: new TrafficWindow(0) })
    const answer = (path: string, cache?: unknown): RequestRecord => ({ method: 'GET', path, status: 200, cache, ms: 1, client: undefined, userAgent: undefined })
    log(answer('/simple/', 'HIT'))
    log(answer('/simple/foo/', 'STALE'))
    log(answer('/files/foo/foo-1.0.tar.gz', 'MISS'))
    log(answer('/tuf/metadata/timestamp.json', 'HIT'))
    log(answer('/metrics'))
    log(answer('/health'))
    log(answer('/%3Cscript%3E', 'surprise'))
    log(answer('/simplex'))
    const families = parseExposition(await metrics.render())
    assert.equal(sampleValue(families, COUNT, { route: 'simple_index', cache: 'hit' }), 1)
    assert.equal(sampleValue(families, COUNT, { route: 'simple', cache: 'stale' }), 1)
    assert.equal(sampleValue(families, COUNT, { route: 'files', cache: 'miss' }), 1)
    assert.equal(sampleValue(families, COUNT, { route: 'tuf', cache: 'hit' }), 1)
    assert.equal(sampleValue(families, COUNT, { route: 'ops', cache: 'none' }), 2)
    assert.equal(sampleValue(families, COUNT, { route: 'other', cache: 'other' }), 1)
    assert.equal(sampleValue(families, COUNT, { route: 'other', cache: 'none' }), 1)
    const labelValues = new Set(families.get('tuf_proxy_http_request_duration_seconds')?.samples.flatMap((sample) => [sample.labels.route, sample.labels.cache]))
    assert.ok(!labelValues.has('surprise') && !labelValues.has('/%3Cscript%3E'), 'nothing from the request becomes a label')
    assert.equal(sampleValue(families, 'tuf_proxy_http_request_duration_seconds_sum', { route: 'ops' }), 0.002, 'ms are recorded as seconds')
  })

  test('bytes served: bodies sent in full, not HEAD answers nor streams cut short', async () => {
    const metrics = new Metrics()
    const log = createRequestLog({ logger: silentLogger, metrics, clock: fixedClock(0), traffic: new TrafficWindow(0) })
    log({ method: 'GET', path: '/files/foo/a.whl', status: 200, bytes: '1000', complete: true, ms: 1, client: undefined, userAgent: undefined })
    log({ method: 'GET', path: '/files/foo/a.whl', status: 200, bytes: 1000, complete: false, ms: 1, client: undefined, userAgent: undefined })
    log({ method: 'HEAD', path: '/files/foo/a.whl', status: 200, bytes: 1000, ms: 1, client: undefined, userAgent: undefined })
    log({ method: 'GET', path: '/simple/foo/', status: 200, bytes: 300, ms: 1, client: undefined, userAgent: undefined })
    log({ method: 'GET', path: '/simple/foo/', status: 304, ms: 1, client: undefined, userAgent: undefined })
    const families = parseExposition(await metrics.render())
    assert.equal(sampleValue(families, 'tuf_proxy_served_bytes_total', { route: 'files' }), 1000)
    assert.equal(sampleValue(families, 'tuf_proxy_served_bytes_total', { route: 'simple' }), 300)
    assert.equal(sampleValue(families, 'tuf_proxy_http_requests_total', { method: 'GET', status: '3xx' }), 1)
  })
})
