/**
 * The admin API with several sources: the real proxy process with a `sources:` config (a private
 * index and a public one on 127.0.0.1) and --admin-token-file. The listing names each project's
 * owning source and its pages in the source's namespace; a refresh asks the owner alone; a purge
 * clears the project's pages and files from disk and memory but keeps its owner (so a public index
 * still cannot claim a private name), and `?forget-owner=1` resets ownership, which is how an
 * operator moves a project after a dependency-confusion collision.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests, callJson, get } from '../helpers/http-client.js'
import { startTwoSources, type TwoSources } from '../helpers/two-sources.js'
import { buildWheel } from '../helpers/wheels.js'

const TOKEN = '9c1e5a7b3d2f4e6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e'
const bearer = { authorization: `Bearer ${TOKEN}` }

/** The admin API with the token unless told otherwise. */
function call(method: string, url: string, headers: Record<string, string> = bearer) {
  return callJson(method, url, headers)
}

interface ListedProject {
  readonly project: string
  readonly owner: string | null
  readonly pages: ReadonlyArray<{ readonly kind: string; readonly source: string | null; readonly serial: number | null }>
  readonly files: ReadonlyArray<{ readonly filename: string; readonly sha256: string }>
}

/** Any request the public index saw that names the private project, in any spelling. */
function leaks(upstream: FakeUpstream): string[] {
  return upstream.log.map((entry) => entry.path).filter((path) => /acme[-_.]?utils/i.test(path))
}

