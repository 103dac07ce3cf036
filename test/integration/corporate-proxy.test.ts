/**
 * Getting out of an office network: the real proxy process reaches an https upstream with a
 * private CA through a real CONNECT proxy on 127.0.0.1, named by HTTPS_PROXY or --upstream-proxy
 * (RFC 9110 §9.3.6 tunnels; TLS stays end to end, so --ca-bundle still decides trust), skips it for
 * NO_PROXY hosts, forwards plain-http requests in absolute form (RFC 9112 §3.2.2), and never shows
 * the proxy's password.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConnectProxy } from '../helpers/connect-proxy.js'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { CLI_PATH, ProxyProcess } from '../helpers/proxy-process.js'
import { makePrivateCa, skipOrFailWithoutOpenssl, type PrivateCa } from '../helpers/tls-certs.js'
import { buildWheel } from '../helpers/wheels.js'

const PASSWORD = 'pa55-w0rd-never-shown'

describe('upstream through an HTTP proxy', () => {
  let ca: PrivateCa | undefined
  let secure: FakeUpstream
  let plain: FakeUpstream
  let caFile = ''
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-corp-'))
  const wheel = buildWheel('demo-pkg', '1.0')

  before(async () => {
    ca = await makePrivateCa()
    if (ca) {
      caFile = join(dir, 'ca.pem')
      writeFileSync(caFile, ca.caPem)
      secure = await new FakeUpstream({ tls: { key: ca.key, cert: ca.cert } }).start()
      secure.addProject('demo-pkg', [{ filename: wheel.filename, bytes: wheel.bytes }])
    }
    plain = await new FakeUpstream().start()
    plain.addProject('demo-pkg', [{ filename: wheel.filename, bytes: wheel.bytes }])
  })
  after(async () => {
    await secure?.stop()
    await plain.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function startProxy(t: { after(fn: () => unknown): void }, options: { credentials?: string } = {}): Promise<ConnectProxy> {
    const proxy = await new ConnectProxy(options).start()
    t.after(() => proxy.stop())
    return proxy
  }

  test('HTTPS_PROXY: the page and the file come through CONNECT tunnels, byte for byte, trusted by --ca-bundle', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const proxy = await startProxy(t)
    const mirror = await ProxyProcess.start(['--upstream', secure.simpleUrl, '--ca-bundle', caFile], { env: { HTTPS_PROXY: proxy.url() } })
    t.after(() => mirror.dispose())
    const page = await get(`${mirror.url}/simple/demo-pkg/`, { accept: 'text/html' })
    assert.equal(page.status, 200, page.text)
    assert.match(page.text, new RegExp(wheel.filename.replace(/\./g, '\\.')))
    const file = await get(`${mirror.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200, file.text)
    assert.ok(file.body.equals(Buffer.from(wheel.bytes)), 'the bytes are the upstream\'s')
    assert.equal(secure.hits('/simple/demo-pkg/'), 1, 'the first test to fetch it')
    assert.equal(secure.hits(`/files/${wheel.filename}`), 1)
    assert.ok(proxy.tunnels.length >= 1, 'at least one tunnel was opened')
    assert.deepEqual(new Set(proxy.tunnels), new Set([`127.0.0.1:${secure.port}`]), 'every tunnel went to the upstream')
    const listening = mirror.events('listening')[0]
    assert.deepEqual(listening?.proxy, { https: `${proxy.url()}/`, from: 'HTTPS_PROXY' })
  })

  test('NO_PROXY: a listed host is reached directly, no tunnel', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const proxy = await startProxy(t)
    const mirror = await ProxyProcess.start(['--upstream', secure.simpleUrl, '--ca-bundle', caFile], {
      env: { https_proxy: proxy.url(), no_proxy: 'localhost,127.0.0.1' },
    })
    t.after(() => mirror.dispose())
    const file = await get(`${mirror.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200, file.text)
    assert.ok(file.body.equals(Buffer.from(wheel.bytes)))
    assert.deepEqual(proxy.tunnels, [])
  })

  test('a proxy that demands credentials and gets none: /health and the log say proxy_auth', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const proxy = await startProxy(t, { credentials: `alice:${PASSWORD}` })
    const reached = secure.log.length
    const mirror = await ProxyProcess.start(['--upstream', secure.simpleUrl, '--ca-bundle', caFile], { env: { HTTPS_PROXY: proxy.url() } })
    t.after(() => mirror.dispose())
    const checked = await mirror.waitForLog((line) => line.event === 'upstream_checked')
    assert.equal(checked.state, 'down')
    assert.equal(checked.cause, 'proxy_auth')
    const health = JSON.parse((await get(`${mirror.url}/health`)).text) as Record<string, unknown>
    assert.equal(health.upstream, 'down')
    assert.equal(health.upstreamCause, 'proxy_auth')
    const page = await get(`${mirror.url}/simple/demo-pkg/`)
    assert.equal(page.status, 503)
    assert.equal(page.headers['x-tuf-proxy-reason'], 'upstream_unreachable')
    const down = mirror.events('upstream_down')
    assert.equal(down.length, 1, 'one warning for the change of state, not one per request')
    assert.equal(down[0]?.level, 'warn')
    assert.equal(down[0]?.cause, 'proxy_auth')
    assert.match(String(down[0]?.detail), /proxy requires authentication \(407 to CONNECT/)
    assert.equal(secure.log.length, reached, 'nothing reached the upstream')
  })

  test('--upstream-proxy with credentials in the URL works, and the password is shown nowhere', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const proxy = await startProxy(t, { credentials: `alice:${PASSWORD}` })
    // The flag overrides a wrong proxy in the environment.
    const mirror = await ProxyProcess.start(['--upstream', secure.simpleUrl, '--ca-bundle', caFile, '--upstream-proxy', proxy.url(`alice:${PASSWORD}`)], {
      env: { HTTPS_PROXY: 'http://127.0.0.1:9' },
    })
    t.after(() => mirror.dispose())
    await mirror.waitForLog((line) => line.event === 'upstream_checked')
    const file = await get(`${mirror.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200, file.text)
    assert.ok(file.body.equals(Buffer.from(wheel.bytes)))
    assert.ok(proxy.tunnels.length >= 1)
    assert.equal(proxy.authRefusals, 0)
    const status = await get(`${mirror.url}/status`)
    const health = await get(`${mirror.url}/health`)
    assert.equal(JSON.parse(health.text).upstream, 'up')
    for (const [where, text] of [['logs', JSON.stringify(mirror.logs)], ['stderr', mirror.stderr], ['/status', status.text], ['/health', health.text]]) {
      assert.ok(!text?.includes(PASSWORD), `the password appears in ${where}`)
    }
    assert.equal((mirror.events('listening')[0]?.proxy as Record<string, string>).https, `http://alice:***@127.0.0.1:${proxy.port}/`)
  })

  test('a bad --upstream-proxy or HTTPS_PROXY is a config error that does not show the password', () => {
    const run = spawnSync(process.execPath, [CLI_PATH, 'serve', '--upstream-proxy', `http://alice:${PASSWORD}@bad host:3128`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
    assert.equal(run.status, 2)
    assert.match(run.stderr, /--upstream-proxy: is not a URL: "http:\/\/alice:\*\*\*@bad host:3128"/)
    assert.ok(!run.stderr.includes(PASSWORD))
    const envRun = spawnSync(process.execPath, [CLI_PATH, 'serve', '--port', '1'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HTTPS_PROXY: `ftp://alice:${PASSWORD}@proxy` } })
    assert.equal(envRun.status, 2)
    assert.match(envRun.stderr, /HTTPS_PROXY: must be an http:\/\/ or https:\/\/ proxy URL, got "ftp:\/\/alice:\*\*\*@proxy"/)
    assert.ok(!envRun.stderr.includes(PASSWORD))
  })

  test('a proxy password with an unencoded / ? or # (so the URL does not parse) is still not shown in the config error', () => {
    // WHATWG URL ends the authority at the first '/', '?' or '#', so such a password reads as a
    // port and path; the error must mask up to the last '@' all the same.
    for (const secret of [`s3cr/${PASSWORD}`, `s3cr?${PASSWORD}`, `s3cr#${PASSWORD}`]) {
      const run = spawnSync(process.execPath, [CLI_PATH, 'serve', '--upstream-proxy', `http://alice:${secret}@proxy.example:3128`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
      assert.equal(run.status, 2, run.stderr)
      assert.match(run.stderr, /--upstream-proxy: is not a URL: "http:\/\/alice:\*\*\*@proxy\.example:3128"/)
      assert.ok(!run.stderr.includes(PASSWORD), run.stderr)
      for (const value of [`http://alice:${secret}@proxy.example:3128`, `alice:${secret}@proxy.example:3128`]) {
        const envRun = spawnSync(process.execPath, [CLI_PATH, 'serve', '--port', '1'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HTTPS_PROXY: value } })
        assert.equal(envRun.status, 2, envRun.stderr)
        assert.match(envRun.stderr, /HTTPS_PROXY: must be an http:\/\/ or https:\/\/ proxy URL, got "(http:\/\/)?alice:\*\*\*@proxy\.example:3128"/)
        assert.ok(!envRun.stderr.includes(PASSWORD), envRun.stderr)
      }
    }
  })

  test('a plain-http upstream through HTTP_PROXY is forwarded in absolute form, without CONNECT', async (t) => {
    const proxy = await startProxy(t)
    const mirror = await ProxyProcess.start(['--upstream', plain.simpleUrl], { env: { HTTP_PROXY: proxy.url() } })
    t.after(() => mirror.dispose())
    const file = await get(`${mirror.url}/files/demo-pkg/${wheel.filename}`)
    assert.equal(file.status, 200, file.text)
    assert.ok(file.body.equals(Buffer.from(wheel.bytes)))
    assert.deepEqual(proxy.tunnels, [])
    assert.ok(proxy.forwarded.includes(`${plain.url}/simple/demo-pkg/`), `forwarded: ${proxy.forwarded.join(' ')}`)
    assert.ok(proxy.forwarded.includes(`${plain.url}/files/${wheel.filename}`))
  })
})
