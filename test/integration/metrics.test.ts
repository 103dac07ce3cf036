/**
 * /metrics end to end: the real proxy process against a real upstream on 127.0.0.1, driven
 * through hits, misses, an eviction, a stalled download, an upstream error and an upstream outage,
 * then scraped. Each scrape must parse as the Prometheus text format 0.0.4 (every sample in a
 * declared HELP/TYPE family, histogram buckets cumulative with +Inf equal to _count), and each
 * figure must have moved exactly as the requests imply. Verifying mode adds the TUF role gauges.
 * The example Grafana dashboard may only name metrics the proxy exposes.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { parseExposition, sampleValue, type Family } from '../helpers/exposition.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { TufUpstream, wheelFile } from '../helpers/tuf-upstream.js'
import { bulkBytes } from '../helpers/wheels.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json'
const FILE_BYTES = 60_000
/** Two files fit; a third pushes the first out. */
const CACHE_MAX_BYTES = 150 * 1024
const POLL_DEADLINE_MS = 20_000

type Families = Map<string, Family>

async function scrape(proxy: ProxyProcess): Promise<Families> {
  const response = await request(`${proxy.url}/metrics`)
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  return parseExposition(await response.body.text())
}

/** Scrapes until `check` holds (state that settles after the answer, e.g. a commit's eviction). */
async function scrapeUntil(proxy: ProxyProcess, what: string, check: (families: Families) => boolean): Promise<Families> {
  const deadline = Date.now() + POLL_DEADLINE_MS
  for (;;) {
    const families = await scrape(proxy)
    if (check(families)) return families
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
  }
}

/** The difference of one series between two scrapes. */
function delta(before: Families, now: Families, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(now, name, labels) - sampleValue(before, name, labels)
}

/** The metric families a dashboard expression names (a histogram's `_bucket` etc. count as the histogram). */
function familiesNamedIn(expressions: readonly string[]): Set<string> {
  const names = new Set<string>()
  for (const expression of expressions) {
    for (const match of expression.matchAll(/\b(?:tuf_proxy|process|nodejs)_[a-z0-9_]+\b/g)) names.add(match[0])
  }
  return names
}

function dashboardExpressions(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) dashboardExpressions(item, found)
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'expr' || key === 'query') && typeof value === 'string') found.push(value)
      else dashboardExpressions(value, found)
    }
  }
  return found
}

/** Whether a dashboard's name is exposed: itself, or a histogram's/counter's series of an exposed family. */
function isExposed(name: string, exposed: ReadonlyMap<string, Family>): boolean {
  if (exposed.has(name)) return true
  const base = name.replace(/_(bucket|sum|count)$/, '')
  return base !== name && exposed.get(base)?.type === 'histogram'
}