describe('admin API with sources: every source listed with its owner, refresh from the owner, purge across sources', () => {
  let sources: TwoSources
  const good = buildWheel('acme-utils', '1.0')
  const goodNext = buildWheel('acme-utils', '1.1')
  const evil = buildWheel('acme-utils', '99.0')
  const six = buildWheel('six', '1.16.0')
  const tools = buildWheel('acme-tools', '0.1')
  const squatted = buildWheel('acme-tools', '66.6')

  before(async () => {
    sources = await startTwoSources('tuf-proxy-admin-sources-', ({ internal, publicIndex, dir }) => {
      internal.addProject('acme-utils', [{ filename: good.filename, bytes: good.bytes, metadata: good.metadata }], 3)
      publicIndex.addProject('acme-utils', [{ filename: evil.filename, bytes: evil.bytes }])
      publicIndex.addProject('six', [{ filename: six.filename, bytes: six.bytes }])
      // A private name registered publicly before the internal index published it.
      publicIndex.addProject('acme-tools', [{ filename: squatted.filename, bytes: squatted.bytes }])
      const tokenFile = join(dir, 'token')
      writeFileSync(tokenFile, TOKEN)
      chmodSync(tokenFile, 0o600)
      return ['--admin-token-file', tokenFile]
    })
  })
  after(() => sources?.dispose())

  test('GET /-/cache lists the projects of every source with their owner and their pages in the source\'s namespace', async () => {
    assert.equal((await get(`${sources.proxy.url}/simple/acme-utils/`)).status, 200)
    // A HEAD on a cold file answers once the file is verified and committed (core-proxy.test.ts).
    assert.equal((await call('HEAD', `${sources.proxy.url}/files/acme-utils/${good.filename}`, {})).status, 200)
    assert.equal((await get(`${sources.proxy.url}/simple/six/`)).status, 200)
    assert.equal((await call('HEAD', `${sources.proxy.url}/files/six/${six.filename}`, {})).status, 200)
    const listing = await call('GET', `${sources.proxy.url}/-/cache`)
    assert.equal(listing.status, 200, listing.text)
    const projects = listing.json.projects as ListedProject[]
    const summary = projects.map((entry) => [entry.project, entry.owner, entry.pages.map((page) => `${page.kind}/${page.source}`), entry.files.map((file) => file.filename)])
    assert.deepEqual(summary, [
      ['acme-utils', 'internal', ['source-internal/internal'], [good.filename]],
      ['six', 'pypi', ['source-pypi/pypi'], [six.filename]],
    ])
    assert.deepEqual(leaks(sources.publicIndex), [])
  })

  test('POST /-/refresh asks the owner alone: unchanged, then updated with its new serial', async () => {
    const page = '/simple/acme-utils/'
    const internalHits = sources.internal.hits(page)
    const unchanged = await call('POST', `${sources.proxy.url}/-/refresh/ACME_utils`)
    assert.equal(unchanged.status, 200, unchanged.text)
    assert.deepEqual([unchanged.json.project, unchanged.json.source, unchanged.json.outcome, unchanged.json.serial], ['acme-utils', 'internal', 'unchanged', 3])
    assert.equal(sources.internal.hits(page), internalHits + 1, 'the owner was asked, inside the TTL')
    sources.internal.addProject('acme-utils', [{ filename: good.filename, bytes: good.bytes, metadata: good.metadata }, { filename: goodNext.filename, bytes: goodNext.bytes }], 4)
    const updated = await call('POST', `${sources.proxy.url}/-/refresh/acme-utils`)
    assert.deepEqual([updated.json.source, updated.json.outcome, updated.json.serial, updated.json.previousSerial], ['internal', 'updated', 4, 3])
    const fresh = await get(`${sources.proxy.url}${page}`)
    assert.equal(fresh.headers['x-cache'], 'HIT')
    assert.ok(fresh.text.includes(goodNext.filename), 'the next page request shows the new release')
    assert.ok(sources.proxy.events('admin_refresh').every((line) => line.source === 'internal'))
    const unknown = await call('POST', `${sources.proxy.url}/-/refresh/nobody-has-this`)
    assert.equal(unknown.status, 404, unknown.text)
    assert.deepEqual([unknown.json.source, unknown.json.error], [null, 'not_found'])
    assert.deepEqual(leaks(sources.publicIndex), [], 'the public index never heard the private name')
  })

  test('DELETE /-/cache/<project> purges its pages and files from disk and memory and keeps its owner: the next request asks the owner only', async () => {
    const page = '/simple/acme-utils/'
    assert.ok(blobDigests(sources.proxy.cacheDir).includes(good.sha256))
    const purged = await call('DELETE', `${sources.proxy.url}/-/cache/acme-utils`)
    assert.equal(purged.status, 200, purged.text)
    assert.deepEqual(purged.json, { project: 'acme-utils', pages: 1, files: 1, bytes: purged.json.bytes }, 'its page and the wheel, the one file fetched')
    assert.ok(!blobDigests(sources.proxy.cacheDir).includes(good.sha256), 'the wheel is gone from disk')
    const listed = ((await call('GET', `${sources.proxy.url}/-/cache`)).json.projects as ListedProject[]).find((entry) => entry.project === 'acme-utils')
    assert.deepEqual([listed?.owner, listed?.pages, listed?.files], ['internal', [], []], 'the owner stays, nothing else')
    const internalHits = sources.internal.hits(page)
    const again = await get(`${sources.proxy.url}${page}`)
    assert.equal(again.status, 200)
    assert.equal(again.headers['x-cache'], 'MISS', 'the page was forgotten in memory too')
    assert.equal(sources.internal.hits(page), internalHits + 1)
    // The owner is kept: with it down and nothing cached, the request fails rather than fall through.
    assert.equal((await call('DELETE', `${sources.proxy.url}/-/cache/acme-utils`)).status, 200)
    sources.internal.offline()
    try {
      const down = await get(`${sources.proxy.url}${page}`)
      assert.equal(down.status, 503)
      assert.equal(down.headers['x-tuf-proxy-reason'], 'upstream_unreachable')
    } finally {
      sources.internal.offline(false)
    }
    assert.deepEqual(leaks(sources.publicIndex), [], 'a purge does not open a private name to the public index')
    const bad = await call('DELETE', `${sources.proxy.url}/-/cache/acme-utils?forget-owner=yes`)
    assert.equal(bad.status, 400, bad.text)
  })

  test('a name the public index claimed first moves to the private source that has it now; ?forget-owner=1 resets the record', async () => {
    const first = await get(`${sources.proxy.url}/simple/acme-tools/`)
    assert.ok(first.text.includes(squatted.filename), 'before the internal index had it, the public one owned it')
    sources.internal.addProject('acme-tools', [{ filename: tools.filename, bytes: tools.bytes }])
    assert.equal((await call('DELETE', `${sources.proxy.url}/-/cache/acme-tools`)).status, 200)
    // The private index is asked again before a public owner is trusted (router.ts #privateClaim).
    const taken = await get(`${sources.proxy.url}/simple/acme-tools/`)
    assert.ok(taken.text.includes(tools.filename) && !taken.text.includes(squatted.filename), 'the private source took the name back')
    await sources.proxy.waitForLog((line) => line.event === 'owner_changed' && line.project === 'acme-tools' && line.from === 'pypi' && line.to === 'internal')
    const reset = await call('DELETE', `${sources.proxy.url}/-/cache/acme-tools?forget-owner=1`)
    assert.equal(reset.status, 200, reset.text)
    assert.equal(reset.json.ownerForgotten, 'internal')
    await sources.proxy.waitForLog((line) => line.event === 'cache_purged' && line.project === 'acme-tools' && line.ownerForgotten === 'internal')
    const moved = await get(`${sources.proxy.url}/simple/acme-tools/`)
    assert.equal(moved.status, 200)
    assert.ok(moved.text.includes(tools.filename) && !moved.text.includes(squatted.filename), 'the sources were asked again in order: the private one owns it')
    await sources.proxy.waitForLog((line) => line.event === 'owner_recorded' && line.project === 'acme-tools' && line.source === 'internal')
    const listed = ((await call('GET', `${sources.proxy.url}/-/cache`)).json.projects as ListedProject[]).find((entry) => entry.project === 'acme-tools')
    assert.deepEqual([listed?.owner, listed?.pages.map((page) => page.kind)], ['internal', ['source-internal']], 'the public copy of the page went with the purge')
  })
})
