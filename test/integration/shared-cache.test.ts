/**
 * Several proxy processes on one cache directory (independent `serve` processes here; workers of
 * `--workers N` in workers.test.ts): a cold file is downloaded once across all of them, a leader
 * killed with kill -9 mid-download is taken over by a follower whose clients still get the exact
 * upstream bytes, and the byte budget holds with several writers. In verifying mode one process
 * refreshes the TUF metadata at a time and the other adopts the stored set.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { TufUpstream } from '../helpers/tuf-upstream.js'
import { bulkBytes } from '../helpers/wheels.js'

/** Bytes of every committed blob under the cache directory. */
function committedBytes(cacheDir: string): number {
  const root = join(cacheDir, 'blobs', 'blobs')
  let total = 0
  for (const prefix of readdirSync(root)) for (const name of readdirSync(join(root, prefix))) total += statSync(join(root, prefix, name)).size
  return total
}

async function startPair(upstream: FakeUpstream, args: string[] = []): Promise<{ a: ProxyProcess; b: ProxyProcess; cacheDir: string; stop(): Promise<void> }> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-shared-'))
  const a = await ProxyProcess.start(['--upstream', upstream.simpleUrl, ...args], { cacheDir })
  const b = await ProxyProcess.start(['--upstream', upstream.simpleUrl, ...args], { cacheDir })
  return {
    a,
    b,
    cacheDir,
    async stop() {
      await a.kill()
      await b.kill()
      rmSync(cacheDir, { recursive: true, force: true })
    },
  }
}

describe('two independent serve processes on one cache directory', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
  })
  after(() => upstream.stop())

  test('50 clients across both processes for one cold file cause one upstream request, and all get its bytes', async (t) => {
    const file = { filename: 'shared-1.0-py3-none-any.whl', bytes: bulkBytes(3 * 1024 * 1024, 21) }
    upstream.addProject('shared', [file], 1)
    const pair = await startPair(upstream)
    t.after(() => pair.stop())
    // Both processes know the page first, so the file requests race each other, not the page.
    await get(`${pair.a.url}/simple/shared/`)
    await get(`${pair.b.url}/simple/shared/`)
    const path = `/files/${file.filename}`
    upstream.delay(path, 200)
    t.after(() => upstream.delay(path, 0))
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`${(i % 2 === 0 ? pair.a : pair.b).url}/files/shared/${file.filename}`)))
    for (const response of responses) {
      assert.equal(response.status, 200)
      assert.ok(response.body.equals(file.bytes))
    }
    assert.equal(upstream.hits(path), 1, 'one upstream request across both processes')
  })

  test('50 clients across both processes for one cold page cause one upstream request, and all get the same page', async (t) => {
    upstream.addProject('shared-page', [{ filename: 'shared_page-1.0-py3-none-any.whl', bytes: bulkBytes(1024, 23) }], 7)
    const pair = await startPair(upstream)
    t.after(() => pair.stop())
    const path = '/simple/shared-page/'
    upstream.delay(path, 200)
    t.after(() => upstream.delay(path, 0))
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`${(i % 2 === 0 ? pair.a : pair.b).url}/simple/shared-page/`, { accept: 'application/vnd.pypi.simple.v1+json' })))
    for (const response of responses) {
      assert.equal(response.status, 200)
      assert.equal(response.text, responses[0]?.text)
    }
    assert.equal(upstream.hits(path), 1, 'one upstream request across both processes')
  })

  test('the leader killed with kill -9 mid-download: the follower takes the lock over and its clients get the exact bytes', async (t) => {
    const file = { filename: 'takeover-1.0-py3-none-any.whl', bytes: bulkBytes(2 * 1024 * 1024, 22) }
    upstream.addProject('takeover', [file], 1)
    const path = `/files/${file.filename}`
    t.after(upstream.hangFirstRequest(path, file.bytes))
    const pair = await startPair(upstream)
    t.after(() => pair.stop())
    await get(`${pair.a.url}/simple/takeover/`)
    await get(`${pair.b.url}/simple/takeover/`)
    const leaderClient = request(`${pair.a.url}/files/takeover/${file.filename}`).then(
      async (response) => {
        await response.body.dump().catch(() => undefined)
      },
      () => undefined,
    )
    while (upstream.hits(path) === 0) await new Promise((resolve) => setImmediate(resolve))
    // The follower's clients get their headers once bytes flow from the leader's temporary blob.
    const followers = await Promise.all(Array.from({ length: 5 }, () => request(`${pair.b.url}/files/takeover/${file.filename}`)))
    for (const response of followers) assert.equal(response.statusCode, 200)
    assert.equal(upstream.hits(path), 1, 'the follower did not go to the upstream while the leader lived')
    await pair.a.kill()
    await leaderClient
    const bodies = await Promise.all(followers.map(async (response) => Buffer.from(await response.body.arrayBuffer())))
    for (const body of bodies) assert.ok(body.equals(file.bytes), 'a follower client got the exact upstream bytes')
    assert.equal(upstream.hits(path), 2, 'the follower fetched the file again after the takeover')
    assert.ok(pair.b.logs.some((line) => line.event === 'lock_taken_over'), 'the takeover was logged')
    // Clients get the bytes once verified; the commit follows. Then the follower serves the file from its cache.
    let again = await get(`${pair.b.url}/files/takeover/${file.filename}`)
    while (again.headers['x-cache'] !== 'HIT') again = await get(`${pair.b.url}/files/takeover/${file.filename}`)
    assert.ok(again.body.equals(file.bytes))
    assert.equal(upstream.hits(path), 2, 'served from the cache the follower committed')
  })

  test('with a small budget and both processes writing, the cache keeps its budget and every client gets whole files', async (t) => {
    const size = 300 * 1024
    const files = Array.from({ length: 8 }, (_, i) => ({ filename: `budget_${i}-1.0-py3-none-any.whl`, bytes: bulkBytes(size, 40 + i) }))
    upstream.addProject('budget', files, 1)
    const pair = await startPair(upstream, ['--cache-max-bytes', '1M'])
    t.after(() => pair.stop())
    await get(`${pair.a.url}/simple/budget/`)
    await get(`${pair.b.url}/simple/budget/`)
    // Each process alone commits 1.2 MB: over the budget only together, which neither sees by itself.
    const responses = await Promise.all(files.map((file, i) => get(`${(i % 2 === 0 ? pair.a : pair.b).url}/files/budget/${file.filename}`)))
    responses.forEach((response, i) => {
      assert.equal(response.status, 200)
      assert.ok(response.body.equals(files[i]?.bytes ?? Buffer.alloc(0)))
    })
    // Commits and the eviction scans after them finish after the responses: wait until every
    // download is committed (no temporary blob, no download lock left) and the disk is in budget
    // (a process scans at most once per 5 s; a commit sooner is scanned for when those end).
    const budget = 1024 * 1024
    const blobsDir = join(pair.cacheDir, 'blobs')
    const isSettled = () =>
      readdirSync(join(blobsDir, 'tmp')).length === 0 && !readdirSync(join(blobsDir, 'locks')).some((name) => name.startsWith('flight-')) && committedBytes(pair.cacheDir) <= budget
    const deadlineMs = Date.now() + 30_000
    while (!isSettled() && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(committedBytes(pair.cacheDir) <= budget, `${committedBytes(pair.cacheDir)} bytes committed, over the ${budget}-byte budget`)
  })

  test('a blob one process is serving to a slow client and another process evicts: the client still gets every byte', async (t) => {
    const bigBytes = bulkBytes(16 * 1024 * 1024, 50)
    const big = { filename: 'served-1.0-py3-none-any.whl', bytes: bigBytes, sha256: createHash('sha256').update(bigBytes).digest('hex') }
    const fillers = Array.from({ length: 3 }, (_, i) => ({ filename: `filler_${i}-1.0-py3-none-any.whl`, bytes: bulkBytes(4 * 1024 * 1024, 51 + i) }))
    upstream.addProject('served', [{ filename: big.filename, bytes: big.bytes }], 1)
    upstream.addProject('filler', fillers, 1)
    const pair = await startPair(upstream, ['--cache-max-bytes', '20M'])
    t.after(() => pair.stop())
    const bigUrl = `${pair.a.url}/files/served/${big.filename}`
    let cached = await get(bigUrl)
    while (cached.headers['x-cache'] !== 'HIT') cached = await get(bigUrl)
    // The slow client: headers received, body not read, so the process keeps the blob open.
    const slow = await request(bigUrl)
    assert.equal(slow.headers['x-cache'], 'HIT')
    // The other process commits newer files past the budget: the served blob is the least recently used.
    for (const filler of fillers) {
      const response = await get(`${pair.b.url}/files/filler/${filler.filename}`)
      assert.ok(response.body.equals(filler.bytes))
    }
    const bigBlob = join(pair.cacheDir, 'blobs', 'blobs', big.sha256.slice(0, 2), big.sha256)
    // The scan that evicts it may wait for the end of the process's scan interval (5 s).
    const deadlineMs = Date.now() + 30_000
    while (existsSync(bigBlob) && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(existsSync(bigBlob), false, 'the served blob was evicted')
    const body = Buffer.from(await slow.body.arrayBuffer())
    assert.ok(body.equals(big.bytes), 'the slow client got the whole file, unchanged')
  })
})

