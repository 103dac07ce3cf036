/**
 * The core mirror end to end: a real upstream on 127.0.0.1, the real proxy process, and real
 * clients (undici for exact bytes and headers, Debian's pip for the user's view).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { get as rawGet } from 'node:http'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests, get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { buildWheel, bulkBytes } from '../helpers/wheels.js'

const PIP_JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'


async function withProxy(upstream: FakeUpstream, args: string[] = []): Promise<ProxyProcess> {
  return ProxyProcess.start(['--upstream', upstream.simpleUrl, ...args])
}

describe('core proxy with pip', () => {
  let upstream: FakeUpstream
  const wheel = buildWheel('FooBar', '0.1')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('FooBar', [{ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata }], 100)
  })
  after(() => upstream.stop())

  for (const format of ['html', 'json'] as const) {
    test(`pip downloads through the proxy from a ${format} upstream; the second run is served from cache`, requirePip(), async (t) => {
      upstream.format = format
      const proxy = await withProxy(upstream)
      t.after(() => proxy.dispose())
      const before = upstream.hits(`/files/${wheel.filename}`)
      const first = await pipDownload(`${proxy.url}/simple/`, 'foobar==0.1')
      assert.equal(first.status, 0, first.stderr)
      assert.deepEqual(first.files, [wheel.filename])
      assert.equal(createHash('sha256').update(readFileSync(join(first.dest, wheel.filename))).digest('hex'), wheel.sha256)
      const second = await pipDownload(`${proxy.url}/simple/`, 'foobar==0.1')
      assert.equal(second.status, 0, second.stderr)
      assert.equal(upstream.hits(`/files/${wheel.filename}`) - before, 1, 'the file was fetched from the upstream once')
      assert.equal(await proxy.metric('tuf_proxy_cache_total', { kind: 'file', result: 'HIT' }), 1)
    })
  }

  test('a tampered file is dropped: pip fails, the proxy answered 502 with the reason, nothing was cached', requirePip(), async (t) => {
    upstream.format = 'html'
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    upstream.tamper(`/files/${wheel.filename}`)
    t.after(() => upstream.untamper(`/files/${wheel.filename}`))
    const result = await pipDownload(`${proxy.url}/simple/`, 'foobar==0.1')
    assert.notEqual(result.status, 0)
    assert.deepEqual(result.files, [])
    // pip checks #sha256= itself, so its failure proves nothing alone: the proxy's verdict must be the drop.
    const direct = await get(`${proxy.url}/files/foobar/${wheel.filename}`)
    assert.equal(direct.status, 502)
    assert.equal(JSON.parse(direct.text).error, 'hash_mismatch')
    assert.ok(proxy.events('drop').some((line) => line.reason === 'hash_mismatch'), 'a drop line names hash_mismatch')
    assert.ok((await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' })) >= 1)
    assert.ok(!blobDigests(proxy.cacheDir).includes(wheel.sha256), 'nothing cached under the good digest')
    const tamperedDigest = createHash('sha256').update(Buffer.from(wheel.bytes.map((b, i) => (i === wheel.bytes.length - 1 ? b ^ 0xff : b)))).digest('hex')
    assert.ok(!blobDigests(proxy.cacheDir).includes(tamperedDigest), 'the tampered bytes were not cached')
  })
})

describe('core proxy behaviour', () => {
  let upstream: FakeUpstream
  const wheel = buildWheel('demo-pkg', '1.0')
  const big = { filename: 'big-1.0-py3-none-any.whl', bytes: bulkBytes(3 * 1024 * 1024, 7) }
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
    upstream.addProject('demo-pkg', [{ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata, size: wheel.bytes.length }], 10)
    upstream.addProject('big', [big], 5)
  })
  after(() => upstream.stop())

  test('PEP 691 negotiation: pip\'s Accept gets JSON, text/html gets HTML, ?format= overrides, 406 when nothing fits', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    const json = await get(`${proxy.url}/simple/demo-pkg/`, { accept: PIP_JSON_ACCEPT })
    assert.equal(json.status, 200)
    assert.equal(json.headers['content-type'], 'application/vnd.pypi.simple.v1+json')
    assert.equal(json.headers.vary, 'Accept')
    const model = JSON.parse(json.text) as { files: Array<{ url: string; hashes: Record<string, string>; 'core-metadata': unknown; size: number }>; meta: Record<string, unknown> }
    assert.equal(model.files[0]?.url, `../../files/demo-pkg/${wheel.filename}`)
    assert.equal(model.files[0]?.hashes.sha256, wheel.sha256)
    assert.deepEqual(model.files[0]?.['core-metadata'], { sha256: createHash('sha256').update(wheel.metadata).digest('hex') })
    assert.equal(model.files[0]?.size, wheel.bytes.length)
    assert.equal(model.meta['_last-serial'], 10)
    assert.equal(json.headers['x-pypi-last-serial'], '10')
    const html = await get(`${proxy.url}/simple/demo-pkg/`, { accept: 'text/html' })
    assert.match(String(html.headers['content-type']), /^text\/html/)
    assert.match(html.text, new RegExp(`href="../../files/demo-pkg/${wheel.filename.replace(/\./g, '\\.')}#sha256=${wheel.sha256}"`))
    assert.match(html.text, /data-core-metadata="sha256=/)
    const forced = await get(`${proxy.url}/simple/demo-pkg/?format=${encodeURIComponent('application/vnd.pypi.simple.v1+json')}`, { accept: 'text/html' })
    assert.equal(forced.headers['content-type'], 'application/vnd.pypi.simple.v1+json')
    const refused = await get(`${proxy.url}/simple/demo-pkg/`, { accept: 'application/xml' })
    assert.equal(refused.status, 406)
    const index = await get(`${proxy.url}/simple/`, { accept: PIP_JSON_ACCEPT })
    assert.deepEqual((JSON.parse(index.text) as { projects: Array<{ name: string }> }).projects.map((p) => p.name).sort(), ['big', 'demo-pkg'])
  })

  test('X-Cache, ETag and 304, HEAD, and a redirect for non-normalized names', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    const first = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(first.headers['x-cache'], 'MISS')
    const second = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(second.headers['x-cache'], 'HIT')
    const etag = String(second.headers.etag)
    const notModified = await get(`${proxy.url}/simple/demo-pkg/`, { 'if-none-match': etag })
    assert.equal(notModified.status, 304)
    // Fresh cached pages are answered by the hot path; they are logged and counted all the same.
    const logged = await proxy.waitForLog((line) => line.event === 'request' && line.status === 304)
    assert.equal(logged.cache, 'HIT')
    assert.equal(await proxy.metric('tuf_proxy_cache_total', { kind: 'page', result: 'HIT' }), 2)
    const head = await request(`${proxy.url}/simple/demo-pkg/`, { method: 'HEAD' })
    await head.body.dump()
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-length'], String(first.body.length))
    const redirect = await request(`${proxy.url}/simple/Demo_Pkg/?format=text/html`)
    await redirect.body.dump()
    assert.equal(redirect.statusCode, 301)
    assert.equal(redirect.headers.location, '/simple/demo-pkg/?format=text/html')
    const fileHead = await request(`${proxy.url}/files/demo-pkg/${wheel.filename}`, { method: 'HEAD' })
    await fileHead.body.dump()
    assert.equal(fileHead.statusCode, 200)
    assert.equal(fileHead.headers['content-length'], String(wheel.bytes.length))
    const file = await get(`${proxy.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.headers['x-cache'], 'HIT', 'the HEAD filled the cache')
    assert.deepEqual(file.body, wheel.bytes)
    const metadata = await get(`${proxy.url}/files/demo-pkg/${wheel.filename}.metadata`)
    assert.equal(metadata.status, 200)
    assert.deepEqual(metadata.body, wheel.metadata)
  })

  test('50 concurrent requests for an uncached file and page cause one upstream request each', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    const pagePath = '/simple/big/'
    const filePath = `/files/${big.filename}`
    const pagesBefore = upstream.hits(pagePath)
    const filesBefore = upstream.hits(filePath)
    upstream.delay(pagePath, 150)
    t.after(() => upstream.delay(pagePath, 0))
    const responses = await Promise.all(Array.from({ length: 50 }, () => get(`${proxy.url}/files/big/${big.filename}`)))
    for (const response of responses) {
      assert.equal(response.status, 200)
      assert.equal(response.body.length, big.bytes.length)
      assert.ok(response.body.equals(big.bytes))
    }
    assert.equal(upstream.hits(pagePath) - pagesBefore, 1)
    assert.equal(upstream.hits(filePath) - filesBefore, 1)
  })

  test('a serial regression is dropped: the newer cached page is served as STALE and counted', async (t) => {
    const proxy = await withProxy(upstream, ['--index-ttl', '0'])
    t.after(() => proxy.dispose())
    const fresh = await get(`${proxy.url}/simple/demo-pkg/`, { accept: PIP_JSON_ACCEPT })
    assert.equal(fresh.headers['x-pypi-last-serial'], '10')
    upstream.serveSerial('demo-pkg', 7)
    t.after(() => upstream.serveSerial('demo-pkg', undefined))
    const lagging = await get(`${proxy.url}/simple/demo-pkg/`, { accept: PIP_JSON_ACCEPT })
    assert.equal(lagging.status, 200)
    assert.equal(lagging.headers['x-cache'], 'STALE')
    assert.equal(lagging.headers['x-pypi-last-serial'], '10')
    assert.equal(lagging.text, fresh.text)
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'serial_regression' }), 1)
  })

  test('upstream down: the last good page is served STALE; a cold miss is 503', async (t) => {
    const proxy = await withProxy(upstream, ['--index-ttl', '0', '--upstream-timeout', '2'])
    t.after(() => proxy.dispose())
    const good = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(good.status, 200)
    upstream.offline()
    t.after(() => upstream.offline(false))
    const stale = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(stale.status, 200)
    assert.equal(stale.headers['x-cache'], 'STALE')
    assert.equal(stale.text, good.text)
    const cold = await get(`${proxy.url}/simple/big/`)
    assert.equal(cold.status, 503)
    assert.equal(JSON.parse(cold.text).error, 'upstream_unreachable')
    upstream.offline(false)
    upstream.failNext('/simple/demo-pkg/', 500)
    const afterError = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(afterError.headers['x-cache'], 'STALE')
  })

  test('malformed upstream pages are dropped, not relayed; upstream 404 passes through', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    upstream.route('/simple/broken/', (_req, res) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end('{"meta": {"api-version": "1.0"}, "name": "broken", "files": {}}'))
    const broken = await get(`${proxy.url}/simple/broken/`)
    assert.equal(broken.status, 502)
    assert.equal(JSON.parse(broken.text).error, 'malformed_index')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'malformed_index' }), 1)
    const missing = await get(`${proxy.url}/simple/no-such-project/`)
    assert.equal(missing.status, 404)
    const unlisted = await get(`${proxy.url}/files/demo-pkg/demo_pkg-9.9-py3-none-any.whl`)
    assert.equal(unlisted.status, 404)
  })

  test('links to hosts outside the allowlist are refused (no SSRF through a crafted page)', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    upstream.route('/simple/evil/', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<a href="http://169.254.169.254/latest/evil-1.0.tar.gz#sha256=${'a'.repeat(64)}">evil-1.0.tar.gz</a><a href="${upstream.fileUrl(wheel.filename)}#sha256=${wheel.sha256}">${wheel.filename}</a>`),
    )
    const page = await get(`${proxy.url}/simple/evil/`, { accept: 'text/html' })
    assert.equal(page.status, 200)
    assert.doesNotMatch(page.text, /evil-1\.0/)
    assert.match(page.text, new RegExp(wheel.filename.replace(/\./g, '\\.')))
    const refused = await get(`${proxy.url}/files/evil/evil-1.0.tar.gz`)
    assert.equal(refused.status, 404)
  })

  test('hostile paths get 4xx and never reach the upstream or the disk', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    // The start check is the one request the proxy makes on its own.
    await proxy.waitForLog((line) => line.event === 'upstream_checked')
    const before = upstream.log.length
    const hostile = [
      '/files/demo-pkg/..%2F..%2Fetc%2Fpasswd',
      '/files/demo-pkg/%2e%2e',
      '/files/demo-pkg/a%00b.whl',
      '/files/demo-pkg/a%5cb.whl',
      '/files/..%2Fdemo-pkg/x.whl',
      `/files/demo-pkg/${'a'.repeat(300)}.whl`,
      '/simple/..%2F..%2Fetc/',
      '/simple/%2e%2e/',
      `/simple/${'x'.repeat(3000)}/`,
      '/files/Demo_Pkg/x.whl',
    ]
    for (const path of hostile) {
      // node:http sends the path as written; a WHATWG URL client would resolve the dot segments first.
      const status = await new Promise<number>((resolve, reject) =>
        rawGet({ host: '127.0.0.1', port: proxy.port, path }, (response) => {
          response.resume()
          resolve(response.statusCode ?? 0)
        }).on('error', reject),
      )
      assert.ok(status >= 400 && status < 500, `${path} → ${status}`)
    }
    assert.equal(upstream.log.length, before, 'no hostile request reached the upstream')
  })

  test('kill -9 mid-download, then restart: the partial is never served and the file is fetched whole', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    const filePath = `/files/${big.filename}`
    await get(`${proxy.url}/simple/big/`)
    upstream.stall(filePath)
    const pending = request(`${proxy.url}/files/big/${big.filename}`).then(
      async (response) => {
        await response.body.dump().catch(() => undefined)
        return response.statusCode
      },
      () => 'error',
    )
    while (upstream.hits(filePath) === 0) await new Promise((resolve) => setImmediate(resolve))
    await proxy.kill()
    await pending
    upstream.unstall(filePath)
    await proxy.restart()
    assert.deepEqual(blobDigests(proxy.cacheDir).filter((name) => name.length !== 64), [])
    const response = await get(`${proxy.url}/files/big/${big.filename}`)
    assert.equal(response.status, 200)
    assert.equal(response.headers['x-cache'], 'MISS', 'nothing from the killed download was kept')
    assert.ok(response.body.equals(big.bytes))
  })

  test('the cache survives a restart: with the upstream down, the page is served STALE and the file as a HIT', async (t) => {
    const proxy = await withProxy(upstream, ['--index-ttl', '0'])
    t.after(() => proxy.dispose())
    const first = await get(`${proxy.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(first.status, 200)
    await proxy.stop()
    upstream.offline()
    t.after(() => upstream.offline(false))
    await proxy.restart()
    const page = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(page.status, 200)
    assert.equal(page.headers['x-cache'], 'STALE')
    const file = await get(`${proxy.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200)
    assert.equal(file.headers['x-cache'], 'HIT')
    assert.ok(file.body.equals(wheel.bytes))
  })

  test('--cache-max-bytes bounds the file cache, evicting the least recently used file', async (t) => {
    const sizes = 400 * 1024
    const files = ['a', 'b', 'c'].map((name, i) => ({ filename: `lru_${name}-1.0-py3-none-any.whl`, bytes: bulkBytes(sizes, 100 + i) }))
    upstream.addProject('lru', files, 1)
    const proxy = await withProxy(upstream, ['--cache-max-bytes', '1M'])
    t.after(() => proxy.dispose())
    const fetchFile = async (file: { filename: string }) => get(`${proxy.url}/files/lru/${file.filename}`)
    // A client gets the bytes once verified; the commit (and any eviction) follows. Wait for it.
    const fill = async (file: { filename: string }) => {
      while ((await fetchFile(file)).headers['x-cache'] !== 'HIT') await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const [a, b, c] = files as [(typeof files)[0], (typeof files)[0], (typeof files)[0]]
    await fill(a)
    await fill(b)
    assert.equal((await fetchFile(a)).headers['x-cache'], 'HIT', 'a is now more recently used than b')
    await fill(c)
    assert.equal((await fetchFile(a)).headers['x-cache'], 'HIT')
    const again = await fetchFile(b)
    assert.equal(again.headers['x-cache'], 'MISS', 'b was the least recently used and was evicted')
    assert.ok(again.body.equals(b.bytes))
    // b's commit, and the eviction it causes, follow its response.
    await fill(b)
    assert.ok(blobDigests(proxy.cacheDir).length <= 3)
  })

  test('/health and /metrics', async (t) => {
    const proxy = await withProxy(upstream)
    t.after(() => proxy.dispose())
    const health = await get(`${proxy.url}/health`)
    assert.equal(health.status, 200)
    assert.equal(JSON.parse(health.text).ready, true)
    const metrics = await get(`${proxy.url}/metrics`)
    assert.match(metrics.text, /# TYPE tuf_proxy_drops_total counter/)
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  })
})
