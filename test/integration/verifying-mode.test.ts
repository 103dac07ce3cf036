/**
 * The canonical scenario for verifying mode (PEP 458 / PEP 480 on PyPI), end to end: a TUF
 * repository over HTTP, the real proxy process with --tuf-root, Debian's pip through the proxy,
 * and tuf-js through the proxy's /tuf/ routes (plus tuf-js straight at the repository as the
 * control that proves each attack is really being served).
 *
 * Repository: top-level targets delegates, in priority order, to `claimed` (offline key,
 * terminating), `recently-claimed` and `unclaimed` (online keys). The attacker may hold the
 * online keys (timestamp, snapshot, recently-claimed, unclaimed) but never the offline ones
 * (root, targets, claimed). FooBar moves through 0.1 … 0.6; the story is sequential, so the
 * tests share one repository and one proxy and must run in order.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { flipLastByte } from '../helpers/fake-upstream.js'
import { blobDigests, get, type Fetched } from '../helpers/http-client.js'
import { pipDownload, requirePip, type PipResult } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { generateKey } from '../helpers/sim-keys.js'
import { TufClient, fetchTargetOnce, type TufVerdict } from '../helpers/tuf-client.js'
import { TufUpstream, sdistFile, wheelFile, type DistFile } from '../helpers/tuf-upstream.js'

const YEAR_MS = 365 * 86_400_000
const POLL_DEADLINE_MS = 20_000
const MAX_TIMESTAMP_BYTES = 16_384
/** What `recently-claimed` and `unclaimed` may list: any project's page and files. */
const ANY_PROJECT = ['simple/*/index.html', 'packages/*/*/*/*']
/** FooBar's page and files: what `claimed` takes over in step 5. */
const FOOBAR_PATHS = ['simple/foobar/*', 'packages/*/F/FooBar/*']

interface Drop { readonly atMs: number; readonly reason: string; readonly what: string; readonly url: string; readonly detail: string }
interface StatusView { readonly mode: string; readonly trust: { readonly lastRefresh?: string; readonly roles: ReadonlyArray<{ readonly name: string; readonly version?: number }> }; readonly drops: readonly Drop[] }

/** The `{"error": code}` body and `X-Tuf-Proxy-Reason` header of an error response, which must agree. */
function reasonOf(response: Fetched): string {
  const code = (JSON.parse(response.text) as { error?: unknown }).error
  assert.equal(typeof code, 'string', `an error body names a code: ${response.text}`)
  assert.equal(response.headers['x-tuf-proxy-reason'], code, 'the header and the body name the same reason')
  return String(code)
}

async function statusOf(proxy: ProxyProcess): Promise<StatusView> {
  const response = await request(`${proxy.url}/status`, { headers: { accept: 'application/json' } })
  return (await response.body.json()) as StatusView
}

