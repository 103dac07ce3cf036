/**
 * The upstream breakers through the real proxy process (issue 7 item 9): one listed file that
 * keeps answering 500 is that file's problem, not an outage of its host, so the project page and
 * the other files of the same host keep being fetched from the upstream.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

describe('upstream breakers per origin', () => {
  let upstream: FakeUpstream
  const broken = buildWheel('mixed', '1.0')
  const good = buildWheel('mixed', '2.0')
  const neighbour = buildWheel('neighbour', '1.0')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('mixed', [
      { filename: broken.filename, bytes: broken.bytes },
      { filename: good.filename, bytes: good.bytes },
    ])
    upstream.addProject('neighbour', [{ filename: neighbour.filename, bytes: neighbour.bytes }])
  })
  after(() => upstream.stop())

  test('a file answering 500 again and again does not take its host offline: the page and another file still come from the upstream', async (t) => {
    // The default index TTL keeps the page fresh in the cache, so the failures come one after another with no page fetch between.
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const brokenPath = `/files/${broken.filename}`
    upstream.failNext(brokenPath, 500, 100)
    for (let attempt = 1; attempt <= 5; attempt++) {
      const answer = await get(`${proxy.url}/files/mixed/${broken.filename}`)
      assert.equal(answer.status, 502, `attempt ${attempt}: the upstream's 500 is reported as a bad gateway: ${answer.text}`)
      assert.equal(answer.headers['x-tuf-proxy-reason'], 'upstream_status', `attempt ${attempt} reached the upstream (not the breaker's upstream_unreachable)`)
    }
    assert.equal(upstream.hits(brokenPath), 5, 'every attempt reached the upstream')

    assert.equal(upstream.hits('/simple/mixed/'), 1, 'the page came from the cache after the first attempt')

    const page = await get(`${proxy.url}/simple/neighbour/`)
    assert.equal(page.status, 200, `a page never fetched before, from the same host: ${page.text}`)
    assert.equal(upstream.hits('/simple/neighbour/'), 1)

    const other = await get(`${proxy.url}/files/mixed/${good.filename}`)
    assert.equal(other.status, 200, `another file of the same host: ${other.text}`)
    assert.ok(other.body.equals(good.bytes))

    const health = await get(`${proxy.url}/health`)
    assert.equal(JSON.parse(health.text).upstream, 'up', `/health: ${health.text}`)
  })
})