describe('verifying mode: two serve processes on one cache directory', () => {
  test('one refreshes the TUF metadata while the other waits, then adopts the stored set (verified) without asking the repository', async (t) => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    const upstream = await TufUpstream.start(sim)
    t.after(() => upstream.stop())
    upstream.publish()
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-shared-tuf-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const rootFile = join(dir, 'root.json')
    writeFileSync(rootFile, sim.trustedRoot())
    const cacheDir = join(dir, 'cache')
    const args = ['--upstream', upstream.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', upstream.metadataUrl, '--tuf-targets-url', upstream.targetsUrl, '--tuf-refresh', '1h']
    const timestampPath = `${new URL(upstream.metadataUrl).pathname}timestamp.json`
    // The first refresh holds its lock for as long as the repository takes to answer.
    upstream.server.delay(timestampPath, 2_000)
    const a = await ProxyProcess.start(args, { cacheDir })
    t.after(() => a.kill())
    while (upstream.server.hits(timestampPath) === 0) await new Promise((resolve) => setImmediate(resolve))
    const b = await ProxyProcess.start(args, { cacheDir })
    t.after(() => b.kill())
    const lastRefresh = async (proxy: ProxyProcess) => ((await (await fetch(`${proxy.url}/status`)).json()) as { trust?: { lastRefresh?: string } }).trust?.lastRefresh
    while ((await lastRefresh(a)) === undefined || (await lastRefresh(b)) === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(upstream.server.hits(timestampPath), 1, 'the second process took the timestamp from the stored set')
    const roles = async (proxy: ProxyProcess) => ((await (await fetch(`${proxy.url}/status`)).json()) as { trust: { roles: unknown } }).trust.roles
    assert.deepEqual(await roles(b), await roles(a), 'both trust the same verified set')
  })
})
