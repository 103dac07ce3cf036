/**
 * upstream/request-metrics.ts: what the counting wrapper reports for each way an upstream request
 * ends (ok, 304, an error by its code, a caller's abort, a refused host), for streamed bodies
 * (chunks fetched, a failure mid-body, an abort of our own) and the up gauge per host.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock, Metrics } from '../../../src/base/index.js'
import {
  createUpstreamHealth,
  HostNotAllowedError,
  UpstreamHttpError,
  UpstreamOfflineError,
  UpstreamTimeoutError,
  withRequestMetrics,
  type UpstreamClient,
  type UpstreamStream,
} from '../../../src/upstream/index.js'
import { parseExposition, sampleValue } from '../../helpers/exposition.js'

const INDEX = 'https://index.example/simple/foo/'
const FILES = 'https://files.example:8443/packages/foo-1.0.tar.gz'

type Answer = { kind: 'bytes'; status: 200 | 304; body: Uint8Array } | { kind: 'stream'; chunks: Uint8Array[]; failAfter?: Error; onClose?: () => void } | { kind: 'error'; error: Error }

/** A client that answers each URL as told; durations come from a clock the test moves. */
function fakeClient(answers: ReadonlyMap<string, Answer>, onRequest: () => void): UpstreamClient {
  const answerFor = (url: string): Answer => {
    onRequest()
    const answer = answers.get(url)
    if (!answer) throw new Error(`no answer for ${url}`)
    return answer
  }
  return {
    async getBytes(url) {
      const answer = answerFor(url)
      if (answer.kind === 'error') throw answer.error
      if (answer.kind !== 'bytes') throw new Error('not a bytes answer')
      return { status: answer.status, url, headers: {}, body: answer.body }
    },
    async getInto(url, _opts, open) {
      const answer = answerFor(url)
      if (answer.kind === 'error') throw answer.error
      if (answer.kind !== 'stream') throw new Error('not a stream answer')
      const head = { status: 200 as const, url, headers: {} }
      const sink = open(head)
      for (const chunk of answer.chunks) await sink.write(chunk)
      if (answer.failAfter) throw answer.failAfter
      return head
    },
    async getStream(url): Promise<UpstreamStream> {
      const answer = answerFor(url)
      if (answer.kind === 'error') throw answer.error
      if (answer.kind !== 'stream') throw new Error('not a stream answer')
      async function* body(): AsyncGenerator<Uint8Array> {
        try {
          for (const chunk of answer.kind === 'stream' ? answer.chunks : []) yield chunk
          if (answer.kind === 'stream' && answer.failAfter) throw answer.failAfter
        } finally {
          if (answer.kind === 'stream') answer.onClose?.()
        }
      }
      return { status: 200, url, headers: {}, contentLength: undefined, body: body(), abort: () => undefined }
    },
    assertAllowed: () => undefined,
    close: async () => undefined,
  }
}

function setup(answers: Map<string, Answer>) {
  const metrics = new Metrics()
  const clock = fixedClock(0)
  const health = createUpstreamHealth({ maxFails: 1, failTimeoutMs: 60_000, clock })
  // Each request takes 250 ms on the test's clock.
  const client = withRequestMetrics(fakeClient(answers, () => clock.advanceMs(250)), { metrics, health, knownUrls: [INDEX], monotonicMs: clock.nowMs })
  return { metrics, health, client, scrape: async () => parseExposition(await metrics.render()) }
}

