/**
 * The process as an operator meets it: the start line a person copies into pip, SIGHUP (a closed
 * terminal, a supervisor's reload) survived with a log line, and SIGTERM ending the process right
 * after `stopped`, whatever idle clients or abandoned upstream downloads are left.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, get as httpGet } from 'node:http'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { ProxyProcess, type LogLine } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

/** A log line matching `match`, or a failure naming how the process ended first. */
async function logOrExit(proxy: ProxyProcess, match: (line: LogLine) => boolean): Promise<LogLine> {
  return Promise.race([
    proxy.waitForLog(match),
    proxy.exited().then((code) => {
      throw new Error(`the proxy exited (code ${code}) instead; stderr: ${proxy.stderr}`)
    }),
  ])
}

describe('process lifecycle', () => {
  let upstream: FakeUpstream
  const wheel = buildWheel('FooBar', '0.1')
  const stuck = buildWheel('Stuck', '1.0')
  let stuckRequested: Promise<void>
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('FooBar', [{ filename: wheel.filename, bytes: wheel.bytes }], 1)
    upstream.addProject('Stuck', [{ filename: stuck.filename, bytes: stuck.bytes }], 1)
    // Headers, then nothing: with the timeouts below, only the process ending ends this download.
    stuckRequested = new Promise((resolve) =>
      upstream.route(`/files/${stuck.filename}`, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stuck.bytes.byteLength) })
        res.flushHeaders()
        resolve()
      }),
    )
  })
  after(() => upstream.stop())

  test('the pip command of the start line installs through the proxy as printed', requirePip(), async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const [, indexUrl = ''] = await proxy.waitForStderr(/pip: pip install --index-url (\S+) PACKAGE;/)
    assert.equal(indexUrl, `${proxy.url}/simple/`)
    const result = await pipDownload(indexUrl, 'foobar==0.1')
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(result.files, [wheel.filename])
    const served = await proxy.waitForLog((line) => line.event === 'request' && line.path === `/files/foobar/${wheel.filename}`)
    assert.equal(served.status, 200, 'pip fetched the file through the proxy')
  })

  test('SIGHUP is logged (at any --log-level) and the process goes on serving', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--log-level', 'warn'])
    t.after(() => proxy.dispose())
    assert.ok(proxy.pid)
    process.kill(proxy.pid, 'SIGHUP')
    const line = await logOrExit(proxy, (candidate) => candidate.event === 'signal_ignored')
    assert.equal(line.signal, 'SIGHUP')
    assert.match(String(line.detail), /nothing to reload or reopen/)
    const health = await get(`${proxy.url}/health`)
    assert.equal(health.status, 200)
    assert.ok(proxy.isRunning)
    assert.equal(await proxy.stop(), 0)
  })

  test('SIGTERM with an idle keep-alive client connected: stopped, then the process exits', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    t.after(() => proxy.dispose())
    const agent = new Agent({ keepAlive: true })
    t.after(() => agent.destroy())
    const status = await new Promise<number | undefined>((resolve, reject) =>
      httpGet(`${proxy.url}/health`, { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      }).on('error', reject),
    )
    assert.equal(status, 200)
    assert.equal(Object.values(agent.freeSockets).flat().length, 1, 'the client keeps its connection open, idle')
    // node:test's timeout is the failure here: a process kept alive by the idle socket never exits.
    assert.equal(await proxy.stop(), 0)
    assert.deepEqual(proxy.logs.slice(-2).map((line) => line.event), ['shutting_down', 'stopped'])
    assert.equal(proxy.logs.at(-1)?.abandoned, undefined, 'nothing was left running: the process ended because its work was done')
  })

  test('SIGTERM while an upstream download no client waits for hangs: the download is abandoned and the process exits', { timeout: 60_000 }, async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--upstream-timeout', '1h', '--upstream-deadline', '1h', '--upstream-min-rate', '0'])
    t.after(() => proxy.dispose())
    assert.equal((await get(`${proxy.url}/simple/stuck/`)).status, 200)
    const client = new AbortController()
    const download = request(`${proxy.url}/files/stuck/${stuck.filename}`, { signal: client.signal }).then(
      () => 'answered',
      () => 'aborted',
    )
    await stuckRequested
    client.abort()
    assert.equal(await download, 'aborted')
    // Before: the graceful close of the upstream client waited for this download, up to --upstream-deadline.
    assert.equal(await proxy.stop(), 0)
    assert.deepEqual(proxy.logs.slice(-2).map((line) => line.event), ['shutting_down', 'stopped'])
    const abandoned = proxy.logs.at(-1)?.abandoned
    assert.ok(Array.isArray(abandoned) && abandoned.includes('TCPSocketWrap'), `stopped names the upstream connection it abandoned: ${JSON.stringify(abandoned)}`)
  })
})
