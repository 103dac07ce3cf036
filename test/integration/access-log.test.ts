/**
 * The request log as an operator reads it, from the real process: file lines with the cache
 * outcome and the body bytes that actually went out, the client's address and User-Agent on
 * every line (hot path and hono alike), probes (/health, /metrics) at debug, and evictions.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess, type LogLine } from '../helpers/proxy-process.js'
import { bulkBytes } from '../helpers/wheels.js'

const USER_AGENT = 'pip/26.0 {"installer":{"name":"pip"}} access-log-test'

describe('access log', () => {
  let upstream: FakeUpstream
  const small = { filename: 'foobar-1.0.tar.gz', bytes: bulkBytes(70_000, 1) }
  const other = { filename: 'foobar-2.0.tar.gz', bytes: bulkBytes(70_000, 2) }
  // Far more than loopback socket buffers hold, so a client that leaves early cannot have had it all.
  const large = { filename: 'large-1.0.tar.gz', bytes: bulkBytes(48 * 1024 * 1024, 3) }
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('FooBar', [small, other], 1)
    upstream.addProject('Large', [large], 1)
  })
  after(() => upstream.stop())

  /** The request line of the next request for `path` after `seen` lines (routine lines come in batches). */
  function requestLine(proxy: ProxyProcess, path: string, after = 0): Promise<LogLine> {
    let index = 0
    return proxy.waitForLog((line) => line.event === 'request' && line.path === path && index++ === after)
  }

  test('file lines carry cache (MISS, then HIT after a restart) and the body bytes sent; HEAD sends none', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const path = `/files/foobar/${small.filename}`
    await get(`${proxy.url}/simple/foobar/`)
    assert.equal((await get(`${proxy.url}${path}`)).body.byteLength, small.bytes.byteLength)
    const miss = await requestLine(proxy, path)
    assert.deepEqual([miss.status, miss.cache, miss.bytes, miss.complete], [200, 'MISS', 70_000, true])
    assert.equal(await proxy.stop(), 0)
    await proxy.restart()
    await get(`${proxy.url}${path}`)
    await request(`${proxy.url}${path}`, { method: 'HEAD' }).then((response) => response.body.dump())
    const hit = await requestLine(proxy, path)
    assert.deepEqual([hit.method, hit.status, hit.cache, hit.bytes, hit.complete], ['GET', 200, 'HIT', 70_000, true])
    const head = await requestLine(proxy, path, 1)
    assert.deepEqual([head.method, head.status, head.cache, head.bytes, head.complete], ['HEAD', 200, 'HIT', 0, true])
  })

  test('a client that leaves mid-body: bytes is what was sent, less than the file, and complete is false', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const path = `/files/large/${large.filename}`
    await get(`${proxy.url}/simple/large/`)
    const whole = await get(`${proxy.url}${path}`)
    assert.equal(createHash('sha256').update(whole.body).digest('hex'), createHash('sha256').update(large.bytes).digest('hex'))
    const response = await request(`${proxy.url}${path}`)
    for await (const chunk of response.body) {
      assert.ok(chunk.byteLength > 0)
      response.body.destroy()
      break
    }
    const cut = await requestLine(proxy, path, 1)
    assert.equal(cut.cache, 'HIT')
    assert.equal(cut.complete, false)
    assert.ok(typeof cut.bytes === 'number' && cut.bytes < large.bytes.byteLength, `bytes sent: ${String(cut.bytes)}`)
  })

  test('a client that leaves a cold download mid-body: bytes is what was sent, less than the file, and complete is false', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const path = `/files/large/${large.filename}`
    await get(`${proxy.url}/simple/large/`)
    const response = await request(`${proxy.url}${path}`)
    assert.equal(response.headers['x-cache'], 'MISS')
    for await (const chunk of response.body) {
      assert.ok(chunk.byteLength > 0)
      response.body.destroy()
      break
    }
    const cut = await requestLine(proxy, path)
    assert.deepEqual([cut.cache, cut.complete], ['MISS', false])
    assert.ok(typeof cut.bytes === 'number' && cut.bytes < large.bytes.byteLength, `bytes sent: ${String(cut.bytes)}`)
  })

  test('every line names the client address and User-Agent, on the hot path for cached pages too', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const headers = { 'user-agent': USER_AGENT }
    for (const path of ['/simple/foobar/', '/simple/foobar/', '/nothing', '/status']) await get(`${proxy.url}${path}`, headers)
    await requestLine(proxy, '/status')
    const lines = proxy.events('request')
    assert.deepEqual(
      lines.map((line) => [line.path, line.cache, line.client, line.userAgent]),
      [
        ['/simple/foobar/', 'MISS', '127.0.0.1', USER_AGENT],
        // The second answer comes from the hot path (hot-pages.ts), before hono.
        ['/simple/foobar/', 'HIT', '127.0.0.1', USER_AGENT],
        ['/nothing', undefined, '127.0.0.1', USER_AGENT],
        ['/status', undefined, '127.0.0.1', USER_AGENT],
      ],
    )
  })

  test('/health and /metrics are logged at debug: absent at the default level, present with --log-level debug', async (t) => {
    const quiet = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => quiet.dispose())
    for (const path of ['/health', '/metrics', '/status']) await get(`${quiet.url}${path}`)
    await requestLine(quiet, '/status')
    assert.deepEqual(quiet.events('request').map((line) => line.path), ['/status'])

    const chatty = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--log-level', 'debug'])
    t.after(() => chatty.dispose())
    for (const path of ['/health', '/metrics', '/status']) await get(`${chatty.url}${path}`)
    await requestLine(chatty, '/status')
    assert.deepEqual(
      chatty.events('request').map((line) => [line.path, line.level]),
      [
        ['/health', 'debug'],
        ['/metrics', 'debug'],
        ['/status', 'info'],
      ],
    )
  })

  test('an eviction is logged: which blob, its size, how long it was unused, and why', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--cache-max-bytes', '100K'])
    t.after(() => proxy.dispose())
    await get(`${proxy.url}/simple/foobar/`)
    await get(`${proxy.url}/files/foobar/${small.filename}`)
    assert.deepEqual(proxy.events('blob_evicted'), [])
    await get(`${proxy.url}/files/foobar/${other.filename}`)
    const evicted = await proxy.waitForLog((line) => line.event === 'blob_evicted' && line.sha256 === createHash('sha256').update(small.bytes).digest('hex'))
    assert.equal(evicted.level, 'info')
    assert.equal(evicted.why, 'over_budget')
    assert.equal(evicted.bytes, 70_000)
    assert.ok(typeof evicted.idleSeconds === 'number' && evicted.idleSeconds >= 0)
  })
})
