import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mergeMetricsText, mergeStatus } from '../../../src/cli/worker-reports.js'

describe('the whole server from its workers', () => {
  test('metrics: one HELP and TYPE per family, its samples together, each labelled with its worker', () => {
    const worker = (requests: number) =>
      [
        '# HELP tuf_proxy_requests_total Requests',
        '# TYPE tuf_proxy_requests_total counter',
        `tuf_proxy_requests_total{route="file"} ${requests}`,
        '# HELP tuf_proxy_cache_bytes Bytes',
        '# TYPE tuf_proxy_cache_bytes gauge',
        'tuf_proxy_cache_bytes 10',
        '# HELP tuf_proxy_latency_seconds Latency',
        '# TYPE tuf_proxy_latency_seconds histogram',
        'tuf_proxy_latency_seconds_bucket{le="+Inf"} 1',
        'tuf_proxy_latency_seconds_count 1',
        '',
      ].join('\n')
    const merged = mergeMetricsText([
      { worker: '1', body: worker(3) },
      { worker: '2', body: worker(4) },
      { worker: undefined, body: '# HELP tuf_proxy_workers Workers\n# TYPE tuf_proxy_workers gauge\ntuf_proxy_workers 2\n' },
    ])
    assert.equal(
      merged,
      [
        '# HELP tuf_proxy_requests_total Requests',
        '# TYPE tuf_proxy_requests_total counter',
        'tuf_proxy_requests_total{worker="1",route="file"} 3',
        'tuf_proxy_requests_total{worker="2",route="file"} 4',
        '# HELP tuf_proxy_cache_bytes Bytes',
        '# TYPE tuf_proxy_cache_bytes gauge',
        'tuf_proxy_cache_bytes{worker="1"} 10',
        'tuf_proxy_cache_bytes{worker="2"} 10',
        '# HELP tuf_proxy_latency_seconds Latency',
        '# TYPE tuf_proxy_latency_seconds histogram',
        'tuf_proxy_latency_seconds_bucket{worker="1",le="+Inf"} 1',
        'tuf_proxy_latency_seconds_count{worker="1"} 1',
        'tuf_proxy_latency_seconds_bucket{worker="2",le="+Inf"} 1',
        'tuf_proxy_latency_seconds_count{worker="2"} 1',
        '# HELP tuf_proxy_workers Workers',
        '# TYPE tuf_proxy_workers gauge',
        'tuf_proxy_workers 2',
        '',
      ].join('\n'),
    )
  })

  test('status: the answering worker\'s report, the primary\'s facts, every worker\'s report and pid under workers, and who did not answer', () => {
    const primary = { pid: 100, startedAtMs: Date.parse('2026-01-02T03:04:05.000Z'), nowMs: Date.parse('2026-01-02T03:05:06.500Z'), workerRestarts: 2 }
    const merged = mergeStatus({ worker: '2', body: { mode: 'hash-only' } }, [{ worker: '1', pid: 101, body: { mode: 'hash-only' } }, { worker: '2', pid: 102, body: { mode: 'hash-only' } }], ['3'], primary)
    assert.deepEqual(merged, {
      mode: 'hash-only',
      worker: '2',
      primary: { pid: 100, startedAt: '2026-01-02T03:04:05.000Z', uptimeSeconds: 61, workerRestarts: 2 },
      workers: [
        { worker: '1', pid: 101, status: { mode: 'hash-only' } },
        { worker: '2', pid: 102, status: { mode: 'hash-only' } },
      ],
      workersNotAnswering: ['3'],
    })
  })
})
