import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import {
  createUpstreamClient,
  HostNotAllowedError,
  UpstreamHttpError,
  UpstreamProtocolError,
  type UpstreamClient,
  type UpstreamOptions,
} from '../../../src/upstream/index.js'
import { startServer, testUpstreamOptions, type TestServer } from './test-server.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(
  overrides: Partial<UpstreamOptions> | ((server: TestServer) => Partial<UpstreamOptions>) = {},
): Promise<{ server: TestServer; client: UpstreamClient }> {
  const server = await startServer()
  cleanups.push(() => server.close())
  if (typeof overrides === 'function') overrides = overrides(server)
  const client = createUpstreamClient(testUpstreamOptions(server, overrides))
  cleanups.push(() => client.close())
  return { server, client }
}

describe('upstream client: statuses and headers', () => {
  test('200 returns the exact bytes, lower-case headers and the final URL', async () => {
    const { server, client } = await setup()
    server.route('/ok', (_req, res) => res.writeHead(200, { 'Content-Type': 'text/html', ETag: '"v1"' }).end('hello'))
    const result = await client.getBytes(`${server.origin}/ok`, { maxBytes: 100 })
    assert.equal(result.status, 200)
    assert.equal(Buffer.from(result.body).toString(), 'hello')
    assert.equal(result.headers['etag'], '"v1"')
    assert.equal(result.headers['content-type'], 'text/html')
    assert.equal(result.url, `${server.origin}/ok`)
  })

  test('sends the caller headers, the user agent, and asks for identity encoding only', async () => {
    const { server, client } = await setup()
    server.route('/h', (_req, res) => res.writeHead(200).end())
    await client.getBytes(`${server.origin}/h`, { maxBytes: 10, headers: { 'If-None-Match': '"v1"', Accept: 'text/html' } })
    const seen = server.requests[0]?.headers
    assert.equal(seen?.['if-none-match'], '"v1"')
    assert.equal(seen?.['accept'], 'text/html')
    assert.equal(seen?.['user-agent'], 'tuf-proxy-test/1')
    assert.equal(seen?.['accept-encoding'], 'identity')
  })

  test('304 (RFC 9110 §15.4.5) returns with an empty body', async () => {
    const { server, client } = await setup()
    server.route('/nm', (_req, res) => res.writeHead(304, { ETag: '"v1"' }).end())
    const result = await client.getBytes(`${server.origin}/nm`, { maxBytes: 10, headers: { 'if-none-match': '"v1"' } })
    assert.equal(result.status, 304)
    assert.equal(result.body.byteLength, 0)
    assert.equal(result.headers['etag'], '"v1"')
  })

  for (const status of [404, 410, 500, 503]) {
    test(`${status} throws UpstreamHttpError carrying the status`, async () => {
      const { server, client } = await setup()
      server.route('/x', (_req, res) => res.writeHead(status).end('nope'))
      await assert.rejects(client.getBytes(`${server.origin}/x`, { maxBytes: 100 }), (error: unknown) => {
        assert.ok(error instanceof UpstreamHttpError)
        assert.equal(error.status, status)
        assert.equal(error.code, 'upstream_status')
        return true
      })
      await assert.rejects(client.getStream(`${server.origin}/x`, { maxBytes: 100 }), UpstreamHttpError)
    })
  }

  test('URL credentials become Basic authorization and never reach another origin on redirect', async () => {
    const other = await startServer()
    cleanups.push(() => other.close())
    const { server, client } = await setup((self) => ({ allowedHosts: [self.host, other.host] }))
    server.route('/private', (_req, res) => res.writeHead(302, { Location: `${other.origin}/public` }).end())
    other.route('/public', (_req, res) => res.writeHead(200).end('ok'))
    await client.getBytes(`http://user:s%40cret@${server.host}/private`, { maxBytes: 10 })
    assert.equal(server.requests[0]?.headers['authorization'], `Basic ${Buffer.from('user:s@cret').toString('base64')}`)
    assert.equal(other.requests[0]?.headers['authorization'], undefined)
  })
})

