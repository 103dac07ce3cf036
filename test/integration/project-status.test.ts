/**
 * PEP 792 project status through the real proxy process: the marker is passed through in both
 * formats, whatever format the upstream used; a project its index marks `quarantined` has none of
 * its files served, not even those already in the cache.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream, type Project } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json'

describe('PEP 792 project status', () => {
  let upstream: FakeUpstream
  let victim: Project
  const wheel = buildWheel('victim', '1.0')
  const kept = buildWheel('oldie', '1.0')

  before(async () => {
    upstream = await new FakeUpstream().start()
    victim = upstream.addProject('victim', [{ filename: wheel.filename, bytes: wheel.bytes }])
    upstream.addProject('oldie', [{ filename: kept.filename, bytes: kept.bytes }]).status = { status: 'archived', reason: 'unmaintained' }
  })
  after(() => upstream.stop())

  for (const format of ['json', 'html'] as const) {
    test(`from a ${format} upstream: the status is passed through in both formats; quarantined means no file, cached or not`, async (t) => {
      upstream.format = format
      delete victim.status
      // Revalidated on every request, so the quarantine is seen at once.
      const proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl, '--index-ttl', '0'])
      t.after(() => proxy.dispose())

      const archivedJson = JSON.parse((await get(`${proxy.url}/simple/oldie/`, { accept: JSON_ACCEPT })).text) as { 'project-status'?: unknown; files: unknown[] }
      assert.deepEqual(archivedJson['project-status'], { status: 'archived', reason: 'unmaintained' })
      assert.equal(archivedJson.files.length, 1, 'an archived project is still served')
      const archivedHtml = (await get(`${proxy.url}/simple/oldie/`, { accept: 'text/html' })).text
      assert.match(archivedHtml, /<meta name="pypi:project-status" content="archived">/)
      assert.match(archivedHtml, /<meta name="pypi:project-status-reason" content="unmaintained">/)
      assert.equal((await get(`${proxy.url}/files/oldie/${kept.filename}`)).status, 200)

      assert.equal((await get(`${proxy.url}/files/victim/${wheel.filename}`)).status, 200)
      const fetched = upstream.hits(`/files/${wheel.filename}`)
      // The index quarantines the project but (a lagging or hostile replica) still lists the file.
      victim.status = { status: 'quarantined', reason: 'malware' }
      const page = JSON.parse((await get(`${proxy.url}/simple/victim/`, { accept: JSON_ACCEPT })).text) as { 'project-status'?: unknown; files: unknown[] }
      assert.deepEqual(page['project-status'], { status: 'quarantined', reason: 'malware' })
      assert.deepEqual(page.files, [])
      assert.match((await get(`${proxy.url}/simple/victim/`, { accept: 'text/html' })).text, /<meta name="pypi:project-status" content="quarantined">/)
      const file = await get(`${proxy.url}/files/victim/${wheel.filename}`)
      assert.equal(file.status, 404)
      assert.equal(file.headers['x-tuf-proxy-reason'], 'quarantined')
      assert.equal(upstream.hits(`/files/${wheel.filename}`), fetched)
      assert.ok(proxy.events('project_quarantined').length > 0)
    })
  }

  test('with sources and a policy, a quarantined project is refused the same way', async (t) => {
    upstream.format = 'json'
    victim.status = { status: 'quarantined' }
    const config = join(mkdtempSync(join(tmpdir(), 'tuf-proxy-status-')), 'config.yaml')
    writeFileSync(config, `sources:\n  - name: pypi\n    url: ${upstream.simpleUrl}\n    public: true\npolicy:\n  yanked: hide\n`)
    const proxy = await ProxyProcess.start(['--config', config])
    t.after(() => proxy.dispose())
    const page = JSON.parse((await get(`${proxy.url}/simple/victim/`, { accept: JSON_ACCEPT })).text) as { 'project-status'?: unknown; files: unknown[] }
    assert.deepEqual(page['project-status'], { status: 'quarantined' })
    assert.deepEqual(page.files, [])
    const file = await get(`${proxy.url}/files/victim/${wheel.filename}`)
    assert.equal(file.status, 404)
    assert.equal(file.headers['x-tuf-proxy-reason'], 'quarantined')
  })
})
