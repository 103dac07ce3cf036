/**
 * The release policy end to end, through the real proxy process: a cooldown on both clocks with
 * exemptions and missing upload times, deny and allow-only, yanked files hidden. A refused file
 * is absent from every rendering of its page (pip's and a JSON client's views agree) and refused
 * on a direct download with 403 and the reason, so neither a lock file nor a direct URL gets
 * around it; each refusal is a log line, a metric by reason and a status entry.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { buildWheel } from '../helpers/wheels.js'

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json'
const DAY_MS = 86_400_000

function writeConfig(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tuf-proxy-policy-')), 'config.yaml')
  writeFileSync(path, yaml)
  return path
}

function listedFiles(json: string): string[] {
  return (JSON.parse(json) as { files: { filename: string }[] }).files.map((file) => file.filename)
}

function htmlLinks(html: string): string[] {
  return [...html.matchAll(/<a href="[^"]*"[^>]*>([^<]+)<\/a>/g)].map((match) => match[1] ?? '')
}

describe('release policy', () => {
  let upstream: FakeUpstream
  const oldRelease = buildWheel('fresh', '1.0')
  const newRelease = buildWheel('fresh', '2.0')
  const exemptNew = buildWheel('certifi', '2026.1')
  const noTime = buildWheel('notime', '1.0')
  const evil = buildWheel('evil-pkg', '1.0')
  const yanked = buildWheel('fresh', '1.5')
  // Real time: the proxy reads its own clock, so upload times are set relative to now.
  const nowMs = Date.now()
  const iso = (ms: number) => new Date(ms).toISOString()

  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
    upstream.addProject('fresh', [
      { filename: oldRelease.filename, bytes: oldRelease.bytes, metadata: oldRelease.metadata, uploadTime: iso(nowMs - 10 * DAY_MS) },
      { filename: yanked.filename, bytes: yanked.bytes, yanked: 'broken', uploadTime: iso(nowMs - 9 * DAY_MS) },
      { filename: newRelease.filename, bytes: newRelease.bytes, metadata: newRelease.metadata, uploadTime: iso(nowMs - 3_600_000) },
    ])
    upstream.addProject('certifi', [{ filename: exemptNew.filename, bytes: exemptNew.bytes, uploadTime: iso(nowMs - 60_000) }])
    upstream.addProject('notime', [{ filename: noTime.filename, bytes: noTime.bytes }])
    upstream.addProject('evil-pkg', [{ filename: evil.filename, bytes: evil.bytes, uploadTime: iso(nowMs - 100 * DAY_MS) }])
  })
  after(() => upstream.stop())

  async function proxyWith(policy: string): Promise<ProxyProcess> {
    return ProxyProcess.start(['--upstream', upstream.simpleUrl, '--config', writeConfig(`policy:\n${policy}`)])
  }

  test('cooldown on upload-time: hidden from pip, JSON and HTML alike; a direct download is 403 too_new with Retry-After and the time', requirePip(), async (t) => {
    const proxy = await proxyWith('  min-release-age: 3d\n  exempt: [certifi]\n')
    t.after(() => proxy.dispose())
    const pip = await pipDownload(`${proxy.url}/simple/`, 'fresh')
    assert.equal(pip.status, 0, pip.stderr)
    assert.deepEqual(pip.files, [oldRelease.filename], 'pip picks 1.0: 2.0 is in its cooldown')
    const json = await get(`${proxy.url}/simple/fresh/`, { accept: JSON_ACCEPT })
    assert.deepEqual(listedFiles(json.text), [oldRelease.filename, yanked.filename])
    const html = await get(`${proxy.url}/simple/fresh/`, { accept: 'text/html' })
    assert.deepEqual(htmlLinks(html.text), [oldRelease.filename, yanked.filename])

    for (const name of [newRelease.filename, `${newRelease.filename}.metadata`]) {
      const direct = await get(`${proxy.url}/files/fresh/${name}`)
      assert.equal(direct.status, 403, name)
      assert.equal(direct.headers['x-tuf-proxy-reason'], 'too_new')
      const body = JSON.parse(direct.text) as { available_at: string }
      assert.equal(body.available_at, iso(Date.parse(iso(nowMs - 3_600_000)) + 3 * DAY_MS))
      const retryAfter = Number(direct.headers['retry-after'])
      assert.ok(retryAfter > 2 * 86_400 && retryAfter <= 3 * 86_400, `Retry-After ${retryAfter}`)
    }
    assert.equal(upstream.hits(`/files/${newRelease.filename}`), 0, 'a refused file is never fetched')
    // Upload times come from JSON: the proxy asks the upstream for JSON whatever the client asked.
    const pageRequests = upstream.log.filter((entry) => entry.path === '/simple/fresh/')
    assert.ok(pageRequests.length > 0 && pageRequests.every((entry) => entry.accept?.startsWith('application/vnd.pypi.simple.v1+json')))

    // Exempt: as new, but served.
    const exempt = await get(`${proxy.url}/files/certifi/${exemptNew.filename}`)
    assert.equal(exempt.status, 200)
    // Without an upload time under the upload-time clock: denied (the default).
    assert.deepEqual(listedFiles((await get(`${proxy.url}/simple/notime/`, { accept: JSON_ACCEPT })).text), [])
    const noTimeDirect = await get(`${proxy.url}/files/notime/${noTime.filename}`)
    assert.equal(noTimeDirect.status, 403)
    assert.equal(noTimeDirect.headers['x-tuf-proxy-reason'], 'no_upload_time')

    assert.ok((await proxy.metric('tuf_proxy_policy_refusals_total', { reason: 'too_new' })) >= 2)
    assert.ok((await proxy.metric('tuf_proxy_policy_refusals_total', { reason: 'no_upload_time' })) >= 1)
    assert.ok(proxy.events('policy_refusal').some((line) => line.reason === 'too_new' && line.file === newRelease.filename))
    const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as { policy: { refusals: { reason: string; file?: string }[] } }
    assert.ok(status.policy.refusals.some((refusal) => refusal.reason === 'too_new' && refusal.file === newRelease.filename))
  })

  test('missing-upload-time: allow serves files without one', async (t) => {
    const proxy = await proxyWith('  min-release-age: 3d\n  missing-upload-time: allow\n')
    t.after(() => proxy.dispose())
    assert.equal((await get(`${proxy.url}/files/notime/${noTime.filename}`)).status, 200)
  })

  test('the first-seen clock: an upstream cannot age a file by claiming an old upload time, and a restart does not reset it', async (t) => {
    const proxy = await proxyWith('  min-release-age: 1h\n  release-age-clock: first-seen\n')
    t.after(() => proxy.dispose())
    // evil-pkg claims an upload 100 days ago; this proxy sees it now.
    const page = await get(`${proxy.url}/simple/evil-pkg/`, { accept: JSON_ACCEPT })
    assert.deepEqual(listedFiles(page.text), [])
    const first = await get(`${proxy.url}/files/evil-pkg/${evil.filename}`)
    assert.equal(first.status, 403)
    assert.equal(first.headers['x-tuf-proxy-reason'], 'too_new')
    const availableAt = (JSON.parse(first.text) as { available_at: string }).available_at
    await proxy.stop()
    await proxy.restart()
    const again = await get(`${proxy.url}/files/evil-pkg/${evil.filename}`)
    assert.equal(again.status, 403)
    assert.equal((JSON.parse(again.text) as { available_at: string }).available_at, availableAt, 'first seen is remembered across the restart')
  })

  test('deny: a denied project is 404 with the reason and absent from /simple/; a denied version is hidden and 403', async (t) => {
    const proxy = await proxyWith('  deny: ["evil-*", "fresh==1.0"]\n')
    t.after(() => proxy.dispose())
    const asked = upstream.hits('/simple/evil-pkg/')
    const page = await get(`${proxy.url}/simple/evil-pkg/`)
    assert.equal(page.status, 404)
    assert.equal(page.headers['x-tuf-proxy-reason'], 'denied_by_policy')
    const file = await get(`${proxy.url}/files/evil-pkg/${evil.filename}`)
    assert.equal(file.status, 403)
    assert.equal(file.headers['x-tuf-proxy-reason'], 'denied_by_policy')
    const list = JSON.parse((await get(`${proxy.url}/simple/`, { accept: JSON_ACCEPT })).text) as { projects: { name: string }[] }
    assert.deepEqual(list.projects.map((project) => project.name).sort(), ['certifi', 'fresh', 'notime'])
    assert.deepEqual(listedFiles((await get(`${proxy.url}/simple/fresh/`, { accept: JSON_ACCEPT })).text), [yanked.filename, newRelease.filename])
    const version = await get(`${proxy.url}/files/fresh/${oldRelease.filename}`)
    assert.equal(version.status, 403)
    assert.equal(version.headers['x-tuf-proxy-reason'], 'denied_by_policy')
    assert.equal(upstream.hits('/simple/evil-pkg/'), asked, 'a denied project is not even asked for')
  })

  test('allow-only lists and serves only the allowed projects; yanked: hide hides yanked files', async (t) => {
    const proxy = await proxyWith('  allow-only: [fresh]\n  yanked: hide\n')
    t.after(() => proxy.dispose())
    const list = JSON.parse((await get(`${proxy.url}/simple/`, { accept: JSON_ACCEPT })).text) as { projects: { name: string }[] }
    assert.deepEqual(list.projects.map((project) => project.name), ['fresh'])
    const other = await get(`${proxy.url}/simple/certifi/`)
    assert.equal(other.status, 404)
    assert.equal(other.headers['x-tuf-proxy-reason'], 'denied_by_policy')
    assert.deepEqual(listedFiles((await get(`${proxy.url}/simple/fresh/`, { accept: JSON_ACCEPT })).text), [oldRelease.filename, newRelease.filename])
    const direct = await get(`${proxy.url}/files/fresh/${yanked.filename}`)
    assert.equal(direct.status, 403)
    assert.equal(direct.headers['x-tuf-proxy-reason'], 'yanked')
  })
})