describe('upstream client: redirects and the host allowlist', () => {
  test('follows a relative redirect and reports the final URL', async () => {
    const { server, client } = await setup()
    server.route('/a', (_req, res) => res.writeHead(301, { Location: '/b' }).end())
    server.route('/b', (_req, res) => res.writeHead(302, { Location: 'c' }).end())
    server.route('/c', (_req, res) => res.writeHead(200).end('final'))
    const result = await client.getBytes(`${server.origin}/a`, { maxBytes: 100 })
    assert.equal(Buffer.from(result.body).toString(), 'final')
    assert.equal(result.url, `${server.origin}/c`)
  })

  test('refuses a redirect to a host outside the allowlist without contacting it (SSRF)', async () => {
    const { server, client } = await setup()
    const internal = await startServer()
    cleanups.push(() => internal.close())
    internal.route('/secret', (_req, res) => res.writeHead(200).end('secret'))
    server.route('/r', (_req, res) => res.writeHead(307, { Location: `${internal.origin}/secret` }).end())
    await assert.rejects(client.getBytes(`${server.origin}/r`, { maxBytes: 100 }), HostNotAllowedError)
    await assert.rejects(client.getStream(`${server.origin}/r`, { maxBytes: 100 }), HostNotAllowedError)
    assert.equal(internal.requests.length, 0)
    assert.equal(internal.connections, 0)
  })

  test('refuses a redirect to the same IP under another name, and to a non-http scheme', async () => {
    const { server, client } = await setup()
    const port = server.host.split(':')[1] ?? ''
    server.route('/name', (_req, res) => res.writeHead(302, { Location: `http://localhost:${port}/x` }).end())
    server.route('/file', (_req, res) => res.writeHead(302, { Location: 'file:///etc/passwd' }).end())
    await assert.rejects(client.getBytes(`${server.origin}/name`, { maxBytes: 100 }), HostNotAllowedError)
    await assert.rejects(client.getBytes(`${server.origin}/file`, { maxBytes: 100 }), HostNotAllowedError)
  })

  test('stops after maxRedirects hops, and rejects a redirect without Location', async () => {
    const { server, client } = await setup({ maxRedirects: 2 })
    server.route('/loop', (_req, res) => res.writeHead(302, { Location: '/loop' }).end())
    server.route('/nowhere', (_req, res) => res.writeHead(302).end())
    await assert.rejects(client.getBytes(`${server.origin}/loop`, { maxBytes: 100 }), UpstreamProtocolError)
    assert.equal(server.requests.length, 3)
    await assert.rejects(client.getBytes(`${server.origin}/nowhere`, { maxBytes: 100 }), UpstreamProtocolError)
  })

  test('a disallowed first URL is refused before any connection', async () => {
    const { server, client } = await setup({ allowedHosts: ['pypi.org'] })
    await assert.rejects(client.getBytes(`${server.origin}/x`, { maxBytes: 100 }), HostNotAllowedError)
    assert.equal(server.connections, 0)
  })

  test('allowlist: a bare host matches only the default port; host:port matches that port; case-insensitive', async () => {
    const { client } = await setup({ allowedHosts: ['PyPI.org', 'files.example:8443', '[::1]:8080'] })
    client.assertAllowed('https://pypi.org/simple/')
    client.assertAllowed('http://PYPI.ORG/simple/')
    client.assertAllowed('https://pypi.org:443/simple/')
    client.assertAllowed('https://files.example:8443/f')
    client.assertAllowed('http://[::1]:8080/')
    for (const url of ['https://pypi.org:8443/', 'https://files.example/f', 'https://evil.pypi.org/', 'ftp://pypi.org/', 'http://[::1]/']) {
      assert.throws(() => client.assertAllowed(url), HostNotAllowedError, url)
    }
  })
})

describe('upstream client: options are validated eagerly', () => {
  const base: UpstreamOptions = {
    allowedHosts: ['pypi.org'], connectTimeoutMs: 1, headersTimeoutMs: 1, bodyTimeoutMs: 1, deadlineMs: 1, minBytesPerSecond: 0, rateWindowMs: 1, maxRedirects: 1, userAgent: 'x',
  }
  const cases: Array<[string, Partial<UpstreamOptions>]> = [
    ['connectTimeoutMs', { connectTimeoutMs: 0 }],
    ['headersTimeoutMs', { headersTimeoutMs: 1.5 }],
    ['bodyTimeoutMs', { bodyTimeoutMs: -1 }],
    ['maxRedirects', { maxRedirects: 100 }],
    ['userAgent', { userAgent: 'a\r\nx: y' }],
    ['caBundlePem', { caBundlePem: 'not pem' }],
    ['allowedHosts', { allowedHosts: [] }],
    ['allowedHosts', { allowedHosts: ['https://pypi.org/'] }],
    ['connectionsPerOrigin', { connectionsPerOrigin: 0 }],
  ]
  for (const [name, override] of cases) {
    test(`a bad ${name} (${JSON.stringify(override)}) is named in the error`, () => {
      assert.throws(() => createUpstreamClient({ ...base, ...override }), (error: unknown) => error instanceof TypeError && error.message.includes(name))
    })
  }
})