/** Sum of a counter over every label set matching `labels`. */
async function metricSum(proxy: ProxyProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function downloaded(result: PipResult, file: DistFile): Buffer {
  assert.equal(result.status, 0, `pip failed:\n${result.stderr}`)
  assert.deepEqual(result.files, [file.filename])
  return readFileSync(join(result.dest, file.filename))
}

/** The proxy's recent refusals, for failure messages. */
function refusals(proxy: ProxyProcess | undefined): string {
  const lines = proxy?.logs.filter((line) => line.event === 'request' && Number(line['status']) >= 400) ?? []
  return JSON.stringify(lines.slice(-6).map((line) => `${String(line['status'])} ${String(line['path'])} ${String(line['reason'])}`))
}

function assertAccepted(verdict: TufVerdict, bytes: Uint8Array, who: string, proxy?: ProxyProcess): void {
  assert.ok(verdict.accepted, `${who} should accept: ${verdict.accepted ? '' : verdict.error}; proxy refusals: ${refusals(proxy)}`)
  assert.ok(verdict.bytes.equals(bytes), `${who} got other bytes than expected`)
}

/** Polls (no fixed sleep) until `check` holds, nudging the proxy so it refreshes its TUF metadata. */
async function until(proxy: ProxyProcess, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + POLL_DEADLINE_MS
  for (;;) {
    await get(`${proxy.url}/tuf/metadata/timestamp.json`).catch(() => undefined)
    await get(`${proxy.url}/simple/foobar/`).catch(() => undefined)
    if (await check()) return
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; status: ${JSON.stringify(await statusOf(proxy).catch(() => undefined))}; recent logs: ${JSON.stringify(proxy.logs.slice(-15))}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function roleVersion(status: StatusView, role: string): number | undefined {
  return status.trust.roles.find((entry) => entry.name === role)?.version
}

describe('verifying mode: the canonical PyPI-with-TUF scenario (claimed, recently-claimed, unclaimed)', () => {
  const pip = requirePip()
  const sim = new RepositorySimulator({ consistentSnapshot: true })
  const claimedKey = generateKey()
  const recentlyClaimedKey = generateKey()
  const unclaimedKey = generateKey()
  const attackerKey = generateKey()
  const wheel01 = wheelFile('FooBar', '0.1')
  const sdist01 = sdistFile('FooBar', '0.1')
  const evil02 = wheelFile('FooBar', '0.2', 'import os  # attacker payload\n')
  const wheel03 = wheelFile('FooBar', '0.3')
  const evil04 = wheelFile('FooBar', '0.4', 'import os  # attacker payload\n')
  const wheel05 = wheelFile('FooBar', '0.5')
  const evil06 = wheelFile('FooBar', '0.6', 'import os  # attacker payload\n')
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-canonical-'))
  const rootFile = join(dir, 'root.json')
  let upstream: TufUpstream
  let proxy: ProxyProcess
  /** a tuf-js client that follows the whole story straight from the repository (the control) */
  let direct: TufClient
  let page01: { path: string; bytes: Buffer }
  let page05: { path: string; bytes: Buffer }

  const proxyArgs = (upstreamTimeoutSeconds = 2) => [
    '--upstream', upstream.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', upstream.metadataUrl, '--tuf-targets-url', upstream.targetsUrl,
    '--tuf-layout', 'paths', '--tuf-refresh', '1', '--index-ttl', '0', '--tuf-max-timestamp-bytes', String(MAX_TIMESTAMP_BYTES), '--upstream-timeout', String(upstreamTimeoutSeconds),
  ]
  const viaProxy = (path: string, target: ProxyProcess = proxy) => fetchTargetOnce({ metadataBaseUrl: `${target.url}/tuf/metadata/`, targetBaseUrl: `${target.url}/tuf/targets/`, trustedRoot: sim.trustedRoot() }, path)
  const directOnce = (path: string, fetchTimeoutMs?: number) => fetchTargetOnce({ metadataBaseUrl: upstream.metadataUrl, targetBaseUrl: upstream.targetsUrl, trustedRoot: sim.trustedRoot(), ...(fetchTimeoutMs ? { fetchTimeoutMs } : {}) }, path)
  const pipGet = (requirement: string) => pipDownload(`${proxy.url}/simple/`, requirement)
  const waitForRole = (role: string, version: number) =>
    until(proxy, `${role} version ${version}`, async () => (roleVersion(await statusOf(proxy), role) ?? 0) >= version)
  const waitForDrop = async (reason: string, since: number) => {
    await until(proxy, `a drop with reason ${reason}`, async () => (await metricSum(proxy, 'tuf_proxy_drops_total', { reason })) > since)
  }
  /** Starts a proxy with an empty cache against the repository as it is now: nothing verified to fall back on. */
  const coldProxy = async (upstreamTimeoutSeconds?: number) => ProxyProcess.start(proxyArgs(upstreamTimeoutSeconds))

  /**
   * The drop counter and /status tell the same story: every drop /status lists since `sinceMs`
   * is counted under its reason (the ring in /status is short, so only while it did not wrap).
   */
  async function assertCountersAgree(sinceMs: number, before: Map<string, number>): Promise<void> {
    const status = await statusOf(proxy)
    const recent = status.drops.filter((drop) => drop.atMs >= sinceMs)
    const reasons = new Set(recent.map((drop) => drop.reason))
    for (const reason of reasons) {
      const counted = (await metricSum(proxy, 'tuf_proxy_drops_total', { reason })) - (before.get(reason) ?? 0)
      const listed = recent.filter((drop) => drop.reason === reason).length
      if (status.drops.length < 50) assert.ok(counted >= listed, `${reason}: the metric moved by ${counted}, /status lists ${listed}`)
      assert.ok(counted >= 1, `${reason}: listed in /status but not counted`)
    }
  }
  async function dropCounts(): Promise<Map<string, number>> {
    const text = await (await fetch(`${proxy.url}/metrics`)).text()
    const counts = new Map<string, number>()
    for (const match of text.matchAll(/^tuf_proxy_drops_total\{reason="([^"]+)"\} (\d+)$/gm)) counts.set(match[1] ?? '', Number(match[2]))
    return counts
  }
  const totalDrops = async () => [...(await dropCounts()).values()].reduce((sum, n) => sum + n, 0)

  before(async () => {
    if (pip.skip) return
    upstream = await TufUpstream.start(sim)
    // Priority order is list order (TUF 5.6.7.2): claimed first and terminating for what it claims.
    sim.addDelegation('targets', { name: 'claimed', terminating: true, paths: ['simple/bazqux/*', 'packages/*/B/BazQux/*'], keys: [claimedKey] })
    sim.addDelegation('targets', { name: 'recently-claimed', paths: ANY_PROJECT, keys: [recentlyClaimedKey] })
    sim.addDelegation('targets', { name: 'unclaimed', paths: ANY_PROJECT, keys: [unclaimedKey] })
    page01 = upstream.publishProject('unclaimed', 'FooBar', [wheel01, sdist01])
    upstream.publish()
    writeFileSync(rootFile, sim.trustedRoot())
    direct = new TufClient({ metadataBaseUrl: upstream.metadataUrl, targetBaseUrl: upstream.targetsUrl, trustedRoot: sim.trustedRoot() })
    proxy = await ProxyProcess.start(proxyArgs())
  })
  after(async () => {
    await proxy?.dispose()
    direct?.dispose()
    await upstream?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('step 1: FooBar 0.1 in unclaimed, honest: pip and tuf-js get 0.1 through the proxy; the second download is a cache hit', pip, async () => {
    await waitForRole('timestamp', sim.signed('timestamp').version)
    const status = await statusOf(proxy)
    assert.equal(status.mode, 'tuf')
    const page = await get(`${proxy.url}/simple/foobar/`)
    assert.equal(page.status, 200)
    assert.ok(page.text.includes(`files/foobar/${wheel01.filename}`), 'links point at the proxy')
    assert.ok(!page.text.includes(upstream.url), 'no link leads past the proxy')
    const first = await pipGet('foobar==0.1')
    assert.ok(downloaded(first, wheel01).equals(wheel01.bytes))
    const wheelUrls = upstream.targetUrlPaths(wheel01.path)
    const hits = () => wheelUrls.reduce((sum, path) => sum + upstream.server.hits(path), 0)
    assert.equal(hits(), 1, 'the wheel came from the upstream once')
    const hitsBefore = await metricSum(proxy, 'tuf_proxy_cache_total', { kind: 'file', result: 'HIT' })
    assert.ok(downloaded(await pipGet('foobar==0.1'), wheel01).equals(wheel01.bytes))
    assert.equal(hits(), 1, 'the second download did not reach the upstream')
    assert.equal(await metricSum(proxy, 'tuf_proxy_cache_total', { kind: 'file', result: 'HIT' }), hitsBefore + 1, 'and was counted as a cache hit')
    assert.ok(blobDigests(proxy.cacheDir).includes(wheel01.sha256), 'cached under its verified digest')

    // A TUF client behind the proxy needs every role the verified snapshot lists, whether or not a
    // page request happened to walk it since the proxy's last refresh: so wait for a refresh that
    // nothing but /tuf/metadata/timestamp.json triggered, then ask for each role at once.
    const lastRefresh = (await statusOf(proxy)).trust.lastRefresh
    const deadline = Date.now() + POLL_DEADLINE_MS
    while ((await statusOf(proxy)).trust.lastRefresh === lastRefresh) {
      assert.ok(Date.now() < deadline, 'the proxy refreshes at most every --tuf-refresh seconds, and at least then when asked')
      await get(`${proxy.url}/tuf/metadata/timestamp.json`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    for (const role of ['snapshot', 'targets', 'claimed', 'recently-claimed', 'unclaimed']) {
      const name = `${sim.signed(role).version}.${role}.json`
      const served = await get(`${proxy.url}/tuf/metadata/${name}`)
      assert.equal(served.status, 200, `/tuf/metadata/${name}: ${served.text}`)
      assert.ok(served.body.equals(sim.currentBytes(role)), `${name} is byte-identical to the repository's`)
    }

    // TUF 5.7: tuf-js through /tuf/ agrees, and so does the repository itself.
    assertAccepted(await viaProxy(page01.path), page01.bytes, 'tuf-js via the proxy (page)', proxy)
    assertAccepted(await viaProxy(wheel01.path), wheel01.bytes, 'tuf-js via the proxy (wheel)', proxy)
    assertAccepted(await direct.fetchTarget(wheel01.path), wheel01.bytes, 'tuf-js at the repository')
    assert.equal(await totalDrops(), 0, 'an honest repository causes no drop')
  })

  test('step 2: an attacker with the online keys re-signs a tampered 0.2 under unclaimed: TUF cannot tell, the proxy serves it', pip, async () => {
    // The limit the README states for verifying mode: whoever holds the online keys (timestamp,
    // snapshot, unclaimed) can publish for unclaimed projects. PEP 458 accepts this; PEP 480's
    // claimed role is the remedy (step 5). This test pins the limit down so it is never oversold.
    const dropsBefore = await totalDrops()
    upstream.publishProject('unclaimed', 'FooBar', [wheel01, sdist01, evil02])
    upstream.publish()
    await waitForRole('timestamp', sim.signed('timestamp').version)
    assert.ok(downloaded(await pipGet('foobar==0.2'), evil02).equals(evil02.bytes), 'the attacker-signed 0.2 is served')
    assertAccepted(await viaProxy(evil02.path), evil02.bytes, 'tuf-js via the proxy', proxy)
    assertAccepted(await direct.fetchTarget(evil02.path), evil02.bytes, 'tuf-js at the repository')
    assert.equal(await totalDrops(), dropsBefore, 'nothing looked wrong to the proxy')
  })

  test('step 3: a mirror/CDN without keys swaps the bytes of the page and of a file: both dropped (502), pip never gets tampered bytes nor the older state\'s page, nothing tampered is cached', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    // The index operators remove the malicious 0.2 (a new page, signed with unclaimed's key) …
    delete sim.targetsOf('unclaimed')[evil02.path]
    const page03 = upstream.publishProject('unclaimed', 'FooBar', [wheel01, sdist01], '0.2 removed')
    const newPage = page03.bytes
    upstream.publish()
    // … so the page must be fetched again, and a CDN node in between serves both the new page and
    // the never-fetched sdist with a byte flipped (it holds no key, so it cannot re-sign).
    upstream.tamperTarget(page03.path)
    upstream.tamperTarget(sdist01.path)
    await waitForRole('timestamp', sim.signed('timestamp').version)
    await until(proxy, 'the page drop', async () => (await statusOf(proxy)).drops.some((drop) => drop.atMs >= sinceMs && drop.what === 'page'))

    // The state in force (0.2 removed) vouches only for the new page, whose bytes are swapped: pip
    // gets no page, as a TUF client gets none; the page verified in step 2 (which still lists the
    // removed 0.2) no longer answers for the newer state.
    assert.notEqual((await pipGet('foobar==0.1')).status, 0, 'pip gets no page while its only verified bytes are swapped')
    // The file: not relayed, a 502 naming the reason; pip fails (and would have failed on #sha256= anyway).
    const sdistViaPip = await pipDownload(`${proxy.url}/simple/`, 'foobar==0.1', ['--no-binary', 'foobar'])
    assert.notEqual(sdistViaPip.status, 0, 'pip cannot get the tampered sdist')
    assert.deepEqual(sdistViaPip.files, [])
    const file = await get(`${proxy.url}/files/foobar/${sdist01.filename}`)
    assert.equal(file.status, 502)
    assert.ok(['hash_mismatch', 'length_or_hash_mismatch'].includes(reasonOf(file)), file.text)
    // The page: dropped, a 502 naming the reason; never the swapped bytes, nor the older state's page.
    const page = await get(`${proxy.url}/simple/foobar/`)
    assert.equal(page.status, 502, page.text)
    assert.ok(['hash_mismatch', 'length_or_hash_mismatch'].includes(reasonOf(page)), page.text)
    const status = await statusOf(proxy)
    const newDrops = status.drops.filter((drop) => drop.atMs >= sinceMs)
    assert.ok(newDrops.some((drop) => drop.what === 'page' && ['hash_mismatch', 'length_or_hash_mismatch'].includes(drop.reason)), JSON.stringify(newDrops))
    // The sdist is refused at its page (the only verified listing of it is the swapped page), so
    // its swapped bytes are not even fetched.
    await assertCountersAgree(sinceMs, before)
    const cached = blobDigests(proxy.cacheDir)
    for (const tampered of [flipLastByte(newPage), flipLastByte(sdist01.bytes)]) assert.ok(!cached.includes(sha256(tampered)), 'nothing cached under a tampered digest')
    assert.ok(!cached.includes(sha256(newPage)) && !cached.includes(sdist01.sha256), 'and nothing under the digests the tampered bytes claimed to have')
    // tuf-js agrees: the current page and the sdist cannot be verified, through the proxy or not.
    for (const verdict of [await viaProxy(page03.path), await viaProxy(sdist01.path), await direct.fetchTarget(page03.path), await direct.fetchTarget(sdist01.path)]) {
      assert.equal(verdict.accepted, false, 'tuf-js refuses the swapped bytes')
    }
    assertAccepted(await viaProxy(wheel01.path), wheel01.bytes, 'tuf-js via the proxy (untouched wheel)', proxy)

    // The CDN heals: the new page is verified and served, 0.2 is gone.
    upstream.untamperTarget(page03.path)
    upstream.untamperTarget(sdist01.path)
    await until(proxy, 'the healed page', async () => !(await get(`${proxy.url}/simple/foobar/`)).text.includes(evil02.filename))
    assertAccepted(await viaProxy(page03.path), newPage, 'tuf-js via the proxy after healing', proxy)
    assert.notEqual((await pipGet('foobar==0.2')).status, 0, '0.2 is no longer offered')
  })

  test('step 4a: FooBar moves to recently-claimed (online key): honest 0.3 is served', pip, async () => {
    const page = upstream.publishProject('recently-claimed', 'FooBar', [wheel01, sdist01, wheel03])
    upstream.publish()
    await waitForRole('timestamp', sim.signed('timestamp').version)
    assert.ok(downloaded(await pipGet('foobar'), wheel03).equals(wheel03.bytes), 'latest is 0.3')
    assertAccepted(await viaProxy(page.path), page.bytes, 'tuf-js via the proxy (page)', proxy)
    assertAccepted(await viaProxy(wheel03.path), wheel03.bytes, 'tuf-js via the proxy (wheel)', proxy)
    assertAccepted(await direct.fetchTarget(page.path), page.bytes, 'tuf-js at the repository')
  })

  test('step 4b: an attacker with the online key adds a delegation under recently-claimed listing a tampered 0.4: TUF cannot tell, the proxy serves it', pip, async () => {
    // Same limit as step 2 (stated in the README): recently-claimed is signed with an online key.
    const dropsBefore = await totalDrops()
    sim.addDelegation('recently-claimed', { name: 'foobar-takeover', terminating: true, paths: FOOBAR_PATHS, keys: [attackerKey] })
    const ownPage = `simple/foobar/index.html`
    delete sim.targetsOf('recently-claimed')[ownPage]
    sim.invalidate('recently-claimed')
    const page = upstream.publishProject('foobar-takeover', 'FooBar', [wheel01, wheel03, evil04])
    upstream.publish()
    await waitForRole('timestamp', sim.signed('timestamp').version)
    assert.ok(downloaded(await pipGet('foobar'), evil04).equals(evil04.bytes), 'the attacker-delegated 0.4 is served as latest')
    assertAccepted(await viaProxy(page.path), page.bytes, 'tuf-js via the proxy (page)', proxy)
    assertAccepted(await viaProxy(evil04.path), evil04.bytes, 'tuf-js via the proxy (wheel)', proxy)
    assertAccepted(await direct.fetchTarget(evil04.path), evil04.bytes, 'tuf-js at the repository')
    assert.equal(await totalDrops(), dropsBefore)
  })

  test('step 5a: FooBar is claimed (offline targets and claimed keys): honest 0.5 is served, and the takeover delegation no longer reaches FooBar', pip, async () => {
    const claimed = sim.delegationsOf('targets')?.roles?.find((role) => role.name === 'claimed')
    assert.ok(claimed)
    claimed.paths = [...(claimed.paths ?? []), ...FOOBAR_PATHS]
    sim.invalidate('targets')
    page05 = upstream.publishProject('claimed', 'FooBar', [wheel01, sdist01, wheel03, wheel05])
    upstream.publish()
    await waitForRole('timestamp', sim.signed('timestamp').version)
    assert.ok(downloaded(await pipGet('foobar'), wheel05).equals(wheel05.bytes), 'latest is 0.5')
    assertAccepted(await viaProxy(page05.path), page05.bytes, 'tuf-js via the proxy (page)', proxy)
    assertAccepted(await viaProxy(wheel05.path), wheel05.bytes, 'tuf-js via the proxy (wheel)', proxy)
    assertAccepted(await direct.fetchTarget(wheel05.path), wheel05.bytes, 'tuf-js at the repository')
    // TUF 5.6.7.2.1: claimed is terminating, so the walk never reaches the takeover role again.
    assert.notEqual((await pipGet('foobar==0.4')).status, 0, '0.4 is not offered any more')
    const evil = await get(`${proxy.url}/files/foobar/${evil04.filename}`)
    assert.equal(evil.status, 404)
    assert.equal((await viaProxy(evil04.path)).accepted, false, 'tuf-js via the proxy finds no 0.4')
    assert.equal((await direct.fetchTarget(evil04.path)).accepted, false, 'nor does tuf-js at the repository')
  })

  test('step 5b: an attacker rewrites claimed with an online key (no offline key): dropped; pip keeps 0.5 and never sees 0.6', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    const signatureDropsBefore = (before.get('bad_signature') ?? 0) + (before.get('threshold_not_met') ?? 0)
    const verifiedTimestamp = (await statusOf(proxy)).trust.roles.find((role) => role.name === 'timestamp')?.version
    upstream.publishProject('claimed', 'FooBar', [wheel01, sdist01, wheel03, wheel05, evil06])
    sim.signWith('claimed', [unclaimedKey])
    upstream.publish()
    await until(proxy, 'the claimed signature drop', async () => {
      const counts = await dropCounts()
      return (counts.get('bad_signature') ?? 0) + (counts.get('threshold_not_met') ?? 0) > signatureDropsBefore
    })
    assert.ok(downloaded(await pipGet('foobar'), wheel05).equals(wheel05.bytes), 'latest is still 0.5')
    const sixth = await pipGet('foobar==0.6')
    assert.notEqual(sixth.status, 0, 'pip never sees 0.6')
    assert.deepEqual(sixth.files, [])
    assert.notEqual((await get(`${proxy.url}/files/foobar/${evil06.filename}`)).status, 200)
    const drops = (await statusOf(proxy)).drops.filter((drop) => drop.atMs >= sinceMs)
    assert.ok(drops.some((drop) => drop.reason === 'bad_signature' || drop.reason === 'threshold_not_met'), JSON.stringify(drops))
    // One consistent state: the new timestamp and snapshot come only with a claimed that verifies,
    // so the proxy stays on the state it verified whole, and TUF clients behind it can verify it.
    const timestampNow = (await statusOf(proxy)).trust.roles.find((role) => role.name === 'timestamp')?.version
    assert.equal(timestampNow, verifiedTimestamp, 'the timestamp of the refused state is not adopted')
    await assertCountersAgree(sinceMs, before)
    assert.ok(!blobDigests(proxy.cacheDir).includes(evil06.sha256), '0.6 was never fetched into the cache')
    // tuf-js: 0.6 is refused through the proxy and at the repository; through the proxy it may
    // still get the page verified earlier, never the attacker's.
    assert.equal((await viaProxy(evil06.path)).accepted, false, 'tuf-js via the proxy refuses 0.6')
    assert.equal((await direct.fetchTarget(evil06.path)).accepted, false, 'tuf-js at the repository refuses 0.6')
    const page = await viaProxy(page05.path)
    assert.ok(!page.accepted || page.bytes.equals(page05.bytes), 'tuf-js via the proxy never gets the attacker page')

    // The index operators restore claimed with its offline key.
    delete sim.targetsOf('claimed')[evil06.path]
    upstream.publishProject('claimed', 'FooBar', [wheel01, sdist01, wheel03, wheel05])
    sim.signWith('claimed', [claimedKey])
    upstream.publish()
    await waitForRole('timestamp', sim.signed('timestamp').version)
    assertAccepted(await viaProxy(page05.path), page05.bytes, 'tuf-js via the proxy after the repair', proxy)
  })

  /** What every step-6 attack must leave intact on the running proxy: 0.5 for pip and for tuf-js. */
  async function assertStillServesVerified(): Promise<void> {
    assert.ok(downloaded(await pipGet('foobar'), wheel05).equals(wheel05.bytes), 'pip still gets the verified 0.5')
    assertAccepted(await viaProxy(page05.path), page05.bytes, 'tuf-js via the proxy (the verified page)', proxy)
  }

  /** A proxy with nothing verified yet must refuse, naming the reason (status and body). */
  async function assertColdProxyRefuses(reasons: readonly string[], statuses: readonly number[], upstreamTimeoutSeconds?: number): Promise<void> {
    const cold = await coldProxy(upstreamTimeoutSeconds)
    try {
      const page = await get(`${cold.url}/simple/foobar/`)
      assert.ok(statuses.includes(page.status), `cold proxy answered ${page.status}: ${page.text}`)
      assert.ok(reasons.includes(reasonOf(page)), page.text)
      const result = await pipDownload(`${cold.url}/simple/`, 'foobar')
      assert.notEqual(result.status, 0, 'pip gets nothing from a proxy with nothing verified')
      assert.equal((await viaProxy(page05.path, cold)).accepted, false, 'tuf-js via a cold proxy refuses too')
    } finally {
      await cold.dispose()
    }
  }

  test('step 6a: rollback: an older timestamp is served: dropped (rollback), the newer verified state stays', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    const version = sim.signed('timestamp').version
    await direct.fetchTarget(page05.path)
    sim.rollback('timestamp', version - 1)
    await waitForDrop('rollback', before.get('rollback') ?? 0)
    await assertStillServesVerified()
    assert.equal(roleVersion(await statusOf(proxy), 'timestamp'), version, 'the trusted timestamp did not go back')
    // TUF 5.4.3.1: a client that saw the newer version refuses the older one (the attack is real).
    assert.equal((await direct.fetchTarget(page05.path)).accepted, false, 'tuf-js at the repository refuses the rollback')
    await assertCountersAgree(sinceMs, before)
    sim.heal()
  })

  test('step 6b: freeze: a new timestamp that expired a minute ago: dropped (expired); a cold proxy refuses with 502 expired', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    sim.expire('timestamp', Date.now() - 60_000).updateTimestamp()
    upstream.sync()
    await waitForDrop('expired', before.get('expired') ?? 0)
    await assertStillServesVerified()
    // TUF 5.4.4
    assert.equal((await directOnce(page05.path)).accepted, false, 'tuf-js at the repository refuses the expired timestamp')
    await assertCountersAgree(sinceMs, before)
    await assertColdProxyRefuses(['expired'], [502])
    sim.expire('timestamp', Date.now() + YEAR_MS).updateTimestamp()
    await waitForRole('timestamp', sim.signed('timestamp').version)
  })

  test('step 6c: mix-and-match: the targets.json of the previous snapshot beside the current snapshot: dropped (mix_and_match)', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    sim.addTarget('targets', 'notes/mix-and-match.txt', Buffer.from('a new top-level target\n'))
    upstream.publish()
    sim.serveOldSnapshotTargets()
    await waitForDrop('mix_and_match', before.get('mix_and_match') ?? 0)
    await assertStillServesVerified()
    // TUF 5.6.3: the version must be the one snapshot lists.
    assert.equal((await directOnce(page05.path)).accepted, false, 'tuf-js at the repository refuses the old targets')
    await assertCountersAgree(sinceMs, before)
    await assertColdProxyRefuses(['mix_and_match'], [502])
    sim.heal()
    await waitForRole('targets', sim.signed('targets').version)
  })

  test('step 6d: endless data: a timestamp.json over --tuf-max-timestamp-bytes: dropped (upstream_too_large)', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    sim.updateTimestamp()
    // Still valid JSON (padded with spaces) and correctly signed: only the size limit refuses it.
    upstream.inflate('/metadata/timestamp.json', 1024 * 1024)
    await waitForDrop('upstream_too_large', before.get('upstream_too_large') ?? 0)
    await assertStillServesVerified()
    assert.notEqual(roleVersion(await statusOf(proxy), 'timestamp'), sim.signed('timestamp').version, 'the oversized timestamp was not trusted')
    assert.equal((await directOnce(page05.path)).accepted, false, 'tuf-js at the repository refuses it too (its own 16 KiB limit)')
    await assertCountersAgree(sinceMs, before)
    await assertColdProxyRefuses(['upstream_too_large'], [502, 503])
    upstream.heal('/metadata/timestamp.json')
    await waitForRole('timestamp', sim.signed('timestamp').version)
  })

  test('step 6e: slow upstream: timestamp.json stalls mid-body: dropped (slow_retrieval), the verified state stays', pip, async () => {
    const sinceMs = Date.now()
    const before = await dropCounts()
    sim.updateTimestamp()
    upstream.stall('/metadata/timestamp.json')
    // TUF §5.2 slow retrieval: the body's rate floor ends the stall, and it is counted as a drop.
    await until(proxy, 'the slow_retrieval drop', async () =>
      (await metricSum(proxy, 'tuf_proxy_drops_total', { reason: 'slow_retrieval' })) > (before.get('slow_retrieval') ?? 0))
    await assertStillServesVerified()
    assert.equal((await directOnce(page05.path, 3000)).accepted, false, 'tuf-js at the repository gives up too')
    await assertCountersAgree(sinceMs, before)
    await assertColdProxyRefuses(['slow_retrieval', 'upstream_timeout'], [502, 503, 504], 1)
    upstream.heal('/metadata/timestamp.json')
    await waitForRole('timestamp', sim.signed('timestamp').version)
    await assertStillServesVerified()
  })
})
