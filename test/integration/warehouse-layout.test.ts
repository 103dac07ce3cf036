/**
 * Verifying mode with `--tuf-layout warehouse`, the naming PyPI's RSTUF integration uses: a
 * project page is the target named by the normalized project, hashed with BLAKE2b-256 and
 * fetched from its content-addressed copy; distribution files are bound by the verified page's
 * hashes. Real proxy process, real upstream on 127.0.0.1, Debian's pip.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { blake2b } from '@noble/hashes/blake2.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { TufUpstream, wheelFile } from '../helpers/tuf-upstream.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, requirePip } from '../helpers/pip.js'

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'

describe('verifying mode, warehouse layout', () => {
  let upstream: TufUpstream
  let rootDir: string
  const wheel = wheelFile('FooBar', '0.1')
  let pageDigest = ''
  const weak = wheelFile('WeakPkg', '0.1')
  const promised = wheelFile('WeakPkg', '0.2')

  before(async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    upstream = await TufUpstream.start(sim)
    // The file lives outside the TUF targets; the verified page's #sha256 binds it.
    const fileUrlPath = `/files/${wheel.filename}`
    upstream.server.route(fileUrlPath, (_req, res) => upstream.server.send(res, fileUrlPath, 200, { 'content-type': 'application/octet-stream' }, wheel.bytes))
    const page = Buffer.from(`<!DOCTYPE html>\n<html><body><h1>Links for foobar</h1>\n<a href="${upstream.url}${fileUrlPath}#sha256=${wheel.sha256}">${wheel.filename}</a><br/>\n</body></html>\n`)
    pageDigest = Buffer.from(blake2b(page, { dkLen: 32 })).toString('hex')
    // Warehouse: target path = the normalized name, hashes = {"blake2b-256": …}.
    sim.targetsOf('targets')['foobar'] = { length: page.byteLength, hashes: { 'blake2b-256': pageDigest } }
    sim.invalidate('targets')
    upstream.publish()
    const copyPath = `/targets/foobar/${pageDigest}.foobar.html`
    upstream.server.route(copyPath, (_req, res) => upstream.server.send(res, copyPath, 200, { 'content-type': 'text/html' }, page))
    // A verified page whose links carry nothing strong: an md5-only file, and a PEP 658
    // `.metadata` promised as "true" (no hash) next to a file that is itself bound by sha256.
    for (const file of [weak, promised]) {
      const path = `/files/${file.filename}`
      upstream.server.route(path, (_req, res) => upstream.server.send(res, path, 200, { 'content-type': 'application/octet-stream' }, file.bytes))
      upstream.server.route(`${path}.metadata`, (_req, res) => upstream.server.send(res, `${path}.metadata`, 200, { 'content-type': 'text/plain' }, Buffer.from('Metadata-Version: 2.1\n')))
    }
    const md5 = createHash('md5').update(weak.bytes).digest('hex')
    const weakPage = Buffer.from(
      `<!DOCTYPE html>\n<html><body>\n<a href="${upstream.url}/files/${weak.filename}#md5=${md5}">${weak.filename}</a><br/>\n` +
        `<a href="${upstream.url}/files/${promised.filename}#sha256=${promised.sha256}" data-core-metadata="true">${promised.filename}</a><br/>\n</body></html>\n`,
    )
    const weakDigest = Buffer.from(blake2b(weakPage, { dkLen: 32 })).toString('hex')
    sim.targetsOf('targets')['weakpkg'] = { length: weakPage.byteLength, hashes: { 'blake2b-256': weakDigest } }
    sim.invalidate('targets')
    upstream.publish()
    const weakCopy = `/targets/weakpkg/${weakDigest}.weakpkg.html`
    upstream.server.route(weakCopy, (_req, res) => upstream.server.send(res, weakCopy, 200, { 'content-type': 'text/html' }, weakPage))
    rootDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-root-'))
    writeFileSync(join(rootDir, 'root.json'), sim.trustedRoot())
  })
  after(async () => {
    await upstream.stop()
    rmSync(rootDir, { recursive: true, force: true })
  })

  const startProxy = () =>
    ProxyProcess.start([
      '--upstream', `${upstream.url}/simple/`,
      '--tuf-root', join(rootDir, 'root.json'),
      '--tuf-metadata-url', upstream.metadataUrl,
      '--tuf-targets-url', upstream.targetsUrl,
      '--tuf-layout', 'warehouse',
      '--index-ttl', '0',
    ])

  test('the page is fetched from its content-addressed copy, verified with BLAKE2b-256, and served as JSON too; pip gets the file', requirePip(), async (t) => {
    const proxy = await startProxy()
    t.after(() => proxy.dispose())
    const page = await get(`${proxy.url}/simple/foobar/`, { accept: PIP_ACCEPT })
    assert.equal(page.status, 200, page.text)
    const model = JSON.parse(page.text) as { files: Array<{ filename: string; hashes: Record<string, string> }> }
    assert.deepEqual(model.files.map((file) => [file.filename, file.hashes.sha256]), [[wheel.filename, wheel.sha256]])
    assert.equal(upstream.server.hits(`/targets/foobar/${pageDigest}.foobar.html`), 1)
    const result = await pipDownload(`${proxy.url}/simple/`, 'foobar==0.1')
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(result.files, [wheel.filename])
    const other = await get(`${proxy.url}/simple/other/`)
    assert.equal(other.status, 404)
    assert.equal(JSON.parse(other.text).error, 'unknown_target')
  })

  test('a swapped page copy is dropped: 502 hash_mismatch on a cold proxy, nothing relayed', async (t) => {
    const copyPath = `/targets/foobar/${pageDigest}.foobar.html`
    upstream.server.tamper(copyPath)
    t.after(() => upstream.server.untamper(copyPath))
    const proxy = await startProxy()
    t.after(() => proxy.dispose())
    const page = await get(`${proxy.url}/simple/foobar/`, { accept: 'text/html' })
    assert.equal(page.status, 502)
    assert.equal(JSON.parse(page.text).error, 'hash_mismatch')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' }), 1)
  })

  test('every byte served is bound to signed metadata: an md5-only file and a hashless .metadata are refused, not relayed', async (t) => {
    const proxy = await startProxy()
    t.after(() => proxy.dispose())
    const page = await get(`${proxy.url}/simple/weakpkg/`, { accept: 'text/html' })
    assert.equal(page.status, 200, page.text)
    for (const path of [`/files/weakpkg/${weak.filename}`, `/files/weakpkg/${promised.filename}.metadata`]) {
      const answer = await get(`${proxy.url}${path}`)
      assert.equal(answer.status, 502, `${path}: ${answer.text}`)
      assert.equal(answer.headers['x-tuf-proxy-reason'], 'no_strong_hash')
    }
    assert.equal(upstream.server.hits(`/files/${weak.filename}`), 0, 'nothing unverifiable is even fetched')
    assert.equal(upstream.server.hits(`/files/${promised.filename}.metadata`), 0)
    const bound = await get(`${proxy.url}/files/weakpkg/${promised.filename}`)
    assert.equal(bound.status, 200, 'the sha256-bound file itself is served')
  })
})
