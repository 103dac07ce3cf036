/**
 * The admin API under `/-/` on the real proxy process: off without --admin-token-file (404),
 * 401 with a Bearer challenge without the right token (RFC 6750 §3), and with it the cache
 * listing, a refresh that reports what the upstream said, and a purge after which the next
 * request fetches and verifies again. Also the start-up checks of the token file.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests, callJson as call, get } from '../helpers/http-client.js'
import { CLI_PATH, ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

const TOKEN = 'f3a1c9e07b2d4c6a8e0f1b3d5c7e9a2b4d6f8a0c2e4b6d8f'

const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-admin-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function tokenFile(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}


const bearer = { authorization: `Bearer ${TOKEN}` }

describe('admin API off without --admin-token-file', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  before(async () => {
    upstream = await new FakeUpstream().start()
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('every /-/ path is 404, with or without a token', async () => {
    for (const [method, path] of [['GET', '/-/cache'], ['POST', '/-/refresh/demo'], ['DELETE', '/-/cache/demo']] as const) {
      const answer = await call(method, `${proxy.url}${path}`, bearer)
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`)
      assert.equal(answer.json.error, 'not_found')
    }
  })
})

describe('admin API with --admin-token-file', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const v1 = buildWheel('demo-pkg', '1.0')
  const v2 = buildWheel('demo-pkg', '2.0')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('demo-pkg', [{ filename: v1.filename, bytes: v1.bytes, metadata: v1.metadata }], 5)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--admin-token-file', tokenFile('token', `${TOKEN}\n`), '--index-ttl', '1h'])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('no token, a wrong token of the same length, a shorter one, another scheme: 401 with a Bearer challenge and the reason', async () => {
    // The proxy's own start check is the one upstream request allowed; none may follow from here.
    await proxy.waitForLog((line) => line.event === 'upstream_checked')
    const askedBefore = upstream.log.length
    const missing = await call('GET', `${proxy.url}/-/cache`)
    assert.equal(missing.status, 401)
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="tuf-proxy admin"')
    assert.equal(missing.headers['x-tuf-proxy-reason'], 'token_missing')
    assert.equal(missing.json.error, 'token_missing')
    assert.match(String(missing.json.message), /Authorization: Bearer/)
    const wrong = [`Bearer ${TOKEN.slice(0, -1)}0`, `Bearer ${TOKEN.slice(0, 8)}`, `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, `Bearer ${TOKEN} extra`]
    for (const authorization of wrong) {
      for (const [method, path] of [['GET', '/-/cache'], ['DELETE', '/-/cache/demo-pkg'], ['POST', '/-/refresh/demo-pkg'], ['GET', '/-/nothing-here']] as const) {
        const answer = await call(method, `${proxy.url}${path}`, { authorization })
        assert.equal(answer.status, 401, `${method} ${path} with ${authorization.slice(0, 12)}…`)
        assert.equal(answer.headers['www-authenticate'], 'Bearer realm="tuf-proxy admin", error="invalid_token"')
        assert.equal(answer.headers['x-tuf-proxy-reason'], 'token_invalid')
      }
    }
    // Request lines are written in batches: wait for one of each kind.
    await proxy.waitForLog((line) => line.event === 'request' && line.status === 401 && line.reason === 'token_missing' && line.path === '/-/cache')
    await proxy.waitForLog((line) => line.event === 'request' && line.status === 401 && line.reason === 'token_invalid' && line.path === '/-/nothing-here')
    assert.equal(upstream.log.length, askedBefore, 'nothing reached the upstream')
  })

  test('the scheme name is case-insensitive (RFC 9110 §11.1); an unknown /-/ path is 404 once authorized', async () => {
    assert.equal((await call('GET', `${proxy.url}/-/cache`, { authorization: `bearer ${TOKEN}` })).status, 200)
    assert.equal((await call('GET', `${proxy.url}/-/nothing-here`, bearer)).status, 404)
  })

  test('GET /-/cache lists the project with its page and files, sizes and last use', async () => {
    assert.equal((await get(`${proxy.url}/simple/demo-pkg/`)).status, 200)
    // A HEAD on a cold file answers once the file is verified and committed (core-proxy.test.ts).
    assert.equal((await call('HEAD', `${proxy.url}/files/demo-pkg/${v1.filename}`)).status, 200)
    assert.equal((await call('HEAD', `${proxy.url}/files/demo-pkg/${v1.filename}.metadata`)).status, 200)
    const listing = await call('GET', `${proxy.url}/-/cache`, bearer)
    assert.equal(listing.status, 200, listing.text)
    const projects = listing.json.projects as Array<Record<string, unknown>>
    assert.equal(projects.length, 1)
    const [project] = projects
    assert.equal(project?.project, 'demo-pkg')
    const pages = project?.pages as Array<Record<string, unknown>>
    assert.equal(pages.length, 1)
    assert.equal(pages[0]?.kind, 'page')
    assert.equal(pages[0]?.serial, 5)
    assert.ok(Number(pages[0]?.bytes) > 0)
    const files = (project?.files as Array<Record<string, unknown>>).map((entry) => [entry.filename, entry.sha256, entry.bytes])
    assert.deepEqual(files.sort(), [
      [v1.filename, v1.sha256, v1.bytes.length],
      [`${v1.filename}.metadata`, (await import('node:crypto')).createHash('sha256').update(v1.metadata).digest('hex'), v1.metadata.length],
    ].sort())
    assert.equal(project?.bytes, Number(pages[0]?.bytes) + v1.bytes.length + v1.metadata.length)
    assert.match(String(project?.lastUsed), /^\d{4}-\d\d-\d\dT/)
    const blobs = listing.json.blobs as Record<string, unknown>
    assert.equal(blobs.count, 3)
    assert.equal(blobs.maxBytes, 10 * 1024 ** 3)
  })

  test('POST /-/refresh: unchanged (a 304 upstream), then updated with the new serial, visible to the next page request', async () => {
    const pagePath = '/simple/demo-pkg/'
    const hitsBefore = upstream.hits(pagePath)
    const unchanged = await call('POST', `${proxy.url}/-/refresh/Demo_Pkg`, bearer)
    assert.equal(unchanged.status, 200, unchanged.text)
    assert.deepEqual({ project: unchanged.json.project, outcome: unchanged.json.outcome, serial: unchanged.json.serial }, { project: 'demo-pkg', outcome: 'unchanged', serial: 5 })
    assert.equal(upstream.hits(pagePath), hitsBefore + 1, 'the refresh asked the upstream, inside the 1h TTL')
    upstream.addProject('demo-pkg', [{ filename: v1.filename, bytes: v1.bytes, metadata: v1.metadata }, { filename: v2.filename, bytes: v2.bytes }], 6)
    const stale = await get(`${proxy.url}${pagePath}`)
    assert.ok(!stale.text.includes(v2.filename), 'before the refresh the cached page is served, without the new release')
    const updated = await call('POST', `${proxy.url}/-/refresh/demo-pkg`, bearer)
    assert.equal(updated.status, 200, updated.text)
    assert.deepEqual({ outcome: updated.json.outcome, serial: updated.json.serial, previousSerial: updated.json.previousSerial }, { outcome: 'updated', serial: 6, previousSerial: 5 })
    const fresh = await get(`${proxy.url}${pagePath}`)
    assert.equal(fresh.headers['x-cache'], 'HIT')
    assert.ok(fresh.text.includes(v2.filename), 'the next page request shows the new release')
    assert.equal(upstream.hits(pagePath), hitsBefore + 2)
    await proxy.waitForLog((line) => line.event === 'admin_refresh' && line.outcome === 'updated' && line.serial === 6)
    assert.deepEqual(proxy.events('admin_refresh').map((line) => line.outcome), ['unchanged', 'updated'])
  })

  test('POST /-/refresh: failed, with the reason and the status a page request would get; the last good copy stays', async () => {
    upstream.failNext('/simple/demo-pkg/', 500)
    const failed = await call('POST', `${proxy.url}/-/refresh/demo-pkg`, bearer)
    assert.equal(failed.status, 502, failed.text)
    assert.equal(failed.json.outcome, 'failed')
    assert.equal(failed.json.error, 'upstream_status')
    assert.equal(failed.headers['x-tuf-proxy-reason'], 'upstream_status')
    assert.equal(failed.json.lastGoodKept, true)
    assert.equal((await get(`${proxy.url}/simple/demo-pkg/`)).status, 200, 'the page is still served')
    const unknown = await call('POST', `${proxy.url}/-/refresh/no-such-project`, bearer)
    assert.equal(unknown.status, 404, unknown.text)
    assert.equal(unknown.json.outcome, 'failed')
    assert.equal(unknown.json.error, 'not_found')
    assert.equal(unknown.json.lastGoodKept, false)
  })

  test('hostile or invalid project names are 400, and nothing is touched', async () => {
    const before = blobDigests(proxy.cacheDir).sort()
    for (const [method, path] of [
      ['DELETE', '/-/cache/..%2F..%2Fetc'],
      ['DELETE', '/-/cache/a%20b'],
      ['POST', '/-/refresh/-leading-dash'],
      ['POST', '/-/refresh/%E2%80%AEname'],
    ] as const) {
      const answer = await call(method, `${proxy.url}${path}`, bearer)
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`)
      assert.equal(answer.headers['x-tuf-proxy-reason'], 'bad_request')
    }
    for (const path of ['/-/cache/..', '/-/cache/%2e%2e']) {
      // node:http sends the path as written; a URL parser would resolve the dot segment first.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: proxy.port, path, method: 'DELETE', headers: bearer }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode))
        })
        req.on('error', reject)
        req.end()
      })
      assert.equal(status, 400, `${path}: a dot segment is refused at the front door`)
    }
    assert.deepEqual(blobDigests(proxy.cacheDir).sort(), before)
  })

  test('DELETE /-/cache/<project> removes its pages and files from disk and memory; the next requests fetch again', async () => {
    const fileHits = upstream.hits(`/files/${v1.filename}`)
    const pageHits = upstream.hits('/simple/demo-pkg/')
    assert.ok(blobDigests(proxy.cacheDir).includes(v1.sha256))
    const purged = await call('DELETE', `${proxy.url}/-/cache/Demo.Pkg`, bearer)
    assert.equal(purged.status, 200, purged.text)
    assert.equal(purged.json.project, 'demo-pkg')
    assert.equal(purged.json.pages, 1)
    assert.equal(purged.json.files, 2, 'the wheel and its .metadata')
    assert.ok(!blobDigests(proxy.cacheDir).includes(v1.sha256), 'the wheel left the disk')
    const logged = await proxy.waitForLog((line) => line.event === 'cache_purged')
    assert.deepEqual([logged.project, logged.pages, logged.files], ['demo-pkg', 1, 2])
    const listing = await call('GET', `${proxy.url}/-/cache`, bearer)
    assert.deepEqual(listing.json.projects, [])
    const page = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(page.status, 200)
    assert.equal(page.headers['x-cache'], 'MISS', 'the page is fetched again, not served from memory')
    assert.equal(upstream.hits('/simple/demo-pkg/'), pageHits + 1)
    const file = await get(`${proxy.url}/files/demo-pkg/${v1.filename}`)
    assert.equal(file.headers['x-cache'], 'MISS')
    assert.ok(file.body.equals(v1.bytes))
    assert.equal(upstream.hits(`/files/${v1.filename}`), fileHits + 1)
  })
})

describe('a purge leaves what other projects list', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const wheel = buildWheel('demo-pkg', '1.0')
  const decoy = buildWheel('evil-pkg', '1.0')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('demo-pkg', [{ filename: wheel.filename, bytes: wheel.bytes }], 1)
    // The upstream is not trusted: its page for evil-pkg names demo-pkg's wheel by its digest.
    upstream.addProject('evil-pkg', [{ filename: decoy.filename, bytes: decoy.bytes, hashes: { sha256: wheel.sha256 } }], 1)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--admin-token-file', tokenFile('token-shared', TOKEN), '--index-ttl', '1h'])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test("DELETE /-/cache/<project> does not remove a blob another project's page lists", async () => {
    assert.equal((await call('HEAD', `${proxy.url}/files/demo-pkg/${wheel.filename}`)).status, 200)
    assert.equal((await get(`${proxy.url}/simple/evil-pkg/`)).status, 200)
    assert.ok(blobDigests(proxy.cacheDir).includes(wheel.sha256))
    const fileHits = upstream.hits(`/files/${wheel.filename}`)
    const purged = await call('DELETE', `${proxy.url}/-/cache/evil-pkg`, bearer)
    assert.equal(purged.status, 200, purged.text)
    assert.deepEqual([purged.json.project, purged.json.pages, purged.json.files], ['evil-pkg', 1, 0])
    assert.ok(blobDigests(proxy.cacheDir).includes(wheel.sha256), "demo-pkg's wheel is still on disk")
    const file = await get(`${proxy.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200)
    assert.equal(file.headers['x-cache'], 'HIT')
    assert.equal(upstream.hits(`/files/${wheel.filename}`), fileHits, 'not fetched again')
  })
})

describe('--admin-token-file checks at start', () => {
  function serve(path: string) {
    const result = spawnSync(process.execPath, [CLI_PATH, 'serve', '--port', '0', '--upstream', 'http://127.0.0.1:9/simple/', '--cache-dir', join(dir, 'cache'), '--admin-token-file', path], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { PATH: process.env.PATH ?? '', HOME: dir },
    })
    return { status: result.status, signal: result.signal, stderr: result.stderr, stdout: result.stdout }
  }

  for (const [name, make, message] of [
    ['a missing file', () => join(dir, 'absent'), /--admin-token-file .*absent: cannot read the file/],
    ['an empty file', () => tokenFile('empty', '  \n'), /the file is empty/],
    ['a short token', () => tokenFile('short', 'abc123\n'), /the token has 6 characters; use at least 32/],
    ['a token with a space', () => tokenFile('spaced', `${TOKEN} ${TOKEN}\n`), /must be one word/],
  ] as const) {
    test(`${name}: the proxy refuses to start (exit 2) and says why`, () => {
      const result = serve(make())
      assert.equal(result.signal, null, `it started serving: ${result.stdout}`)
      assert.equal(result.status, 2, result.stderr)
      assert.match(result.stderr, message)
      assert.equal(result.stdout, '')
    })
  }

  test('a token file other users may read starts, with a warning naming the file and its mode', async (t) => {
    const path = tokenFile('loose', TOKEN, 0o644)
    const proxy = await ProxyProcess.start(['--upstream', 'http://127.0.0.1:9/simple/', '--admin-token-file', path])
    t.after(() => proxy.dispose())
    const [warning] = proxy.events('admin_token_file_permissions')
    assert.equal(warning?.path, path)
    assert.equal(warning?.mode, '0644')
    assert.equal(warning?.level, 'warn')
    assert.equal((await call('GET', `${proxy.url}/-/cache`, bearer)).status, 200)
  })

  test('a private token file starts without a warning', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', 'http://127.0.0.1:9/simple/', '--admin-token-file', tokenFile('private', TOKEN)])
    t.after(() => proxy.dispose())
    assert.deepEqual(proxy.events('admin_token_file_permissions'), [])
  })
})
