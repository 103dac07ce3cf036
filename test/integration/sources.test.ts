/**
 * Several sources against dependency confusion (PEP 470's "register a private package name
 * publicly … and infect all machines which execute an innocent pip install --extra-index-url"):
 * three real upstreams on 127.0.0.1, the real proxy process with a `sources:` config, and Debian's
 * pip. One source per project, never a merge; a private name is never sent to the public index;
 * with the private owner down, its cached copy or a failure, also after a restart.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { startTwoSources } from '../helpers/two-sources.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { buildWheel } from '../helpers/wheels.js'

/** Any request the public index saw that names the private project, in any spelling. */
function leaks(upstream: FakeUpstream): string[] {
  return upstream.log.map((entry) => entry.path).filter((path) => /acme[-_.]?utils/i.test(path))
}

function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-sources-'))
  const path = join(dir, 'config.yaml')
  writeFileSync(path, yaml)
  return path
}

describe('dependency confusion: internal, partner and public indexes', () => {
  let internal: FakeUpstream
  let partner: FakeUpstream
  let publicIndex: FakeUpstream
  const good = buildWheel('acme-utils', '1.0')
  const evil = buildWheel('acme-utils', '99.0', 'raise SystemExit("pwned")\n')
  const partnerLib = buildWheel('partner-lib', '2.0')
  const six = buildWheel('six', '1.16.0')
  let config: string

  before(async () => {
    internal = await new FakeUpstream().start()
    partner = await new FakeUpstream().start()
    publicIndex = await new FakeUpstream().start()
    internal.addProject('acme-utils', [{ filename: good.filename, bytes: good.bytes, metadata: good.metadata }])
    partner.addProject('partner-lib', [{ filename: partnerLib.filename, bytes: partnerLib.bytes }])
    // The attacker registered the private name publicly, with a higher version.
    publicIndex.addProject('acme-utils', [{ filename: evil.filename, bytes: evil.bytes, metadata: evil.metadata }])
    publicIndex.addProject('six', [{ filename: six.filename, bytes: six.bytes }])
    // The public index is listed first: the private sources are still asked first for any name.
    config = writeConfig(`sources:
  - name: pypi
    url: ${publicIndex.simpleUrl}
    public: true
  - name: internal
    url: ${internal.simpleUrl}
  - name: partner
    url: ${partner.simpleUrl}
`)
  })
  after(async () => {
    await Promise.all([internal.stop(), partner.stop(), publicIndex.stop()])
  })

  test('pip gets the private 1.0, never the public 99.0, also with the owner down and after a restart; the public index never hears the name', requirePip(), async (t) => {
    const proxy = await ProxyProcess.start(['--config', config])
    t.after(() => proxy.dispose())
    const index = `${proxy.url}/simple/`

    const first = await pipDownload(index, 'acme-utils')
    assert.equal(first.status, 0, first.stderr)
    assert.deepEqual(first.files, [good.filename])
    assert.equal(proxy.events('owner_recorded').find((line) => line.project === 'acme-utils')?.source, 'internal')

    // Other projects still come from where they are: a public one and one from the second private index.
    const fromPublic = await pipDownload(index, 'six')
    assert.equal(fromPublic.status, 0, fromPublic.stderr)
    assert.deepEqual(fromPublic.files, [six.filename])
    const fromPartner = await pipDownload(index, 'partner-lib')
    assert.equal(fromPartner.status, 0, fromPartner.stderr)
    assert.deepEqual(fromPartner.files, [partnerLib.filename])

    // The owner goes down: its cached copy, never a fall-through (fail closed).
    internal.offline()
    t.after(() => internal.offline(false))
    const ownerDown = await pipDownload(index, 'acme-utils')
    assert.ok(!ownerDown.files.includes(evil.filename), 'never the public 99.0')
    assert.deepEqual(ownerDown.files, [good.filename], ownerDown.stderr)

    // A restart forgets nothing: the ownership record on disk keeps the public index out.
    await proxy.stop()
    await proxy.restart()
    const afterRestart = await pipDownload(`${proxy.url}/simple/`, 'acme-utils')
    assert.ok(!afterRestart.files.includes(evil.filename), 'never the public 99.0 after a restart')
    assert.deepEqual(afterRestart.files, [good.filename], afterRestart.stderr)
    const page = await get(`${proxy.url}/simple/acme-utils/`, { accept: 'application/vnd.pypi.simple.v1+json' })
    assert.equal(page.status, 200)
    assert.deepEqual((JSON.parse(page.text) as { files: { filename: string }[] }).files.map((file) => file.filename), [good.filename])

    assert.deepEqual(leaks(publicIndex), [], 'the public index was never asked for acme-utils')
  })

  test('a private owner down with nothing cached: the request fails, and the public index is not asked', async (t) => {
    const cold = await ProxyProcess.start(['--config', config])
    t.after(() => cold.dispose())
    const before = leaks(publicIndex).length
    internal.offline()
    t.after(() => internal.offline(false))
    const page = await get(`${cold.url}/simple/acme-utils/`)
    assert.equal(page.status, 503)
    assert.equal(page.headers['x-tuf-proxy-reason'], 'upstream_unreachable')
    const file = await get(`${cold.url}/files/acme-utils/${evil.filename}`)
    assert.equal(file.status, 503)
    assert.equal(leaks(publicIndex).length, before, 'no request for the name reached the public index')
    assert.ok(cold.events('owner_unknown').some((line) => line.project === 'acme-utils' && line.source === 'internal'))
  })

  test('the merged /simple/ list is the union, each name once, and the collision is a log line, a metric and a status entry', async (t) => {
    const proxy = await ProxyProcess.start(['--config', config])
    t.after(() => proxy.dispose())
    for (const accept of ['application/vnd.pypi.simple.v1+json', 'text/html']) {
      const list = await get(`${proxy.url}/simple/`, { accept })
      assert.equal(list.status, 200)
      const names = accept === 'text/html' ? [...list.text.matchAll(/<a href="[^"]+">([^<]+)<\/a>/g)].map((match) => match[1]) : (JSON.parse(list.text) as { projects: { name: string }[] }).projects.map((project) => project.name)
      assert.deepEqual([...names].sort(), ['acme-utils', 'partner-lib', 'six'])
    }
    assert.deepEqual(
      proxy.events('source_collision').map((line) => [line.project, line.privateSource, line.publicSource]),
      [['acme-utils', 'internal', 'pypi']],
    )
    assert.equal(await proxy.metric('tuf_proxy_source_collisions_total', { source: 'pypi' }), 1)
    const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as { policy: { collisions: { project: string }[] } }
    assert.deepEqual(status.policy.collisions.map((collision) => collision.project), ['acme-utils'])
    // A page's first answer is a miss, the next a hit (from memory, the hot path).
    assert.equal((await get(`${proxy.url}/simple/six/`)).headers['x-cache'], 'MISS')
    assert.equal((await get(`${proxy.url}/simple/six/`)).headers['x-cache'], 'HIT')
    assert.deepEqual(leaks(publicIndex), [])
  })
})

describe('a name the public index had first, that a private index has later', () => {
  test('the private index takes it back: one "not here" from it does not hand the name to the public index for good', async (t) => {
    const late = { filename: 'acme_late-1.0-py3-none-any.whl', bytes: Buffer.from('private acme-late 1.0') }
    const evilLate = { filename: 'acme_late-99.0-py3-none-any.whl', bytes: Buffer.from('public acme-late 99.0') }
    const sources = await startTwoSources('tuf-proxy-late-owner-', ({ publicIndex }) => {
      publicIndex.addProject('acme-late', [evilLate])
      return ['--index-ttl', '0']
    })
    t.after(() => sources.dispose())
    const first = await get(`${sources.proxy.url}/simple/acme-late/`)
    assert.equal(first.status, 200)
    assert.match(first.text, /acme_late-99\.0/, 'while only the public index has it, it is served from there')
    // The private index publishes the name (or comes back from a rebuild that answered 404).
    sources.internal.addProject('acme-late', [late])
    const second = await get(`${sources.proxy.url}/simple/acme-late/`)
    assert.equal(second.status, 200)
    assert.match(second.text, /acme_late-1\.0/, 'the private project is served')
    assert.doesNotMatch(second.text, /acme_late-99\.0/, 'and the public one no longer')
    const file = await get(`${sources.proxy.url}/files/acme-late/${evilLate.filename}`)
    assert.equal(file.status, 404, 'the public file is not served for a name the private index owns')
    assert.ok(sources.proxy.events('owner_changed').some((line) => line.project === 'acme-late' && line.from === 'pypi' && line.to === 'internal'))
  })
})