describe('upstream request metrics', () => {
  test('a whole body: one ok request with its latency and bytes; a 304 is not_modified', async () => {
    const answers = new Map<string, Answer>([[INDEX, { kind: 'bytes', status: 200, body: new Uint8Array(1234) }]])
    const { client, scrape } = setup(answers)
    await client.getBytes(INDEX, { maxBytes: 1e6 })
    answers.set(INDEX, { kind: 'bytes', status: 304, body: new Uint8Array(0) })
    await client.getBytes(INDEX, { maxBytes: 1e6 })
    const families = await scrape()
    const host = 'index.example'
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host, outcome: 'ok' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host, outcome: 'not_modified' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_fetched_bytes_total', { host }), 1234)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_request_duration_seconds_count', { host }), 2)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_request_duration_seconds_sum', { host }), 0.5)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_request_duration_seconds_bucket', { host, le: '0.1' }), 0)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_request_duration_seconds_bucket', { host, le: '0.25' }), 2)
  })

  test('failures count under their error code; the caller\'s abort and a refused host do not count as the upstream\'s errors', async () => {
    const answers = new Map<string, Answer>([
      [INDEX, { kind: 'error', error: new UpstreamHttpError(503, INDEX) }],
      [FILES, { kind: 'error', error: new UpstreamOfflineError('refused') }],
      ['https://evil.example/x', { kind: 'error', error: new HostNotAllowedError('not listed') }],
    ])
    const { client, scrape } = setup(answers)
    await assert.rejects(client.getBytes(INDEX, { maxBytes: 1e6 }), UpstreamHttpError)
    await assert.rejects(client.getStream(FILES, { maxBytes: 1e6 }), UpstreamOfflineError)
    await assert.rejects(client.getBytes('https://evil.example/x', { maxBytes: 1e6 }), HostNotAllowedError)
    const aborted = new AbortController()
    aborted.abort()
    await assert.rejects(client.getStream(FILES, { maxBytes: 1e6, signal: aborted.signal }), UpstreamOfflineError)
    const families = await scrape()
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host: 'index.example', cause: 'upstream_status' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host: 'files.example:8443', cause: 'upstream_unreachable' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host: 'files.example:8443', outcome: 'aborted' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host: 'not_allowed', outcome: 'error' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host: 'not_allowed', cause: 'host_not_allowed' }), 1)
    assert.ok(![...(families.get('tuf_proxy_upstream_requests_total')?.samples ?? [])].some((sample) => sample.labels.host === 'evil.example'), 'a refused host never becomes a label')
  })

  test('a streamed body counts its chunks as they pass, and a failure mid-body under its code', async () => {
    const chunks = [new Uint8Array(100), new Uint8Array(50)]
    const answers = new Map<string, Answer>([[FILES, { kind: 'stream', chunks, failAfter: new UpstreamTimeoutError('idle') }]])
    const { client, scrape } = setup(answers)
    const stream = await client.getStream(FILES, { maxBytes: 1e6 })
    const received: number[] = []
    await assert.rejects(async () => {
      for await (const chunk of stream.body) received.push(chunk.byteLength)
    }, UpstreamTimeoutError)
    assert.deepEqual(received, [100, 50])
    const families = await scrape()
    const host = 'files.example:8443'
    assert.equal(sampleValue(families, 'tuf_proxy_fetched_bytes_total', { host }), 150)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host, outcome: 'ok' }), 1, 'the head came: the request itself was ok')
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host, cause: 'upstream_timeout' }), 1)
  })

  test('a body handed to a sink counts like a whole body: its bytes once it ended, a failure mid-body under its code', async () => {
    const answers = new Map<string, Answer>([[INDEX, { kind: 'stream', chunks: [new Uint8Array(100), new Uint8Array(50)] }]])
    const { client, scrape } = setup(answers)
    const received: number[] = []
    await client.getInto(INDEX, { maxBytes: 1e6 }, () => ({ write: async (chunk) => void received.push(chunk.byteLength) }))
    assert.deepEqual(received, [100, 50])
    answers.set(INDEX, { kind: 'stream', chunks: [new Uint8Array(10)], failAfter: new UpstreamTimeoutError('idle') })
    await assert.rejects(client.getInto(INDEX, { maxBytes: 1e6 }, () => ({ write: async () => undefined })), UpstreamTimeoutError)
    const families = await scrape()
    const host = 'index.example'
    assert.equal(sampleValue(families, 'tuf_proxy_fetched_bytes_total', { host }), 150)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_requests_total', { host, outcome: 'ok' }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host, cause: 'upstream_timeout' }), 1)
  })

  test('a reader that stops early lets the upstream body go, and what it read is counted', async () => {
    let isClosed = false
    const answers = new Map<string, Answer>([[FILES, { kind: 'stream', chunks: [new Uint8Array(100), new Uint8Array(50)], onClose: () => (isClosed = true) }]])
    const { client, scrape } = setup(answers)
    const stream = await client.getStream(FILES, { maxBytes: 1e6 })
    for await (const chunk of stream.body) {
      assert.equal(chunk.byteLength, 100)
      break
    }
    assert.ok(isClosed, "the upstream body was closed (its connection is not left streaming)")
    const families = await scrape()
    assert.equal(sampleValue(families, 'tuf_proxy_fetched_bytes_total', { host: 'files.example:8443' }), 100)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_errors_total', { host: 'files.example:8443' }), 0)
  })

  test('a body we abort ourselves is not the upstream\'s error', async () => {
    const answers = new Map<string, Answer>([[FILES, { kind: 'stream', chunks: [new Uint8Array(10)], failAfter: new Error('aborted') }]])
    const { client, scrape } = setup(answers)
    const stream = await client.getStream(FILES, { maxBytes: 1e6 })
    stream.abort()
    await assert.rejects(async () => {
      for await (const chunk of stream.body) assert.equal(chunk.byteLength, 10)
    })
    assert.equal(sampleValue(await scrape(), 'tuf_proxy_upstream_errors_total', { host: 'files.example:8443' }), 0)
  })

  test('up is 1 for a known upstream from the start, and 0 for a host whose breaker is open', async () => {
    const answers = new Map<string, Answer>([[FILES, { kind: 'bytes', status: 200, body: new Uint8Array(1) }]])
    const { client, health, scrape } = setup(answers)
    let families = await scrape()
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_up', { host: 'index.example' }), 1)
    assert.equal(families.get('tuf_proxy_upstream_up')?.samples.length, 1, 'hosts not yet contacted are not listed')
    await client.getBytes(FILES, { maxBytes: 10 })
    health.recordFailure(FILES, new UpstreamOfflineError('refused'))
    families = await scrape()
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_up', { host: 'files.example:8443' }), 0)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_up', { host: 'index.example' }), 1)
  })
})
