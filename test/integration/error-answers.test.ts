/**
 * Every error answer of the real process, whichever layer gives it (Node's HTTP parser, the front
 * door, hono's not-found, a route, the mirror): a JSON body `{"error": code, "message": …}`, the
 * same code in X-Tuf-Proxy-Reason, and in the request's log line. Methods a route does not answer
 * are 405 with Allow (RFC 9110 §15.5.6), on every route.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { buildWheel } from '../helpers/wheels.js'

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

async function send(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers ?? {} })
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() }
}

/** The error answer's contract: JSON body naming the code, the same code in the header. */
function assertErrorAnswer(answer: Answer, status: number, code: string, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.body}`)
  assert.equal(answer.headers['x-tuf-proxy-reason'], code, `${what}: X-Tuf-Proxy-Reason`)
  assert.match(String(answer.headers['content-type']), /^application\/json/, `${what}: content-type`)
  const body = JSON.parse(answer.body) as { error?: unknown; message?: unknown }
  assert.equal(body.error, code, `${what}: body.error`)
  assert.ok(typeof body.message === 'string' && body.message.length > 0, `${what}: body.message`)
}

/** Writes raw bytes to the proxy and returns everything it answers before closing. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

function parseRaw(text: string): Answer {
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

describe('error answers', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const wheel = buildWheel('FooBar', '0.1')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('FooBar', [{ filename: wheel.filename, bytes: wheel.bytes }], 1)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('a method no route answers is 405 with Allow, on every route, and logged with its reason', async () => {
    const paths = ['/', '/simple', '/simple/', '/simple/FooBar', '/simple/foobar/', `/files/foobar/${wheel.filename}`, '/tuf/metadata/root.json', '/tuf/targets/a/b.txt', '/health', '/metrics', '/status']
    for (const path of paths) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const answer = await send(`${proxy.url}${path}`, { method })
        assertErrorAnswer(answer, 405, 'method_not_allowed', `${method} ${path}`)
        assert.equal(answer.headers.allow, 'GET, HEAD', `${method} ${path}: Allow`)
      }
    }
    // Routine lines are written in batches, in order: once the last is in, all are.
    await proxy.waitForLog((line) => line.event === 'request' && line.method === 'OPTIONS' && line.path === '/status')
    const logged = proxy.events('request').filter((line) => line.status === 405)
    // /health and /metrics lines are debug, below the default --log-level.
    assert.equal(logged.length, (paths.length - 2) * 5)
    assert.ok(logged.every((line) => line.reason === 'method_not_allowed'))
    assert.equal(upstream.hits(`/files/${wheel.filename}`), 0, 'a refused method reaches nothing behind the route')
  })

  test('a path no route answers is 404 for every method, with the reason', async () => {
    for (const method of ['GET', 'POST']) assertErrorAnswer(await send(`${proxy.url}/nothing/here`, { method }), 404, 'not_found', `${method} /nothing/here`)
    await proxy.waitForLog((line) => line.event === 'request' && line.method === 'POST' && line.path === '/nothing/here')
    const logged = proxy.events('request').filter((line) => line.path === '/nothing/here')
    assert.deepEqual(logged.map((line) => [line.method, line.status, line.reason]), [['GET', 404, 'not_found'], ['POST', 404, 'not_found']])
  })

  test('each refusal of the front door, the routes and the mirror carries the body and the header', async () => {
    const cases: Array<{ path: string; headers?: Record<string, string>; status: number; code: string }> = [
      { path: '/simple/foo%00bar/', status: 400, code: 'bad_request' },
      { path: '/simple/-foobar-/', status: 400, code: 'bad_request' },
      { path: '/simple/foobar/', headers: { accept: 'image/png' }, status: 406, code: 'not_acceptable' },
      { path: '/files/foobar/foobar-9.9-py3-none-any.whl', status: 404, code: 'not_found' },
      { path: '/tuf/metadata/root.json', status: 404, code: 'not_found' },
    ]
    for (const { path, headers, status, code } of cases) {
      assertErrorAnswer(await send(`${proxy.url}${path}`, headers ? { headers } : {}), status, code, path)
      const line = await proxy.waitForLog((candidate) => candidate.event === 'request' && candidate.status === status && candidate.reason === code)
      assert.ok(line, path)
    }
  })

  test('a cold miss with the upstream down: 503 with the reason', async (t) => {
    const offline = await ProxyProcess.start(['--upstream', 'http://127.0.0.1:9/simple/'])
    t.after(() => offline.dispose())
    assertErrorAnswer(await send(`${offline.url}/simple/foobar/`), 503, 'upstream_unreachable', 'cold miss')
  })

  test('/health in verifying mode with no verified metadata yet: 503 with the reason beside the usual fields', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-not-ready-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const rootFile = join(dir, 'root.json')
    writeFileSync(rootFile, new RepositorySimulator({ consistentSnapshot: true }).trustedRoot())
    const dead = 'http://127.0.0.1:9'
    const notReady = await ProxyProcess.start(['--upstream', `${dead}/targets/simple/`, '--tuf-root', rootFile, '--tuf-metadata-url', `${dead}/metadata/`, '--tuf-targets-url', `${dead}/targets/`])
    t.after(() => notReady.dispose())
    const answer = await send(`${notReady.url}/health`)
    assertErrorAnswer(answer, 503, 'not_ready', '/health')
    const body = JSON.parse(answer.body) as { ready?: unknown; mode?: unknown }
    assert.deepEqual([body.ready, body.mode], [false, 'tuf'])
  })

  test("requests Node's parser refuses get the JSON body and the header too", async () => {
    assertErrorAnswer(parseRaw(await rawExchange(proxy.port, 'GARBAGE\r\n\r\n')), 400, 'bad_request', 'a malformed request line')
    const huge = `GET /simple/ HTTP/1.1\r\nhost: x\r\nx-filler: ${'a'.repeat(20_000)}\r\n\r\n`
    assertErrorAnswer(parseRaw(await rawExchange(proxy.port, huge)), 431, 'headers_too_large', 'headers over the limit')
    assert.ok(proxy.isRunning)
  })
})
