/**
 * Issue 9 / architecture §9 item 4: a cached page is answered by the hot path (before hono) and
 * by the hono route (any request the hot path leaves, e.g. one with a query string). Both go
 * through writePage(); this compares their answers, status, headers and body, for GET, HEAD and
 * If-None-Match in every format, on a project page and on the project list.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

const FORMATS = ['application/vnd.pypi.simple.v1+json', 'application/vnd.pypi.simple.v1+html', 'text/html'] as const
/** Set per response by Node's HTTP server, not by either path. */
const PER_RESPONSE = new Set(['date'])

interface Answer {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly body: string
}

async function ask(url: string, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<Answer> {
  const response = await request(url, { method, headers })
  const body = Buffer.from(await response.body.arrayBuffer()).toString('latin1')
  const kept = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !PER_RESPONSE.has(name)))
  return { status: response.statusCode, headers: kept, body }
}

describe('hot path and hono route answer a cached page alike', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  before(async () => {
    upstream = await new FakeUpstream().start()
    const wheel = buildWheel('paths-demo', '1.0')
    upstream.addProject('paths-demo', [{ filename: wheel.filename, bytes: wheel.bytes }], 7)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  for (const path of ['/simple/paths-demo/', '/simple/'] as const) {
    test(`${path}: GET, HEAD and If-None-Match in every format`, async () => {
      const hot = `${proxy.url}${path}`
      // A query string is not a canonical page URL, so the hot path leaves it to the hono route.
      const hono = `${proxy.url}${path}?via=hono`
      for (const accept of FORMATS) {
        const first = await ask(hot, 'GET', { accept })
        assert.equal(first.status, 200)
        const etag = String(first.headers.etag)
        const otherEtag = `"not-${etag.slice(1)}`
        const cases: Array<{ method: 'GET' | 'HEAD'; headers: Record<string, string>; status: number }> = [
          { method: 'GET', headers: { accept }, status: 200 },
          { method: 'HEAD', headers: { accept }, status: 200 },
          { method: 'GET', headers: { accept, 'if-none-match': etag }, status: 304 },
          { method: 'GET', headers: { accept, 'if-none-match': `${otherEtag}, W/${etag}` }, status: 304 },
          { method: 'HEAD', headers: { accept, 'if-none-match': etag }, status: 304 },
          { method: 'GET', headers: { accept, 'if-none-match': otherEtag }, status: 200 },
        ]
        for (const { method, headers, status } of cases) {
          const what = `${method} ${path} ${JSON.stringify(headers)}`
          const viaHot = await ask(hot, method, headers)
          const viaHono = await ask(hono, method, headers)
          assert.equal(viaHot.status, status, `${what}: hot path status`)
          assert.equal(viaHot.headers['x-cache'], 'HIT', `${what}: served from memory`)
          assert.deepEqual(viaHono, viaHot, `${what}: the hono route answers as the hot path does`)
          if (status === 200 && method === 'GET') assert.equal(viaHot.headers['content-length'], String(Buffer.byteLength(viaHot.body, 'latin1')))
          if (status === 200 && method === 'HEAD') assert.equal(viaHot.headers['content-length'], first.headers['content-length'], `${what}: HEAD announces the GET's length`)
          if (status !== 200 || method === 'HEAD') assert.equal(viaHot.body, '')
        }
      }
    })
  }
})
