/**
 * When the upstream cannot be reached, the operator is told why where they look: the start check
 * (one GET of the index root, which neither fails nor delays the start) puts the cause on /health
 * and /status before any client asks, the log says it at warn once per change of state (down with
 * the cause, then recovered), not once per request. Each cause is produced for real on loopback.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { ProxyProcess, type LogLine } from '../helpers/proxy-process.js'
import { makePrivateCa, skipOrFailWithoutOpenssl } from '../helpers/tls-certs.js'
import { buildWheel } from '../helpers/wheels.js'

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Starts the proxy on `upstream`, waits for its start check, and checks what /health, /status and the log say. */
async function expectDownAtStart(t: { after(fn: () => unknown): void }, upstream: string, cause: string, extraArgs: string[] = []): Promise<ProxyProcess> {
  const proxy = await ProxyProcess.start(['--upstream', upstream, ...extraArgs])
  t.after(() => proxy.dispose())
  const checked = await proxy.waitForLog((line) => line.event === 'upstream_checked')
  assert.equal(checked.state, 'down', JSON.stringify(checked))
  assert.equal(checked.cause, cause, JSON.stringify(checked))
  const health = await get(`${proxy.url}/health`)
  assert.equal(health.status, 200, 'a down upstream does not make the proxy unready: it still serves its cache')
  assert.deepEqual(JSON.parse(health.text), { ready: true, mode: 'hash-only', upstream: 'down', upstreamCause: cause, offline: false })
  const status = JSON.parse((await get(`${proxy.url}/status`)).text) as { upstreams: Array<{ origin: string; state: string; lastError?: { cause?: string } }> }
  assert.equal(status.upstreams[0]?.origin, new URL(upstream).origin)
  assert.equal(status.upstreams[0]?.state, 'down')
  assert.equal(status.upstreams[0]?.lastError?.cause, cause)
  const down = proxy.events('upstream_down')
  assert.equal(down.length, 1)
  assert.equal(down[0]?.level, 'warn')
  assert.equal(down[0]?.cause, cause)
  return proxy
}

describe('upstream unreachable: the cause, where an operator looks', () => {
  test('refused: /health says down (refused) after the start check; three client requests add no warning', async (t) => {
    const proxy = await expectDownAtStart(t, `http://127.0.0.1:${await closedPort()}/simple/`, 'refused')
    for (const project of ['a', 'b', 'c']) {
      const page = await get(`${proxy.url}/simple/${project}/`)
      assert.equal(page.status, 503)
      assert.equal(page.headers['x-tuf-proxy-reason'], 'upstream_unreachable')
      assert.match(page.text, /\(refused\)/, 'the error body names the cause too')
    }
    assert.equal(proxy.events('upstream_down').length, 1, 'one warning per change of state, not per request')
  })

  test('dns: a .invalid upstream name does not resolve', async (t) => {
    await expectDownAtStart(t, 'https://pypi.invalid/simple/', 'dns')
  })

  test('tls: an upstream whose CA was not given with --ca-bundle', async (t) => {
    const ca = await makePrivateCa()
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const secure = await new FakeUpstream({ tls: { key: ca.key, cert: ca.cert } }).start()
    t.after(() => secure.stop())
    const proxy = await expectDownAtStart(t, secure.simpleUrl, 'tls')
    assert.match(String(proxy.events('upstream_down')[0]?.detail), /--ca-bundle/)
  })

  describe('timeout', () => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => sockets.add(socket))
    before(async () => {
      silent.listen(0, '127.0.0.1')
      await once(silent, 'listening')
    })
    after(() => {
      for (const socket of sockets) socket.destroy()
      silent.close()
    })

    test('timeout: an upstream that accepts the connection and never answers', async (t) => {
      const { port } = silent.address() as AddressInfo
      await expectDownAtStart(t, `http://127.0.0.1:${port}/simple/`, 'timeout', ['--upstream-timeout', '1s'])
    })
  })

  test('down at start, then back: one warning each way, "recovered after"', async (t) => {
    const upstream = await new FakeUpstream().start()
    t.after(() => upstream.stop())
    upstream.addProject('demo-pkg', [])
    upstream.offline()
    const proxy = await expectDownAtStart(t, upstream.simpleUrl, 'reset')
    upstream.offline(false)
    const page = await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(page.status, 200, page.text)
    const recovered = await proxy.waitForLog((line) => line.event === 'upstream_recovered')
    assert.equal(recovered.level, 'warn')
    assert.equal(recovered.origin, upstream.url)
    assert.match(String(recovered.detail), /^recovered after \d+ s \(last cause: reset\)$/)
    assert.equal(JSON.parse((await get(`${proxy.url}/health`)).text).upstream, 'up')
    await get(`${proxy.url}/simple/demo-pkg/`)
    assert.equal(proxy.events('upstream_recovered').length, 1)
    assert.equal(proxy.events('upstream_down').length, 1)
  })

  test('the start check neither fails nor delays the start: the proxy listens before an unanswered check ends', async (t) => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1')
    await once(silent, 'listening')
    t.after(() => {
      for (const socket of sockets) socket.destroy()
      silent.close()
    })
    const { port } = silent.address() as AddressInfo
    const proxy = await ProxyProcess.start(['--upstream', `http://127.0.0.1:${port}/simple/`, '--upstream-timeout', '30s'])
    t.after(() => proxy.dispose())
    const health = await get(`${proxy.url}/health`)
    assert.equal(health.status, 200)
    assert.equal(proxy.events('upstream_checked').length, 0, 'the check is still waiting')
    // and it stops cleanly while the check still waits.
    assert.equal(await proxy.stop(), 0)
  })

  test('pip through the proxy to an upstream that went away: the proxy log says refused, once', requirePip(), async (t) => {
    const upstream = await new FakeUpstream().start()
    const wheel = buildWheel('demo-pkg', '1.0')
    upstream.addProject('demo-pkg', [{ filename: wheel.filename, bytes: wheel.bytes }])
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const checked = await proxy.waitForLog((line) => line.event === 'upstream_checked')
    assert.equal(checked.state, 'up')
    await upstream.stop()
    const pip = await pipDownload(`${proxy.url}/simple/`, 'demo-pkg')
    assert.notEqual(pip.status, 0, 'pip cannot get the package')
    const down = proxy.events('upstream_down')
    assert.equal(down.length, 1, JSON.stringify(proxy.logs))
    assert.equal(down[0]?.cause, 'refused')
    const failed = proxy.logs.filter((line: LogLine) => line.event === 'request' && line.status === 503)
    assert.ok(failed.length >= 1, 'pip asked and was answered 503')
    t.diagnostic(`pip says: ${pip.stderr.trim().split('\n').slice(-2).join(' | ')}`)
  })
})
