/**
 * A private index is named with its credentials in the URL (`--upstream
 * https://user:token@host/simple/`, as pip's --index-url takes them). The real proxy process must
 * show that token to no client: not in an error body, not on `/status`, not in its log.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'

const TOKEN = 'idx-t0ken-never-shown'

describe('credentials in the --upstream URL', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  before(async () => {
    upstream = await new FakeUpstream().start()
    // A confused (or hostile) upstream: the page asked for as "confused" names another project.
    upstream.route('/simple/confused/', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end(JSON.stringify({ meta: { 'api-version': '1.0' }, name: 'other', files: [] }))
    })
    proxy = await ProxyProcess.start(['--upstream', `http://alice:${TOKEN}@127.0.0.1:${upstream.port}/simple/`])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('a project the upstream does not have: 404 naming the masked URL', async () => {
    const missing = await get(`${proxy.url}/simple/no-such-project/`)
    assert.equal(missing.status, 404)
    assert.equal(missing.headers['x-tuf-proxy-reason'], 'not_found')
    assert.ok(!missing.text.includes(TOKEN), missing.text)
    assert.match(JSON.parse(missing.text).message, /http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+\/simple\/no-such-project\//)
  })

  test("a page for another project: refused, and neither the answer nor /status nor the log shows the token", async () => {
    const refused = await get(`${proxy.url}/simple/confused/`)
    assert.equal(refused.status, 502, refused.text)
    assert.equal(refused.headers['x-tuf-proxy-reason'], 'malformed_index')
    const drop = await proxy.waitForLog((line) => line.event === 'drop' && line.reason === 'malformed_index')
    assert.match(String(drop.detail), /alice:\*\*\*@/)
    const status = await get(`${proxy.url}/status`, { accept: 'application/json' })
    for (const [where, text] of [['the answer', refused.text], ['/status', status.text], ['the log', JSON.stringify(proxy.logs)]] as const) {
      assert.ok(!text.includes(TOKEN), `the token appears in ${where}: ${text.slice(0, 400)}`)
    }
  })
})
