/**
 * Why the upstream could not be reached, produced for real on loopback: each failure the client
 * meets is an UpstreamError whose failureCauseOf is one of the fixed FailureCause set, and whose
 * message says what an operator should look at.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'
import { lookup } from 'node:dns/promises'
import { createUpstreamClient, failureCauseOf, UpstreamError, type UpstreamOptions } from '../../../src/upstream/index.js'
import { ConnectProxy } from '../../helpers/connect-proxy.js'
import { makePrivateCa, skipOrFailWithoutOpenssl, type PrivateCa } from '../../helpers/tls-certs.js'

const base = { connectTimeoutMs: 2000, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, deadlineMs: 10_000, minBytesPerSecond: 0, rateWindowMs: 1000, maxRedirects: 0, userAgent: 't' }

async function failureOf(options: Partial<UpstreamOptions> & { allowedHosts: string[] }, url: string): Promise<UpstreamError> {
  const client = createUpstreamClient({ ...base, ...options })
  try {
    await client.getBytes(url, { maxBytes: 1000 })
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `an UpstreamError, got ${String(error)}`)
    return error
  } finally {
    await client.close()
  }
  assert.fail(`${url} did not fail`)
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createTcpServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

async function listen<T extends TcpServer | HttpsServer>(server: T): Promise<{ server: T; port: number }> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port }
}

describe('upstream failure causes, each produced for real', () => {
  let ca: PrivateCa | undefined
  let tlsServer: HttpsServer | undefined
  let tlsPort = 0
  let silent: TcpServer
  let silentPort = 0
  const silentSockets = new Set<Socket>()

  before(async () => {
    ca = await makePrivateCa()
    if (ca) ({ server: tlsServer, port: tlsPort } = await listen(createHttpsServer({ key: ca.key, cert: ca.cert }, (_req, res) => res.end('secure'))))
    // Accepts connections and never answers a byte.
    ;({ server: silent, port: silentPort } = await listen(createTcpServer((socket) => silentSockets.add(socket))))
  })
  after(() => {
    tlsServer?.closeAllConnections()
    tlsServer?.close()
    for (const socket of silentSockets) socket.destroy()
    silent.close()
  })

  test('refused: nothing listens on the port', async () => {
    const port = await closedPort()
    const error = await failureOf({ allowedHosts: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/simple/`)
    assert.equal(failureCauseOf(error), 'refused')
    assert.equal(error.code, 'upstream_unreachable')
    assert.match(error.message, /\(refused\).*ECONNREFUSED/)
  })

  test('dns: a .invalid name does not resolve (RFC 6761 §6.4), without any network', async () => {
    await assert.rejects(lookup('pypi.invalid'), 'the resolver fails .invalid locally')
    const error = await failureOf({ allowedHosts: ['pypi.invalid'] }, 'https://pypi.invalid/simple/')
    assert.equal(failureCauseOf(error), 'dns')
    assert.match(error.message, /\(dns\).*pypi\.invalid/)
  })

  test('tls: a certificate from a CA we were not given; the message points at --ca-bundle', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const error = await failureOf({ allowedHosts: [`127.0.0.1:${tlsPort}`] }, `https://127.0.0.1:${tlsPort}/`)
    assert.equal(failureCauseOf(error), 'tls')
    assert.match(error.message, /--ca-bundle/)
  })

  test('timeout: a server that accepts and never answers', async () => {
    const error = await failureOf({ allowedHosts: [`127.0.0.1:${silentPort}`] }, `http://127.0.0.1:${silentPort}/simple/`)
    assert.equal(failureCauseOf(error), 'timeout')
    assert.equal(error.code, 'upstream_timeout')
  })

  test('proxy_auth: the proxy answers CONNECT with 407 when no credentials are given', async (t) => {
    if (!ca) return skipOrFailWithoutOpenssl(t)
    const proxy = await new ConnectProxy({ credentials: 'alice:s3cret' }).start()
    t.after(() => proxy.stop())
    const error = await failureOf(
      { allowedHosts: [`127.0.0.1:${tlsPort}`], caBundlePem: ca.caPem, proxy: { http: '', https: proxy.url(), noProxy: '' } },
      `https://127.0.0.1:${tlsPort}/`,
    )
    assert.equal(failureCauseOf(error), 'proxy_auth')
    assert.match(error.message, /proxy requires authentication \(407 to CONNECT; missing or wrong credentials/)
    assert.equal(proxy.authRefusals, 1)
    assert.deepEqual(proxy.tunnels, [])
  })

  test('proxy_auth for a plain-http upstream forwarded through the proxy', async (t) => {
    const proxy = await new ConnectProxy({ credentials: 'alice:s3cret' }).start()
    t.after(() => proxy.stop())
    const port = await closedPort()
    const error = await failureOf({ allowedHosts: [`127.0.0.1:${port}`], proxy: { http: proxy.url(), https: '', noProxy: '' } }, `http://127.0.0.1:${port}/`)
    assert.equal(failureCauseOf(error), 'proxy_auth')
    assert.equal(proxy.authRefusals, 1)
  })

  test('proxy: the proxy cannot reach the upstream and answers CONNECT with 502', async (t) => {
    const proxy = await new ConnectProxy().start()
    t.after(() => proxy.stop())
    const port = await closedPort()
    const error = await failureOf({ allowedHosts: [`127.0.0.1:${port}`], proxy: { http: '', https: proxy.url(), noProxy: '' } }, `https://127.0.0.1:${port}/`)
    assert.equal(failureCauseOf(error), 'proxy')
    assert.match(error.message, /502 to CONNECT/)
  })

  test('proxy, not refused: the proxy itself is down, even though the error is ECONNREFUSED', async () => {
    const proxyPort = await closedPort()
    const error = await failureOf(
      { allowedHosts: [`127.0.0.1:${tlsPort || 1}`], proxy: { http: '', https: `http://127.0.0.1:${proxyPort}`, noProxy: '' } },
      `https://127.0.0.1:${tlsPort || 1}/`,
    )
    assert.equal(failureCauseOf(error), 'proxy')
    assert.match(error.message, /cannot reach the HTTP proxy \(ECONNREFUSED\)/)
  })
})
