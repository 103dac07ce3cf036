/**
 * Issue 9, `/simple/`: the project list's renderings are kept on disk as committed blobs, not in
 * memory, and served like a cached file through the one page writer (write-page.ts). A list
 * large enough to take several read buffers is answered byte-identical in every format (GET,
 * HEAD, If-None-Match) before and after a restart with the upstream down, on the hono route
 * (the first answer after the restart) and on the hot path (the ones after). The restart reopens
 * the renderings named in the page record rather than parsing the upstream's list again.
 */
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'

const FORMATS = ['application/vnd.pypi.simple.v1+json', 'application/vnd.pypi.simple.v1+html', 'text/html'] as const
/** ~1.3 MB of rendered HTML: several of send-file.ts's 256 KiB reads. */
const PROJECTS = 20_000
/** Set per response by Node's HTTP server, or saying which cache answered; compared separately. */
const PER_RESPONSE = new Set(['date', 'x-cache', 'connection', 'keep-alive'])

interface Answer {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly cache: unknown
  readonly body: Buffer
}

async function ask(url: string, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<Answer> {
  const response = await request(url, { method, headers })
  const body = Buffer.from(await response.body.arrayBuffer())
  const kept = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !PER_RESPONSE.has(name)))
  return { status: response.statusCode, headers: kept, cache: response.headers['x-cache'], body }
}

describe('the project list is stored rendered and served from disk', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  before(async () => {
    upstream = await new FakeUpstream().start()
    for (let i = 0; i < PROJECTS; i += 1) upstream.addProject(`listed-project-${i}`, [])
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    upstream.offline(false)
    await proxy.dispose()
    await upstream.stop()
  })

  test('GET, HEAD and 304 in every format are byte-identical after a restart with the upstream down', async () => {
    let url = `${proxy.url}/simple/`
    const first = new Map<string, Answer>()
    for (const accept of FORMATS) {
      const answer = await ask(url, 'GET', { accept })
      assert.equal(answer.status, 200)
      assert.equal(answer.headers['content-length'], String(answer.body.byteLength))
      first.set(accept, answer)
    }
    assert.ok((first.get('text/html')?.body.byteLength ?? 0) > 1024 * 1024, 'the list spans several reads')
    const stored = new Set(blobDigests(proxy.cacheDir))
    for (const [accept, answer] of first) {
      assert.ok(stored.has(createHash('sha256').update(answer.body).digest('hex')), `the ${accept} rendering is a committed blob`)
    }

    await proxy.stop()
    upstream.offline()
    // Without the upstream's own bytes, only the stored renderings can answer: a restart reopens
    // them instead of parsing the list again (PyPI's takes seconds and hundreds of MB).
    const renderings = new Set([...first.values()].map((answer) => createHash('sha256').update(answer.body).digest('hex')))
    const upstreamBodies = [...stored].filter((digest) => !renderings.has(digest))
    assert.equal(upstreamBodies.length, 1, 'one upstream body is stored besides the renderings')
    for (const digest of upstreamBodies) rmSync(join(proxy.cacheDir, 'blobs', 'blobs', digest.slice(0, 2), digest))
    await proxy.restart()
    url = `${proxy.url}/simple/`
    for (const round of ['hono route', 'hot path']) {
      for (const accept of FORMATS) {
        const expected = first.get(accept)
        assert.ok(expected)
        const got = await ask(url, 'GET', { accept })
        assert.equal(got.status, 200, `${round} ${accept}`)
        assert.ok(got.body.equals(expected.body), `${round} ${accept}: the same bytes`)
        assert.deepEqual(got.headers, expected.headers, `${round} ${accept}: the same headers`)
        assert.ok(got.cache === 'STALE' || got.cache === 'HIT', `${round} ${accept}: x-cache ${String(got.cache)}`)
        const head = await ask(url, 'HEAD', { accept })
        assert.equal(head.status, 200)
        assert.equal(head.body.byteLength, 0)
        assert.deepEqual(head.headers, expected.headers, `${round} ${accept}: HEAD has the GET's headers`)
        const etag = String(expected.headers.etag)
        const revalidated = await ask(url, 'GET', { accept, 'if-none-match': etag })
        assert.equal(revalidated.status, 304, `${round} ${accept}: its ETag revalidates`)
        assert.equal(revalidated.body.byteLength, 0)
        assert.equal(revalidated.headers.etag, etag)
        assert.equal(revalidated.headers['content-type'], expected.headers['content-type'])
        assert.equal(revalidated.headers.vary, 'Accept')
      }
    }
  })
})
