/**
 * A `sources:` index in verifying mode (PEP 458 on the public index, a plain private index beside
 * it): two real upstreams on 127.0.0.1 — a private PEP 503 index and a TUF repository whose pages
 * and files are targets — the real proxy process with a `sources:` config whose public entry has
 * `tuf:`, and Debian's pip. The TUF source's pages and files are served only as its own signed
 * metadata vouches for them (TUF 5.7: a target's length and hashes), its trust state lives
 * apart under the cache directory, /status shows it, and the private project's name never
 * reaches the TUF repository.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, pipInstall, requirePip } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { TufUpstream, sdistFile, wheelFile } from '../helpers/tuf-upstream.js'
import { buildWheel } from '../helpers/wheels.js'

interface TrustView { readonly rootVersion: number; readonly lastRefresh?: string; readonly roles: ReadonlyArray<{ readonly name: string; readonly version?: number }> }
interface StatusView {
  readonly trust?: TrustView
  readonly sourceTrust?: ReadonlyArray<{ readonly source: string; readonly trust: TrustView }>
  readonly drops: ReadonlyArray<{ readonly reason: string; readonly what: string; readonly url: string }>
}

const looseUrlPath = (filename: string) => `/targets/loose/${filename}`

/** Any request an upstream saw that names the private project, in any spelling. */
function leaks(upstream: FakeUpstream): string[] {
  return upstream.log.map((entry) => entry.path).filter((path) => /acme[-_.]?utils/i.test(path))
}

async function statusOf(proxy: ProxyProcess): Promise<StatusView> {
  return JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as StatusView
}