describe('/metrics', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  let host: string
  const fileA = { filename: 'foobar-0.1-py3-none-any.whl', bytes: bulkBytes(FILE_BYTES, 1) }
  const fileB = { filename: 'foobar-0.2-py3-none-any.whl', bytes: bulkBytes(FILE_BYTES, 2) }
  const fileC = { filename: 'foobar-0.3-py3-none-any.whl', bytes: bulkBytes(FILE_BYTES, 3) }
  const fileStalled = { filename: 'foobar-0.4-py3-none-any.whl', bytes: bulkBytes(FILE_BYTES, 4) }

  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
    upstream.addProject('FooBar', [fileA, fileB, fileC, fileStalled])
    upstream.addProject('Bar', [])
    host = `127.0.0.1:${upstream.port}`
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--cache-max-bytes', String(CACHE_MAX_BYTES), '--upstream-timeout', '2'])
  })
  after(async () => {
    await proxy?.dispose()
    await upstream?.stop()
  })

  test('at start: build info, upstream up, the cache budget, the process metrics, and nothing in flight', async () => {
    const families = await scrape(proxy)
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version
    assert.equal(sampleValue(families, 'tuf_proxy_build_info', { version, node: process.version }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_up', { host }), 1)
    assert.equal(sampleValue(families, 'tuf_proxy_cache_max_bytes'), CACHE_MAX_BYTES)
    assert.equal(sampleValue(families, 'tuf_proxy_downloads_in_flight'), 0)
    assert.equal(sampleValue(families, 'tuf_proxy_download_waiting_clients'), 0)
    assert.equal(families.get('tuf_proxy_http_request_duration_seconds')?.type, 'histogram')
    assert.equal(families.get('tuf_proxy_upstream_request_duration_seconds')?.type, 'histogram')
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles_total']) {
      assert.ok(families.has(name), `${name} is exposed`)
    }
  })

  test('a page miss then a hit: latency by route and cache outcome, bytes served, one upstream request', async () => {
    const before = await scrape(proxy)
    const miss = await get(`${proxy.url}/simple/foobar/`, { accept: JSON_ACCEPT })
    const hit = await get(`${proxy.url}/simple/foobar/`, { accept: JSON_ACCEPT })
    assert.equal(miss.headers['x-cache'], 'MISS')
    assert.equal(hit.headers['x-cache'], 'HIT')
    const now = await scrape(proxy)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'simple', cache: 'miss' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'simple', cache: 'hit' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_bucket', { route: 'simple', cache: 'hit', le: '+Inf' }), 1)
    // The scrape before is logged after its answer, so it is counted here.
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'ops', cache: 'none' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_requests_total', { method: 'GET', status: '2xx' }), 3)
    assert.equal(delta(before, now, 'tuf_proxy_served_bytes_total', { route: 'simple' }), miss.body.byteLength + hit.body.byteLength)
    assert.equal(delta(before, now, 'tuf_proxy_cache_total', { kind: 'page', result: 'HIT' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_requests_total', { host, outcome: 'ok' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_request_duration_seconds_count', { host }), 1)
    assert.ok(delta(before, now, 'tuf_proxy_fetched_bytes_total', { host }) > 0, 'the page was fetched')
  })

  test('a file miss then a hit: the file is fetched once and served twice; a third file evicts the least recently used', async () => {
    const before = await scrape(proxy)
    const miss = await get(`${proxy.url}/files/foobar/${fileA.filename}`)
    // The last byte can reach the client before the blob is committed; a hit needs the commit.
    await scrapeUntil(proxy, 'the download to be committed', (families) => sampleValue(families, 'tuf_proxy_downloads_in_flight') === 0)
    const hit = await get(`${proxy.url}/files/foobar/${fileA.filename}`)
    assert.deepEqual([miss.status, miss.headers['x-cache'], hit.status, hit.headers['x-cache']], [200, 'MISS', 200, 'HIT'])
    // A streamed file is recorded when its response closes, which may be just after the client has it all.
    const now = await scrapeUntil(proxy, 'both file answers recorded', (families) => delta(before, families, 'tuf_proxy_http_request_duration_seconds_count', { route: 'files' }) === 2)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'files', cache: 'miss' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'files', cache: 'hit' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_served_bytes_total', { route: 'files' }), 2 * FILE_BYTES)
    assert.equal(delta(before, now, 'tuf_proxy_fetched_bytes_total', { host }), FILE_BYTES)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_requests_total', { host, outcome: 'ok' }), 1)
    assert.ok(sampleValue(now, 'tuf_proxy_cache_bytes') >= FILE_BYTES)

    const evictionsBefore = sampleValue(now, 'tuf_proxy_cache_evictions_total', { reason: 'budget' })
    for (const file of [fileB, fileC]) assert.equal((await get(`${proxy.url}/files/foobar/${file.filename}`)).status, 200)
    const after = await scrapeUntil(
      proxy,
      'the downloads to be committed, with an eviction',
      (families) => sampleValue(families, 'tuf_proxy_downloads_in_flight') === 0 && sampleValue(families, 'tuf_proxy_cache_evictions_total', { reason: 'budget' }) > evictionsBefore,
    )
    assert.ok(sampleValue(after, 'tuf_proxy_cache_bytes') <= CACHE_MAX_BYTES, 'the cache is back within its budget')
    assert.equal(delta(now, after, 'tuf_proxy_fetched_bytes_total', { host }), 2 * FILE_BYTES)
  })

  test('a download whose upstream stalls is in flight with one waiting client until it times out', async () => {
    upstream.stall(`/files/${fileStalled.filename}`)
    const controller = new AbortController()
    const pending = request(`${proxy.url}/files/foobar/${fileStalled.filename}`, { signal: controller.signal }).then(
      (response) => response.statusCode,
      (error: unknown) => (error instanceof Error ? error.name : 'error'),
    )
    await scrapeUntil(
      proxy,
      'one download in flight with one client waiting',
      (families) => sampleValue(families, 'tuf_proxy_downloads_in_flight') === 1 && sampleValue(families, 'tuf_proxy_download_waiting_clients') === 1,
    )
    // The upstream sent its head, so that request counted as ok; its body then fell below the rate floor.
    const answered = await pending
    controller.abort()
    assert.equal(answered, 504, 'the stalled body was given up before any byte was sent to the client')
    const after = await scrapeUntil(proxy, 'the download to end', (families) => sampleValue(families, 'tuf_proxy_downloads_in_flight') === 0)
    assert.equal(sampleValue(after, 'tuf_proxy_download_waiting_clients'), 0)
    assert.equal(sampleValue(after, 'tuf_proxy_upstream_errors_total', { host, cause: 'slow_retrieval' }), 1)
    assert.ok(proxy.events('drop').some((line) => line.reason === 'slow_retrieval'), 'the drop line names the same cause')
    upstream.unstall(`/files/${fileStalled.filename}`)
  })

  test('an upstream 503 is counted by host and cause, and the answer by its route with no cache outcome', async () => {
    upstream.failNext('/simple/ghost/', 503)
    const before = await scrape(proxy)
    const answer = await get(`${proxy.url}/simple/ghost/`, { accept: JSON_ACCEPT })
    assert.equal(answer.headers['x-tuf-proxy-reason'], 'upstream_status')
    const now = await scrape(proxy)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_requests_total', { host, outcome: 'error' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_errors_total', { host, cause: 'upstream_status' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_request_duration_seconds_count', { route: 'simple', cache: 'none' }), 1)
    assert.equal(delta(before, now, 'tuf_proxy_http_requests_total', { method: 'GET', status: `${Math.floor(answer.status / 100)}xx` }), 1)
    assert.equal(sampleValue(now, 'tuf_proxy_upstream_up', { host }), 1, 'one failure does not take the upstream down')
  })

  test('an upstream that refuses three different URLs is down: tuf_proxy_upstream_up falls to 0', async () => {
    // A success first: the breaker counts failures since the origin's last success.
    assert.equal((await get(`${proxy.url}/simple/bar/`, { accept: JSON_ACCEPT })).headers['x-cache'], 'MISS')
    upstream.offline()
    const before = await scrape(proxy)
    for (const project of ['one', 'two', 'three']) {
      const answer = await get(`${proxy.url}/simple/${project}/`, { accept: JSON_ACCEPT })
      assert.equal(answer.headers['x-tuf-proxy-reason'], 'upstream_unreachable')
    }
    const now = await scrape(proxy)
    upstream.offline(false)
    assert.equal(sampleValue(now, 'tuf_proxy_upstream_up', { host }), 0)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_errors_total', { host, cause: 'upstream_unreachable' }), 3)
    assert.equal(delta(before, now, 'tuf_proxy_upstream_requests_total', { host, outcome: 'error' }), 3)
  })
})

describe('/metrics in verifying mode', () => {
  const sim = new RepositorySimulator({ consistentSnapshot: true })
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-metrics-'))
  let upstream: TufUpstream
  let proxy: ProxyProcess
  let hashOnly: { upstream: FakeUpstream; proxy: ProxyProcess }

  before(async () => {
    upstream = await TufUpstream.start(sim)
    upstream.publishProject('targets', 'FooBar', [wheelFile('FooBar', '0.1')])
    upstream.publish()
    const rootFile = join(dir, 'root.json')
    writeFileSync(rootFile, sim.trustedRoot())
    proxy = await ProxyProcess.start([
      '--upstream', upstream.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', upstream.metadataUrl, '--tuf-targets-url', upstream.targetsUrl,
    ])
    const plain = await new FakeUpstream().start()
    hashOnly = { upstream: plain, proxy: await ProxyProcess.start(['--upstream', plain.simpleUrl]) }
  })
  after(async () => {
    await proxy?.dispose()
    await upstream?.stop()
    await hashOnly?.proxy.dispose()
    await hashOnly?.upstream.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('each top-level role has its version and its seconds to expiry', async () => {
    // Serving verified metadata needs a refresh first.
    assert.equal((await get(`${proxy.url}/tuf/metadata/timestamp.json`)).status, 200)
    const families = await scrape(proxy)
    const nowMs = Date.now()
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
      const signed = sim.signed(role)
      const expectedVersion = role === 'root' ? sim.rootVersion : signed.version
      assert.equal(sampleValue(families, 'tuf_proxy_tuf_role_version', { role }), expectedVersion, `${role} version`)
      const expirySeconds = sampleValue(families, 'tuf_proxy_tuf_role_expiry_seconds', { role })
      const expectedSeconds = (Date.parse(signed.expires) - nowMs) / 1000
      assert.ok(Math.abs(expirySeconds - expectedSeconds) < 60, `${role} expires in ${expirySeconds} s, expected about ${expectedSeconds}`)
    }
    assert.equal(sampleValue(families, 'tuf_proxy_upstream_up', { host: new URL(upstream.url).host }), 1)
  })

  test('the example Grafana dashboard names only metrics the proxy exposes', async () => {
    const dashboard: unknown = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'grafana-dashboard.json'), 'utf8'))
    const expressions = dashboardExpressions(dashboard)
    assert.ok(expressions.length >= 10, `the dashboard has queries (found ${expressions.length})`)
    // Verifying mode adds the TUF metrics; everything else is in both modes.
    const exposed = new Map([...(await scrape(hashOnly.proxy)), ...(await scrape(proxy))])
    const named = familiesNamedIn(expressions)
    for (const expected of ['tuf_proxy_http_request_duration_seconds_bucket', 'tuf_proxy_upstream_up', 'tuf_proxy_tuf_role_expiry_seconds', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(named.has(expected), `the dashboard uses ${expected}`)
    }
    const unknown = [...named].filter((name) => !isExposed(name, exposed))
    assert.deepEqual(unknown, [], 'every metric the dashboard queries is exposed')
  })
})
