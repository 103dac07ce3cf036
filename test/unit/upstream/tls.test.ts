import { describe, test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createUpstreamClient, UpstreamOfflineError } from '../../../src/upstream/index.js'

/** A throwaway self-signed certificate for 127.0.0.1, made by openssl when the test starts. */
async function makeCertificate(): Promise<{ key: string; cert: string } | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-tls-'))
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=tuf-proxy test CA', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' })
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') }
  } catch {
    return undefined
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('upstream client: TLS is always verified; caBundlePem adds a CA', () => {
  let pair: { key: string; cert: string } | undefined
  let server: Server | undefined
  let host = ''

  before(async () => {
    pair = await makeCertificate()
    if (!pair) return
    server = createServer({ key: pair.key, cert: pair.cert }, (_req, res) => res.writeHead(200).end('secure'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    host = `127.0.0.1:${address.port}`
  })
  after(async () => {
    server?.closeAllConnections()
    server?.close()
  })

  const options = { connectTimeoutMs: 2000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, deadlineMs: 10_000, minBytesPerSecond: 0, rateWindowMs: 1000, maxRedirects: 0, userAgent: 't' }

  test('an unknown CA is refused as UpstreamOfflineError, keeping the TLS cause', async (t) => {
    if (!pair) return skipOrFail(t)
    const client = createUpstreamClient({ ...options, allowedHosts: [host] })
    t.after(() => client.close())
    await assert.rejects(client.getBytes(`https://${host}/`, { maxBytes: 100 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamOfflineError)
      assert.match(String((error.cause as { code?: string } | undefined)?.code), /SELF_SIGNED|UNABLE_TO_VERIFY/)
      return true
    })
  })

  test('with the CA in caBundlePem the same server is trusted', async (t) => {
    if (!pair) return skipOrFail(t)
    const client = createUpstreamClient({ ...options, allowedHosts: [host], caBundlePem: pair.cert })
    t.after(() => client.close())
    const result = await client.getBytes(`https://${host}/`, { maxBytes: 100 })
    assert.equal(Buffer.from(result.body).toString(), 'secure')
  })
})

/** Without openssl there is no certificate to test with: a loud skip locally, a failure under CI (.ci/run installs it). */
function skipOrFail(t: { skip(message: string): void }): void {
  if (process.env.CI === 'true') throw new Error('openssl is required under CI to make a test certificate')
  t.skip('openssl is not available to make a test certificate')
}
