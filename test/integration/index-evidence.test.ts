/**
 * What a hostile or sloppy index page can and cannot get past the proxy, end to end: the real
 * proxy process, a real upstream on 127.0.0.1, undici for exact answers and Debian's pip for the
 * user's view. Weak-only digests are checked and relayed (PEP 503 fragment, PEP 691 `hashes`);
 * one bad link costs that link, not the page; a page malformed as a whole is remembered briefly;
 * relative links follow a redirect; a page without a serial cannot roll a known serial back.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FakeUpstream, flipLastByte } from '../helpers/fake-upstream.js'
import { blobDigests, get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { buildWheel } from '../helpers/wheels.js'

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json'
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('weak-only digests are checked, and relayed in both formats', () => {
  let upstream: FakeUpstream
  const good = buildWheel('weak-good', '0.1')
  const bad = buildWheel('weak-bad', '0.1')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'html'
    // PEP 503: the only evidence is `#md5=…`, as on old self-hosted indexes.
    upstream.addProject('weak-good', [{ filename: good.filename, bytes: good.bytes, hashes: { md5: md5(good.bytes) } }], 1)
    upstream.addProject('weak-bad', [{ filename: bad.filename, bytes: bad.bytes, hashes: { md5: md5(bad.bytes) } }], 1)
    upstream.tamper(`/files/${bad.filename}`)
  })
  after(() => upstream.stop())

  test('an untampered md5-only file: the proxy keeps the digest in HTML and JSON, and pip downloads the upstream bytes', requirePip(), async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const html = await get(`${proxy.url}/simple/weak-good/`, { accept: 'text/html' })
    assert.match(html.text, new RegExp(`${good.filename.replace(/\./g, '\\.')}#md5=${md5(good.bytes)}"`), 'the HTML link keeps its md5 fragment')
    const json = JSON.parse((await get(`${proxy.url}/simple/weak-good/`, { accept: JSON_ACCEPT })).text) as { files: Array<{ hashes: unknown }> }
    assert.deepEqual(json.files[0]?.hashes, { md5: md5(good.bytes) })
    const result = await pipDownload(`${proxy.url}/simple/`, 'weak-good==0.1')
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(result.files, [good.filename])
    assert.ok(readFileSync(join(result.dest, good.filename)).equals(good.bytes), 'pip saved exactly the upstream bytes')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' }), 0)
  })

  test('a tampered md5-only file is dropped by the proxy: 502 hash_mismatch, counted, nothing cached', requirePip(), async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const result = await pipDownload(`${proxy.url}/simple/`, 'weak-bad==0.1')
    assert.notEqual(result.status, 0, 'pip must not get the tampered file')
    assert.deepEqual(result.files, [])
    // pip checks the md5 fragment itself, so its failure alone proves nothing: the proxy's verdict must be the drop.
    assert.ok(proxy.events('drop').some((line) => line.reason === 'hash_mismatch' && String(line.detail).startsWith('md5 is ')), 'a drop line names hash_mismatch on md5')
    const dropsAfterPip = await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' })
    assert.ok(dropsAfterPip >= 1)
    const direct = await get(`${proxy.url}/files/weak-bad/${bad.filename}`)
    assert.equal(direct.status, 502)
    assert.equal(JSON.parse(direct.text).error, 'hash_mismatch')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' }), dropsAfterPip + 1)
    assert.deepEqual(blobDigests(proxy.cacheDir).filter((digest) => digest === sha256(bad.bytes) || digest === sha256(flipLastByte(bad.bytes))), [])
  })
})

describe('one bad link costs that link, not the page', () => {
  let upstream: FakeUpstream
  const wheel = buildWheel('mixed', '1.0')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('mixed-files', [{ filename: wheel.filename, bytes: wheel.bytes }], 1)
    const digest = sha256(wheel.bytes)
    const links = [
      '<a href="file:///etc/mixed-0.1.tar.gz">mixed-0.1.tar.gz</a>',
      `<a href="${upstream.url}/files/mixed-0.2.tar.gz#sha256=${digest.slice(2)}">mixed-0.2.tar.gz</a>`,
      `<a href="${upstream.url}/files/mixed-0.3.tar.gz#sha256=${digest}&sha256=${'0'.repeat(64)}">mixed-0.3.tar.gz</a>`,
      `<a href="${upstream.url}/files/mixed-0.4.tar.gz#sha256=${digest}">mixed-9.9.tar.gz</a>`,
      `<a href="${upstream.fileUrl(wheel.filename)}#sha256=${digest}">${wheel.filename}</a>`,
    ]
    upstream.route('/simple/mixed/', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${links.join('\n')}</body></html>`))
    upstream.route('/simple/broken/', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end('{"meta": {"api-version": "1.0"}, "name": "broken", "files": {}}'),
    )
  })
  after(() => upstream.stop())

  test('a file:// link, a wrong-length digest, conflicting digests and a mismatched link text are dropped and counted; the good file is served', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const page = await get(`${proxy.url}/simple/mixed/`, { accept: JSON_ACCEPT })
    assert.equal(page.status, 200)
    assert.deepEqual((JSON.parse(page.text) as { files: Array<{ filename: string }> }).files.map((file) => file.filename), [wheel.filename])
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'malformed_link' }), 4)
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'malformed_index' }), 0)
    const drops = proxy.events('drop').filter((line) => line.reason === 'malformed_link')
    assert.deepEqual(
      drops.map((line) => [line.what, /only http and https|not 64 hex digits|listed twice|does not match/.exec(String(line.detail))?.[0]]),
      [
        ['link', 'only http and https'],
        ['link', 'not 64 hex digits'],
        ['link', 'listed twice'],
        ['link', 'does not match'],
      ],
    )
    const file = await get(`${proxy.url}/files/mixed/${wheel.filename}`)
    assert.equal(file.status, 200)
    assert.ok(file.body.equals(wheel.bytes))
    const dropped = await get(`${proxy.url}/files/mixed/mixed-0.3.tar.gz`)
    assert.equal(dropped.status, 404, 'a dropped link is not offered')
  })

  test('a page malformed as a whole is a 502 malformed_index, remembered: the next request does not reach the upstream', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const before = upstream.hits('/simple/broken/')
    for (let i = 0; i < 3; i++) {
      const broken = await get(`${proxy.url}/simple/broken/`)
      assert.equal(broken.status, 502)
      assert.equal(JSON.parse(broken.text).error, 'malformed_index')
    }
    assert.equal(upstream.hits('/simple/broken/') - before, 1, 'fetched once, then answered from the negative cache')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'malformed_index' }), 1, 'dropped once')
  })
})

describe('a redirected page', () => {
  let upstream: FakeUpstream
  // Only the redirect's target directory holds this file: resolving against the old URL misses it.
  const moved = buildWheel('moved', '1.0', 'the copy beside the page the redirect led to')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.route('/simple/moved/', (_req, res) => res.writeHead(302, { location: '/mirror/simple/moved/' }).end())
    upstream.route('/mirror/simple/moved/', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<a href="../../files/${moved.filename}#sha256=${moved.sha256}">${moved.filename}</a>`),
    )
    upstream.route(`/mirror/files/${moved.filename}`, (_req, res) => upstream.send(res, `/mirror/files/${moved.filename}`, 200, { 'content-type': 'application/octet-stream' }, moved.bytes))
  })
  after(() => upstream.stop())

  test('has its relative links resolved against the URL the redirect led to, as pip resolves them', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const page = await get(`${proxy.url}/simple/moved/`, { accept: JSON_ACCEPT })
    assert.equal(page.status, 200)
    const file = await get(`${proxy.url}/files/moved/${moved.filename}`)
    assert.equal(file.status, 200, file.text)
    assert.ok(file.body.equals(moved.bytes))
    assert.equal(upstream.hits(`/mirror/files/${moved.filename}`), 1)
    assert.equal(upstream.hits(`/files/${moved.filename}`), 0, 'nothing was asked at the pre-redirect location')
  })
})

describe('serials', () => {
  let upstream: FakeUpstream
  const first = buildWheel('serial-pkg', '1.0')
  const second = buildWheel('serial-pkg', '0.9')
  let withSerial = true
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('serial-files', [
      { filename: first.filename, bytes: first.bytes },
      { filename: second.filename, bytes: second.bytes },
    ])
    upstream.route('/simple/serial-pkg/', (_req, res) => {
      // A lagging replica without the serial lists an older set of files.
      const file = withSerial ? first : second
      const meta = withSerial ? { 'api-version': '1.1', '_last-serial': 10 } : { 'api-version': '1.1' }
      const body = JSON.stringify({ meta, name: 'serial-pkg', files: [{ filename: file.filename, url: upstream.fileUrl(file.filename), hashes: { sha256: file.sha256 } }] })
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', ...(withSerial ? { 'x-pypi-last-serial': '10' } : {}) }).end(body)
    })
  })
  after(() => upstream.stop())

  test('a page without a serial after one with serial 10 is dropped as serial_regression; the good copy is served STALE, also after a restart', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--index-ttl', '0'])
    t.after(() => proxy.dispose())
    withSerial = true
    t.after(() => (withSerial = true))
    const fresh = await get(`${proxy.url}/simple/serial-pkg/`, { accept: JSON_ACCEPT })
    assert.equal(fresh.headers['x-pypi-last-serial'], '10')
    withSerial = false
    const lagging = await get(`${proxy.url}/simple/serial-pkg/`, { accept: JSON_ACCEPT })
    assert.equal(lagging.status, 200)
    assert.equal(lagging.headers['x-cache'], 'STALE')
    assert.equal(lagging.headers['x-pypi-last-serial'], '10')
    assert.equal(lagging.text, fresh.text)
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'serial_regression' }), 1)
    assert.ok(proxy.events('drop').some((line) => line.reason === 'serial_regression' && /without a serial after serial 10/.test(String(line.detail))))
    // The known serial is persisted with the page record, so a restart does not forget it.
    await proxy.stop()
    await proxy.restart()
    const afterRestart = await get(`${proxy.url}/simple/serial-pkg/`, { accept: JSON_ACCEPT })
    assert.equal(afterRestart.headers['x-cache'], 'STALE')
    assert.equal(afterRestart.text, fresh.text)
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'serial_regression' }), 1, 'the restarted process dropped it too')
    const unlisted = await get(`${proxy.url}/files/serial-pkg/${second.filename}`)
    assert.equal(unlisted.status, 404, 'the lagging page’s file list was never taken')
  })
})
