/**
 * --honor-client-revalidate on the real proxy process: a project page request with
 * `Cache-Control: no-cache` (RFC 9111 §5.2.1.4), or `Pragma: no-cache` without Cache-Control
 * (§5.4), is revalidated upstream first, so a new release shows at once; pip's `max-age=0`, sent
 * on every page request, is not honoured; without the option nothing is.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel, type Distribution } from '../helpers/wheels.js'

const PAGE = '/simple/fresh-pkg/'

describe('client revalidation of project pages', () => {
  let upstream: FakeUpstream
  const releases: Distribution[] = ['1.0', '2.0', '3.0', '4.0'].map((version) => buildWheel('fresh-pkg', version))
  let published = 0
  /** Publishes the next release upstream (a new serial), as a new upload would. */
  const publish = () => {
    published += 1
    upstream.addProject('fresh-pkg', releases.slice(0, published).map((wheel) => ({ filename: wheel.filename, bytes: wheel.bytes })), published)
    return releases[published - 1]?.filename ?? ''
  }
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(() => upstream.stop())

  test('with --honor-client-revalidate: no-cache and Pragma revalidate at once; max-age=0 (pip) does not', async (t) => {
    published = 0
    publish()
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--index-ttl', '1h', '--honor-client-revalidate'])
    t.after(() => proxy.dispose())
    assert.equal((await get(`${proxy.url}${PAGE}`)).headers['x-cache'], 'MISS')
    const second = publish()
    const hits = upstream.hits(PAGE)

    const pip = await get(`${proxy.url}${PAGE}`, { 'cache-control': 'max-age=0' })
    assert.equal(pip.headers['x-cache'], 'HIT')
    assert.ok(!pip.text.includes(second), "pip's max-age=0 is served from the cache")
    assert.equal(upstream.hits(PAGE), hits, 'max-age=0 did not reach the upstream')

    const noCache = await get(`${proxy.url}${PAGE}`, { 'cache-control': 'no-cache' })
    assert.equal(noCache.status, 200)
    assert.equal(noCache.headers['x-cache'], 'MISS', 'a changed page came from the upstream')
    assert.ok(noCache.text.includes(second), 'the new release is visible at once')
    assert.equal(upstream.hits(PAGE), hits + 1)

    const unchanged = await get(`${proxy.url}${PAGE}`, { 'cache-control': 'no-cache', accept: 'application/vnd.pypi.simple.v1+json' })
    assert.equal(unchanged.headers['x-cache'], 'HIT', 'an unchanged page is revalidated (304 upstream) and served')
    assert.equal(upstream.hits(PAGE), hits + 2)

    const third = publish()
    const pragma = await get(`${proxy.url}${PAGE}`, { pragma: 'no-cache' })
    assert.ok(pragma.text.includes(third), 'Pragma: no-cache without Cache-Control revalidates (RFC 9111 §5.4)')
    assert.equal(upstream.hits(PAGE), hits + 3)

    publish()
    const both = await get(`${proxy.url}${PAGE}`, { 'cache-control': 'max-age=0', pragma: 'no-cache' })
    assert.equal(both.headers['x-cache'], 'HIT', 'Pragma is ignored beside Cache-Control')
    assert.equal(upstream.hits(PAGE), hits + 3)

    const list = await get(`${proxy.url}/simple/`, { 'cache-control': 'no-cache' })
    assert.equal(list.status, 200)
    const listHits = upstream.hits('/simple/')
    await get(`${proxy.url}/simple/`, { 'cache-control': 'no-cache' })
    assert.equal(upstream.hits('/simple/'), listHits, 'the project list is not revalidated on request (tens of MB on PyPI)')
  })

  test('with --honor-client-revalidate: a project the upstream lacked is asked for again, not answered from the remembered 404', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--index-ttl', '1h', '--honor-client-revalidate'])
    t.after(() => proxy.dispose())
    assert.equal((await get(`${proxy.url}/simple/brand-new/`)).status, 404)
    assert.equal((await get(`${proxy.url}/simple/brand-new/`)).status, 404)
    assert.equal(upstream.hits('/simple/brand-new/'), 1, 'the 404 is remembered')
    const wheel = buildWheel('brand-new', '1.0')
    upstream.addProject('brand-new', [{ filename: wheel.filename, bytes: wheel.bytes }])
    const found = await get(`${proxy.url}/simple/brand-new/`, { 'cache-control': 'no-cache' })
    assert.equal(found.status, 200)
    assert.ok(found.text.includes(wheel.filename))
  })

  test('without the option a no-cache request is served from the cache', async (t) => {
    published = 0
    publish()
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--index-ttl', '1h'])
    t.after(() => proxy.dispose())
    await get(`${proxy.url}${PAGE}`)
    const next = publish()
    const hits = upstream.hits(PAGE)
    for (const headers of [{ 'cache-control': 'no-cache' }, { pragma: 'no-cache' }]) {
      const answer = await get(`${proxy.url}${PAGE}`, headers)
      assert.equal(answer.headers['x-cache'], 'HIT')
      assert.ok(!answer.text.includes(next))
    }
    assert.equal(upstream.hits(PAGE), hits)
  })
})
