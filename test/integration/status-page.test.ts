/**
 * The status page in a real browser: the real proxy process (hash-only mode against a fake index,
 * verifying mode against a TUF repository, and two sources with a release policy), some traffic
 * with hits, misses, a tampered file, an unreachable upstream, policy refusals and a
 * dependency-confusion collision, then Debian's headless chromium loads `/status` and the test reads
 * what the browser shows. A screenshot of each page is kept under test-output/ for people to look at.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dumpDom, requireChromium, screenshot, textOf, visibleText } from '../helpers/chromium.js'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests, get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { TufUpstream, wheelFile } from '../helpers/tuf-upstream.js'
import { buildWheel } from '../helpers/wheels.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const OUTPUT_DIR = join(REPO_ROOT, 'test-output')
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version
const POLL_DEADLINE_MS = 20_000

interface StatusJson {
  readonly cache: { readonly bytes: number; readonly maxBytes: number; readonly pages: number }
  readonly cacheOutcomes: { readonly hitRatio: number }
  readonly requests: { readonly total: number }
  readonly upstreams: ReadonlyArray<{ readonly origin: string; readonly state: string; readonly lastError?: { readonly code: string } }>
  readonly dropsByReason: ReadonlyArray<{ readonly reason: string; readonly count: number }>
  readonly trust?: { readonly rootVersion: number; readonly roles: ReadonlyArray<{ readonly name: string; readonly version?: number; readonly expires?: string }> }
  readonly policy?: { readonly refusals: ReadonlyArray<{ readonly reason: string }>; readonly collisions: ReadonlyArray<{ readonly project: string }> }
}

async function statusJson(proxy: ProxyProcess): Promise<StatusJson> {
  const response = await get(`${proxy.url}/status`, { accept: 'application/json' })
  assert.equal(response.status, 200)
  return JSON.parse(response.text) as StatusJson
}

/** The page as chromium shows it, with a screenshot kept as test-output/NAME.png. */
async function loadInBrowser(proxy: ProxyProcess, name: string): Promise<string> {
  const dom = await dumpDom(`${proxy.url}/status`)
  mkdirSync(OUTPUT_DIR, { recursive: true })
  const png = join(OUTPUT_DIR, `${name}.png`)
  await screenshot(`${proxy.url}/status`, png)
  assert.ok(statSync(png).size > 10_000, `a screenshot was written to ${png}`)
  writeFileSync(join(OUTPUT_DIR, `${name}.html`), dom)
  return dom
}

