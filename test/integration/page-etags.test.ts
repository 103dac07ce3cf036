/**
 * Issue 7 item 15: one ETag per representation. text/html and application/vnd.pypi.simple.v1+html
 * answers carry the same bytes under different Content-Types, so they must not share a strong
 * ETag, and an If-None-Match taken from one must not earn a 304 for the other. Checked on both
 * answering paths: the hono route (the first, uncached request) and the hot path (cached pages).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

const TEXT_HTML = 'text/html'
const HTML_V1 = 'application/vnd.pypi.simple.v1+html'
const JSON_V1 = 'application/vnd.pypi.simple.v1+json'

describe('ETags per representation (item 15)', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  before(async () => {
    upstream = await new FakeUpstream().start()
    const wheel = buildWheel('etag-demo', '1.0')
    upstream.addProject('etag-demo', [{ filename: wheel.filename, bytes: wheel.bytes }], 3)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  for (const path of ['/simple/etag-demo/', '/simple/'] as const) {
    test(`${path}: text/html, v1+html and JSON have distinct ETags; none revalidates another`, async () => {
      // The first answer comes through the hono route (a MISS), the others through the hot path.
      const first = await get(`${proxy.url}${path}`, { accept: TEXT_HTML })
      assert.equal(first.status, 200)
      assert.equal(first.headers['x-cache'], 'MISS')
      const answers = new Map<string, string>()
      for (const accept of [TEXT_HTML, HTML_V1, JSON_V1]) {
        const answer = await get(`${proxy.url}${path}`, { accept })
        assert.equal(answer.status, 200)
        assert.equal(answer.headers['x-cache'], 'HIT')
        answers.set(accept, String(answer.headers.etag))
      }
      assert.equal(answers.get(TEXT_HTML), String(first.headers.etag), 'the same representation keeps its ETag')
      assert.equal(new Set(answers.values()).size, 3, `three representations, three ETags: ${JSON.stringify([...answers])}`)
      for (const [accept, etag] of answers) {
        const own = await get(`${proxy.url}${path}`, { accept, 'if-none-match': etag })
        assert.equal(own.status, 304, `${accept} revalidates with its own ETag`)
        for (const other of [TEXT_HTML, HTML_V1, JSON_V1].filter((candidate) => candidate !== accept)) {
          const crossed = await get(`${proxy.url}${path}`, { accept: other, 'if-none-match': etag })
          assert.equal(crossed.status, 200, `${other} with the ETag of ${accept} gets the whole page, not 304`)
          assert.ok(String(crossed.headers['content-type']).startsWith(other))
        }
      }
    })
  }

  test('the hono route also refuses a crossed ETag (a request with a query string skips the hot path)', async () => {
    const htmlTag = String((await get(`${proxy.url}/simple/etag-demo/`, { accept: TEXT_HTML })).headers.etag)
    const crossed = await get(`${proxy.url}/simple/etag-demo/?format=${encodeURIComponent(HTML_V1)}`, { 'if-none-match': htmlTag })
    assert.equal(crossed.status, 200)
    assert.match(String(crossed.headers['content-type']), /^application\/vnd\.pypi\.simple\.v1\+html/)
    const own = await get(`${proxy.url}/simple/etag-demo/?format=${encodeURIComponent(TEXT_HTML)}`, { 'if-none-match': htmlTag })
    assert.equal(own.status, 304)
  })
})
