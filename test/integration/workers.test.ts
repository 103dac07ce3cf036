/**
 * `--workers N`: node:cluster workers sharing the port and the cache directory. A cold file asked
 * for on every worker at once is fetched once; a worker killed with kill -9 while it leads a
 * download is replaced, and a surviving worker completes the download for its clients with the
 * exact upstream bytes; /metrics and /status (JSON and the HTML page) show the whole server;
 * SIGTERM stops all.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { bulkBytes } from '../helpers/wheels.js'

async function startWorkers(upstream: FakeUpstream, workers: number): Promise<ProxyProcess> {
  const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--workers', String(workers)])
  // The first listening line is one worker's; the primary's says all of them listen.
  await proxy.waitForLog((line) => line.event === 'listening' && line.workers === workers)
  return proxy
}

/** Per-worker values of one sample in the merged /metrics text. */
async function perWorker(proxy: ProxyProcess, name: string, labels: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{worker="(\\d+)",${labels}\\} (\\S+)$`).exec(line)
    if (match) values.set(match[1] ?? '', Number(match[2]))
  }
  return values
}

describe('--workers', () => {
  let upstream: FakeUpstream
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
  })
  after(() => upstream.stop())

  for (const workers of [2, 4]) {
    test(`${workers} workers: 50 clients across the workers for one cold file cause one upstream request`, async (t) => {
      const file = { filename: `cold${workers}-1.0-py3-none-any.whl`, bytes: bulkBytes(2 * 1024 * 1024, 60 + workers) }
      upstream.addProject(`cold${workers}`, [file], 1)
      const proxy = await startWorkers(upstream, workers)
      t.after(() => proxy.dispose())
      const path = `/files/${file.filename}`
      upstream.delay(path, 200)
      t.after(() => upstream.delay(path, 0))
      const responses = await Promise.all(Array.from({ length: 50 }, () => get(`${proxy.url}/files/cold${workers}/${file.filename}`)))
      for (const response of responses) {
        assert.equal(response.status, 200)
        assert.ok(response.body.equals(file.bytes))
      }
      assert.equal(upstream.hits(path), 1, 'one upstream request across all workers')
      const misses = await perWorker(proxy, 'tuf_proxy_cache_total', 'kind="file",result="MISS"')
      assert.ok([...misses.values()].filter((count) => count > 0).length >= 2, `clients reached several workers: ${JSON.stringify([...misses])}`)
      const status = (await (await fetch(`${proxy.url}/status`)).json()) as { workers?: Array<{ pid?: unknown }> }
      assert.equal(status.workers?.length, workers, '/status lists every worker')
      // The page for a browser shows the whole server too: a row per worker, named by its pid.
      const page = await (await fetch(`${proxy.url}/status`, { headers: { accept: 'text/html' } })).text()
      assert.ok(page.includes('<section id="workers">'), 'the page has a workers section')
      for (const { pid } of status.workers ?? []) assert.ok(typeof pid === 'number' && page.includes(`<td class="num">${pid}</td>`), `the page shows worker pid ${String(pid)}`)
    })
  }

  test('a worker killed with kill -9 while it leads a download: it is replaced, and the other worker completes the download with the exact bytes', async (t) => {
    const file = { filename: 'killed-1.0-py3-none-any.whl', bytes: bulkBytes(2 * 1024 * 1024, 70) }
    upstream.addProject('killed', [file], 1)
    const path = `/files/${file.filename}`
    t.after(upstream.hangFirstRequest(path, file.bytes))
    const proxy = await startWorkers(upstream, 2)
    t.after(() => proxy.dispose())
    const url = `${proxy.url}/files/killed/${file.filename}`
    const bodyOf = async (response: Awaited<ReturnType<typeof request>>) => ({ status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) })
    const first = request(url)
    while (upstream.hits(path) === 0) await new Promise((resolve) => setImmediate(resolve))
    // The leader is the process that holds the download's lock.
    const locks = join(proxy.cacheDir, 'blobs', 'locks')
    let leaderPid: number | undefined
    while (leaderPid === undefined) {
      const lock = readdirSync(locks).find((name) => name.startsWith('flight-') && name.endsWith('.lock'))
      const text = lock ? readFileSync(join(locks, lock), 'utf8') : ''
      if (text.includes('"detail"')) leaderPid = (JSON.parse(text) as { pid: number }).pid
      else await new Promise((resolve) => setImmediate(resolve))
    }
    // Round-robin spreads these over both workers: some follow the leader from the other one.
    // Each has its headers once bytes flow to it, from the leader's memory or its temporary blob.
    const clients = await Promise.all([first, ...Array.from({ length: 8 }, () => request(url))])
    process.kill(leaderPid, 'SIGKILL')
    const results = await Promise.all(clients.map((response) => bodyOf(response).catch(() => undefined)))
    const whole = results.filter((result) => result?.status === 200 && result.body.length === file.bytes.length)
    assert.ok(whole.length >= 1, 'clients of the surviving worker got the file')
    for (const result of whole) assert.ok(result?.body.equals(file.bytes), 'no client got corrupt bytes')
    assert.equal(upstream.hits(path), 2, 'the surviving worker took the lock over and fetched the file again')
    await proxy.waitForLog((line) => line.event === 'worker_died' && line.signal === 'SIGKILL')
    await proxy.waitForLog((line) => line.event === 'listening' && line.worker === '3')
    assert.equal(await proxy.metric('tuf_proxy_worker_restarts_total'), 1)
    const again = await get(url)
    assert.equal(again.status, 200)
    assert.ok(again.body.equals(file.bytes))
  })

  test('SIGTERM stops every worker and then the primary, with exit code 0', async () => {
    const proxy = await startWorkers(upstream, 2)
    assert.equal(await proxy.stop(), 0)
    assert.equal(proxy.logs.filter((line) => line.event === 'stopped').length, 3, `two workers and the primary stopped: ${JSON.stringify(proxy.logs.filter((line) => line.event !== 'request'))} ${proxy.stderr}`)
  })
})