describe('sources: a private index beside a public index verified against its own TUF repository', () => {
  const pip = requirePip()
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-sources-tuf-'))
  const rootFile = join(dir, 'root.json')
  const sim = new RepositorySimulator({ consistentSnapshot: true })
  const wheel = wheelFile('FooBar', '0.1')
  const sdist = sdistFile('FooBar', '0.1')
  const privateWheel = buildWheel('acme-utils', '1.0')
  const loose = buildWheel('extra', '1.0')
  let internal: FakeUpstream
  let repository: TufUpstream
  let config: string

  before(async () => {
    internal = await new FakeUpstream().start()
    internal.addProject('acme-utils', [{ filename: privateWheel.filename, bytes: privateWheel.bytes }])
    repository = await TufUpstream.start(sim)
    repository.publishProject('targets', 'FooBar', [wheel, sdist])
    // A signed page that links a file no role lists, with its right hash: a plain index would relay it.
    const loosePath = looseUrlPath(loose.filename)
    repository.server.route(loosePath, (_req, res) => repository.server.send(res, loosePath, 200, { 'content-type': 'application/octet-stream' }, loose.bytes))
    sim.addTarget('targets', 'simple/extra/index.html', Buffer.from(`<a href="${repository.url}${loosePath}#sha256=${loose.sha256}">${loose.filename}</a>\n`))
    repository.publish()
    // A page the repository's web server has but no TUF role lists: a plain index would serve it.
    const unsigned = buildWheel('unsigned', '1.0')
    repository.server.route('/targets/simple/unsigned/', (_req, res) => {
      repository.server.send(res, '/targets/simple/unsigned/', 200, { 'content-type': 'text/html' }, Buffer.from(`<a href="${repository.url}/targets/${unsigned.filename}#sha256=${unsigned.sha256}">${unsigned.filename}</a>`))
    })
    writeFileSync(rootFile, sim.trustedRoot())
    config = join(dir, 'config.yaml')
    writeFileSync(
      config,
      `sources:
  - name: pypi
    url: ${repository.simpleUrl}
    public: true
    tuf: {root: ${rootFile}, metadata-url: ${repository.metadataUrl}, targets-url: ${repository.targetsUrl}, layout: paths, refresh: 1s}
  - name: internal
    url: ${internal.simpleUrl}
`,
    )
  })
  after(async () => {
    await Promise.all([internal?.stop(), repository?.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  test('pip gets the signed wheel and the private project; a tampered file is a 502 drop; an unsigned file or page is not served; the private name never reaches the repository', pip, async (t) => {
    const proxy = await ProxyProcess.start(['--config', config])
    t.after(() => proxy.dispose())
    const index = `${proxy.url}/simple/`

    // TUF 5.7: the page and the wheel are targets whose signed hashes the proxy checked.
    const good = await pipDownload(index, 'foobar==0.1', ['--only-binary', ':all:'])
    assert.equal(good.status, 0, good.stderr)
    assert.deepEqual(good.files, [wheel.filename])
    assert.ok(readFileSync(join(good.dest, wheel.filename)).equals(wheel.bytes))
    const installed = await pipInstall(index, 'foobar==0.1')
    assert.equal(installed.status, 0, installed.stderr)
    assert.equal(proxy.events('owner_recorded').find((line) => line.project === 'foobar')?.source, 'pypi')

    const privateProject = await pipDownload(index, 'acme-utils')
    assert.equal(privateProject.status, 0, privateProject.stderr)
    assert.deepEqual(privateProject.files, [privateWheel.filename])

    // A CDN without keys swaps the sdist's bytes: the signed hashes do not match, so it is dropped.
    repository.tamperTarget(sdist.path)
    const dropsBefore = await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' })
    const tampered = await get(`${proxy.url}/files/foobar/${sdist.filename}`)
    assert.equal(tampered.status, 502, tampered.text)
    assert.equal(tampered.headers['x-tuf-proxy-reason'], 'hash_mismatch')
    assert.equal(await proxy.metric('tuf_proxy_drops_total', { reason: 'hash_mismatch' }), dropsBefore + 1, 'the drop is counted')
    assert.ok((await statusOf(proxy)).drops.some((drop) => drop.reason === 'hash_mismatch' && drop.url.includes(sdist.filename)), '/status lists the drop')

    // The signed page lists it, but no role vouches for the file's bytes (TUF 5.7.2): not relayed.
    assert.equal((await get(`${proxy.url}/simple/extra/`)).status, 200)
    const unlisted = await get(`${proxy.url}/files/extra/${loose.filename}`)
    assert.equal(unlisted.status, 404, unlisted.text)
    assert.equal(unlisted.headers['x-tuf-proxy-reason'], 'unknown_target')
    assert.equal(repository.server.hits(looseUrlPath(loose.filename)), 0, 'the unsigned file was never fetched')

    // No TUF role lists the page, so no source has the project (a plain index would have served it).
    const unsigned = await get(`${proxy.url}/simple/unsigned/`)
    assert.equal(unsigned.status, 404, unsigned.text)

    // The repository's trust state is its own, under the cache directory, and /status shows it.
    const stateDir = join(proxy.cacheDir, 'tuf', 'sources', 'pypi', 'metadata')
    assert.ok(existsSync(join(stateDir, 'root.json')) && existsSync(join(stateDir, 'CURRENT')), 'the source has its own trust state directory')
    assert.ok(!existsSync(join(proxy.cacheDir, 'tuf', 'metadata')), 'nothing is written where the single --upstream keeps its trust state')
    const status = await statusOf(proxy)
    assert.equal(status.trust, undefined, 'no single-upstream trust state')
    assert.deepEqual(status.sourceTrust?.map((entry) => entry.source), ['pypi'])
    assert.equal(status.sourceTrust?.[0]?.trust.roles.find((role) => role.name === 'timestamp')?.version, sim.signed('timestamp').version)
    const html = (await get(`${proxy.url}/status`, { accept: 'text/html' })).text
    assert.match(html, /<h3>Source <code>pypi<\/code><\/h3>/)
    assert.equal(await proxy.metric('tuf_proxy_tuf_role_version', { source: 'pypi', role: 'timestamp' }), sim.signed('timestamp').version)
    assert.ok((await proxy.metric('tuf_proxy_tuf_refresh_total', { source: 'pypi', result: 'ok' })) >= 1, 'the source\'s refreshes are counted under its name')

    assert.deepEqual(leaks(repository.server), [], 'the TUF repository was never asked for acme-utils')
  })
  test('--tuf-root with a policy: (no sources:) still verifies every page and file the policy filters', async (t) => {
    const policyConfig = join(dir, 'policy.yaml')
    writeFileSync(policyConfig, 'policy:\n  deny: ["evil-*"]\n')
    const proxy = await ProxyProcess.start(['--config', policyConfig, '--upstream', repository.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', repository.metadataUrl, '--tuf-targets-url', repository.targetsUrl])
    t.after(() => proxy.dispose())
    const signed = await get(`${proxy.url}/files/foobar/${wheel.filename}`)
    assert.equal(signed.status, 200, signed.text)
    assert.ok(signed.body.equals(wheel.bytes))
    const unlisted = await get(`${proxy.url}/files/extra/${loose.filename}`)
    assert.equal(unlisted.status, 404, unlisted.text)
    assert.equal(unlisted.headers['x-tuf-proxy-reason'], 'unknown_target')
    assert.equal((await get(`${proxy.url}/simple/unsigned/`)).status, 404)
  })
})