function assertCommonParts(dom: string): void {
  assert.match(dom, /<meta http-equiv="refresh" content="10">/, 'the page refreshes itself')
  assert.doesNotMatch(dom, /<script|<link[^>]+stylesheet|src="http/i, 'no script and no external asset')
  assert.match(dom, /<a href="\/metrics">/, 'links to /metrics')
  assert.match(dom, /<a href="\/health">/, 'links to /health')
  const about = textOf(dom, 'about')
  assert.ok(about.includes(`tuf-proxy ${VERSION}`), `the version from package.json is shown: ${about}`)
  assert.match(about, /up \d+ (s|min)/, `the uptime is shown: ${about}`)
}

describe('the status page in a browser', () => {

  describe('hash-only mode: upstream state and last error, cache in human units, hit ratio, drops by reason', () => {
    let upstream: FakeUpstream
    let proxy: ProxyProcess
    const good = buildWheel('FooBar', '0.1')
    const bad = buildWheel('BadPkg', '1.0')
    before(async () => {
      upstream = await new FakeUpstream().start()
      upstream.addProject('FooBar', [{ filename: good.filename, bytes: good.bytes, metadata: good.metadata }], 10)
      upstream.addProject('BadPkg', [{ filename: bad.filename, bytes: bad.bytes }], 10)
      proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--cache-max-bytes', '64M'])
    })
    after(async () => {
      await proxy?.dispose()
      await upstream?.stop()
    })

    test('chromium shows what /status reports', async (t) => {
      t.diagnostic(requireChromium())
      // A miss, then hits, of a page and a file. The second request waits until the first one's
      // file is committed: a request that joins a running download is a miss as well.
      for (let i = 0; i < 3; i++) {
        assert.equal((await get(`${proxy.url}/simple/foobar/`)).status, 200)
        assert.equal((await get(`${proxy.url}/files/foobar/${good.filename}`)).status, 200)
        const deadline = Date.now() + POLL_DEADLINE_MS
        while (!blobDigests(proxy.cacheDir).includes(good.sha256)) {
          assert.ok(Date.now() < deadline, 'the wheel is committed to the cache')
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      // A tampered file: dropped, twice.
      upstream.tamper(`/files/${bad.filename}`)
      for (let i = 0; i < 2; i++) {
        const dropped = await get(`${proxy.url}/files/badpkg/${bad.filename}`)
        assert.equal(dropped.status, 502)
        assert.equal(dropped.headers['x-tuf-proxy-reason'], 'hash_mismatch')
      }
      // The upstream goes away: three different pages fail, which opens its breaker.
      upstream.offline()
      for (const name of ['gone-a', 'gone-b', 'gone-c']) assert.ok((await get(`${proxy.url}/simple/${name}/`)).status >= 500)
      upstream.offline(false)

      const status = await statusJson(proxy)
      const dom = await loadInBrowser(proxy, 'status')
      assertCommonParts(dom)

      const summary = textOf(dom, 'summary')
      const hitRatio = `${(status.cacheOutcomes.hitRatio * 100).toFixed(1)} %`
      assert.ok(summary.includes(`Cache hit ratio ${hitRatio}`), `the hit ratio since start (${hitRatio}) is shown: ${summary}`)
      assert.match(summary, /Errors 0 4xx · [1-9]\d* 5xx/, `errors by class: ${summary}`)
      assert.match(summary, /Requests \/ s \d+\.\d\d over the last \d+ s/, `requests per second: ${summary}`)

      const upstreams = textOf(dom, 'upstreams')
      const index = status.upstreams.find((entry) => entry.origin === upstream.url)
      assert.ok(index, `/status lists the index origin: ${JSON.stringify(status.upstreams)}`)
      assert.equal(index.lastError?.code, 'upstream_unreachable')
      assert.match(upstreams, new RegExp(`${upstream.url} (down|trial) \\d+ ms`), `the origin, its open breaker and its latency: ${upstreams}`)
      assert.match(upstreams, /upstream_unreachable \S.* \((now|\d+ (s|min) ago)\)/, `the last error's code, message and age: ${upstreams}`)

      const cache = textOf(dom, 'cache')
      assert.ok(cache.includes('/ 64.0 MiB'), `the budget in human units: ${cache}`)
      assert.match(cache, /^Cache \d+(\.\d+)? (B|KiB) \/ 64\.0 MiB \(0\.\d %\)/, `used / budget: ${cache}`)
      assert.match(cache, new RegExp(`${status.cache.pages} project pages recorded`), `pages are counted: ${cache}`)
      assert.equal(status.cache.pages, 2, 'two project pages (foobar, badpkg) were stored')
      // foobar's wheel: a miss, then two hits; badpkg's: two misses, each dropped.
      assert.match(cache, /files 2 3 0 40\.0 %/, `file hits, misses, stale and hit ratio: ${cache}`)
      assert.match(dom, /<div class="bar"[^>]*><span style="width:\d+\.\d%/, 'a bar shows the share of the budget used')

      const drops = textOf(dom, 'drops')
      assert.match(drops, new RegExp(`hash_mismatch 2 (now|\\d+ (s|min) ago) file ${upstream.url}/files/${bad.filename.replace(/\./g, '\\.')}`), `the drop reason, its count and its latest example: ${drops}`)
      assert.equal(status.dropsByReason.find((entry) => entry.reason === 'hash_mismatch')?.count, 2)

      assert.match(textOf(dom, 'trust'), /Verifying mode is off/)
    })
  })

  describe('verifying mode: the trust state', () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    const wheel = wheelFile('FooBar', '0.1')
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-status-'))
    let upstream: TufUpstream
    let proxy: ProxyProcess
    before(async () => {
      upstream = await TufUpstream.start(sim)
      upstream.publishProject('targets', 'FooBar', [wheel])
      upstream.publish()
      const rootFile = join(dir, 'root.json')
      writeFileSync(rootFile, sim.trustedRoot())
      proxy = await ProxyProcess.start([
        '--upstream', upstream.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', upstream.metadataUrl, '--tuf-targets-url', upstream.targetsUrl,
        '--tuf-layout', 'paths', '--tuf-refresh', '300', '--index-ttl', '0',
      ])
    })
    after(async () => {
      await proxy?.dispose()
      await upstream?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('chromium shows the root version, each role with version, threshold, expiry and time left, and a refused target', async (t) => {
      t.diagnostic(requireChromium())
      const deadline = Date.now() + POLL_DEADLINE_MS
      for (;;) {
        const page = await get(`${proxy.url}/simple/foobar/`)
        if (page.status === 200) break
        assert.ok(Date.now() < deadline, `the page verifies: ${page.status} ${page.text}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      // A CDN without keys swaps the bytes of the wheel: refused.
      upstream.tamperTarget(wheel.path)
      const refused = await get(`${proxy.url}/files/foobar/${wheel.filename}`)
      assert.equal(refused.status, 502, refused.text)
      const reason = String(refused.headers['x-tuf-proxy-reason'])

      const status = await statusJson(proxy)
      assert.ok(status.trust, 'verifying mode reports its trust state')
      const dom = await loadInBrowser(proxy, 'status-tuf')
      assertCommonParts(dom)
      assert.match(textOf(dom, 'about'), /mode: verifying \(TUF\)/)

      const trust = textOf(dom, 'trust')
      assert.match(trust, new RegExp(`Root version ${status.trust.rootVersion} · last refresh (now|\\d+ (s|min) ago) · next refresh due in \\d+ min`), `root version and refresh times: ${trust}`)
      for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
        const entry: { version?: number; expires?: string } | undefined = status.trust.roles.find((candidate) => candidate.name === role)
        assert.ok(entry?.version !== undefined && entry.expires, `/status reports ${role}`)
        assert.equal(entry.version, role === 'root' ? sim.rootVersion : sim.signed(role).version)
        assert.match(trust, new RegExp(`${role} ${entry.version} 1 of 1 keys ${entry.expires.replace(/[.]/g, '\\.')} (364|365) d`), `${role}: version, threshold, expiry and time left: ${trust}`)
      }
      assert.match(textOf(dom, 'drops'), new RegExp(`${reason} 1 (now|\\d+ (s|min) ago)`), `the refused target under its reason: ${textOf(dom, 'drops')}`)
      assert.doesNotMatch(visibleText(dom), /could not be rendered/)
    })
  })

  describe('sources and a release policy: the sources, refusals by reason and a collision', () => {
    let internal: FakeUpstream
    let publicIndex: FakeUpstream
    let proxy: ProxyProcess
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-status-sources-'))
    const good = buildWheel('acme-utils', '1.0')
    const evil = buildWheel('acme-utils', '99.0')
    const sixOld = buildWheel('six', '1.16.0')
    const sixDenied = buildWheel('six', '1.17.0')
    before(async () => {
      internal = await new FakeUpstream().start()
      publicIndex = await new FakeUpstream().start()
      internal.addProject('acme-utils', [{ filename: good.filename, bytes: good.bytes }])
      // The private name registered publicly: a dependency-confusion attempt.
      publicIndex.addProject('acme-utils', [{ filename: evil.filename, bytes: evil.bytes }])
      publicIndex.addProject('six', [{ filename: sixOld.filename, bytes: sixOld.bytes }, { filename: sixDenied.filename, bytes: sixDenied.bytes }])
      publicIndex.addProject('evil-thing', [])
      const config = join(dir, 'config.yaml')
      writeFileSync(config, `sources:
  - name: internal
    url: ${internal.simpleUrl}
  - name: pypi
    url: ${publicIndex.simpleUrl}
    public: true
policy:
  deny: ["evil-*", "six==1.17.0"]
`)
      proxy = await ProxyProcess.start(['--config', config])
    })
    after(async () => {
      await proxy?.dispose()
      await Promise.all([internal?.stop(), publicIndex?.stop()])
      rmSync(dir, { recursive: true, force: true })
    })

    test('chromium shows the sources in order, the refusals under their reason, and the collision', async (t) => {
      t.diagnostic(requireChromium())
      // The merged list fetches both lists whole: acme-utils on the public one is a collision.
      assert.equal((await get(`${proxy.url}/simple/`)).status, 200)
      const deniedPage = await get(`${proxy.url}/simple/evil-thing/`)
      assert.equal(deniedPage.status, 404)
      assert.equal(deniedPage.headers['x-tuf-proxy-reason'], 'denied_by_policy')
      assert.equal((await get(`${proxy.url}/simple/six/`)).status, 200)
      const deniedFile = await get(`${proxy.url}/files/six/${sixDenied.filename}`)
      assert.equal(deniedFile.status, 403)
      assert.equal(deniedFile.headers['x-tuf-proxy-reason'], 'denied_by_policy')

      const status = await statusJson(proxy)
      // The denied project's page, 1.17.0 hidden from six's page, and 1.17.0 refused on download.
      assert.deepEqual(status.policy?.refusals.map((refusal) => refusal.reason), ['denied_by_policy', 'denied_by_policy', 'denied_by_policy'])
      assert.deepEqual(status.policy?.collisions.map((collision) => collision.project), ['acme-utils'])
      // Each source's pages are recorded in its own namespace: both lists and six's page.
      assert.equal(status.cache.pages, 3, 'the two sources\' project lists and six\'s page are counted')
      const dom = await loadInBrowser(proxy, 'status-sources')
      assertCommonParts(dom)

      const policy = textOf(dom, 'policy')
      assert.match(policy, /^Sources and policy Sources, in priority order: internal private · pypi public /, `the sources in priority order: ${policy}`)
      assert.match(
        policy,
        new RegExp(`denied_by_policy 3 (now|\\d+ (s|min) ago) six ${sixDenied.filename.replace(/\./g, '\\.')} six 1\\.17\\.0 is denied by policy\\.deny entry "six==1\\.17\\.0"`),
        `the refusals under their reason, the latest as the example: ${policy}`,
      )
      assert.match(policy, /1 collision\(s\) private names a public source lists too project private source \(owner\) public source noticed acme-utils internal pypi (now|\d+ (s|min) ago)/, `the collision: ${policy}`)
      assert.doesNotMatch(visibleText(dom), /could not be rendered/)
    })
  })
})
