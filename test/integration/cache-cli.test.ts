/**
 * `tuf-proxy cache list|purge|verify` on a real cache directory filled by the real proxy process:
 * listing beside a running proxy (its downloads in progress untouched), verify finding a blob
 * whose bytes no longer match their address (exit 1), --repair removing it and the records that
 * point at it so the proxy fetches and verifies it again, purge, and usage errors. With `sources:`,
 * list and purge cover every source's records namespace, show the owner, and keep it unless
 * --forget-owner.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests, get } from '../helpers/http-client.js'
import { CLI_PATH, ProxyProcess } from '../helpers/proxy-process.js'
import { startTwoSources, type TwoSources } from '../helpers/two-sources.js'
import { buildWheel } from '../helpers/wheels.js'

function cacheCli(args: readonly string[]) {
  const result = spawnSync(process.execPath, [CLI_PATH, 'cache', ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' } })
  const lines = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, lines }
}

function blobPath(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'blobs', 'blobs', sha256.slice(0, 2), sha256)
}

function flipFirstByte(path: string): void {
  const bytes = readFileSync(path)
  bytes[0] = (bytes[0] ?? 0) ^ 0xff
  writeFileSync(path, bytes)
}

describe('tuf-proxy cache', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const wheel = buildWheel('cli-pkg', '1.0')
  const other = buildWheel('other-pkg', '1.0')
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('cli-pkg', [{ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata }], 4)
    upstream.addProject('other-pkg', [{ filename: other.filename, bytes: other.bytes }], 9)
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    for (const [project, file] of [['cli-pkg', wheel.filename], ['cli-pkg', `${wheel.filename}.metadata`], ['other-pkg', other.filename]] as const) {
      assert.equal((await get(`${proxy.url}/simple/${project}/`)).status, 200)
      // A HEAD on a cold file answers once it is verified and committed.
      const head = await request(`${proxy.url}/files/${project}/${file}`, { method: 'HEAD' })
      await head.body.dump()
      assert.equal(head.statusCode, 200)
    }
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('list beside the running proxy: one JSON line per project, and temp files (downloads in progress) left alone', () => {
    const partial = join(proxy.cacheDir, 'blobs', 'tmp', 'in-progress.part')
    writeFileSync(partial, 'a download being written')
    const listed = cacheCli(['list', '--cache-dir', proxy.cacheDir])
    assert.equal(listed.status, 0, listed.stderr)
    assert.deepEqual(listed.lines.map((line) => line.project), ['cli-pkg', 'other-pkg'])
    const [cli] = listed.lines
    const files = (cli?.files as Array<Record<string, unknown>>).map((file) => file.filename).sort()
    assert.deepEqual(files, [wheel.filename, `${wheel.filename}.metadata`])
    assert.equal((cli?.pages as Array<Record<string, unknown>>)[0]?.serial, 4)
    assert.ok(existsSync(partial), 'the listing swept no temp file')
  })

  test('list on a terminal is a table for people', (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('util-linux script(1) is not installed to give the command a terminal')
      return
    }
    const command = [process.execPath, CLI_PATH, 'cache', 'list', '--cache-dir', proxy.cacheDir].map((word) => `'${word}'`).join(' ')
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(result.status, 0, result.stderr)
    const lines = result.stdout.replace(/\r/g, '').split('\n')
    assert.match(lines[0] ?? '', /^PROJECT +PAGES +FILES +SIZE +LAST USED$/)
    assert.match(lines[1] ?? '', /^cli-pkg +1 +2 +\d+\.\d KiB +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.match(result.stdout, /^5 blobs, \d+\.\d KiB in all/m)
  })

  test('verify: all intact (exit 0); then damaged blobs are reported (exit 1) and, with --repair, removed with their records', async () => {
    const clean = cacheCli(['verify', '--cache-dir', proxy.cacheDir])
    assert.equal(clean.status, 0, clean.stderr)
    assert.deepEqual(clean.lines.at(-1), { checked: 5, damaged: 0, repaired: 0 })

    const pageSha256 = String(((cacheCli(['list', '--json', '--cache-dir', proxy.cacheDir]).lines[0]?.pages as Array<Record<string, unknown>>)[0]?.sha256))
    await proxy.stop()
    flipFirstByte(blobPath(proxy.cacheDir, wheel.sha256))
    flipFirstByte(blobPath(proxy.cacheDir, pageSha256))

    const found = cacheCli(['verify', '--cache-dir', proxy.cacheDir])
    assert.equal(found.status, 1, found.stderr)
    const damaged = found.lines.filter((line) => line.isIntact === false)
    assert.deepEqual(damaged.map((line) => line.sha256).sort(), [wheel.sha256, pageSha256].sort())
    assert.ok(damaged.every((line) => line.reason === 'digest_mismatch' && line.isRemoved === false && typeof line.actualSha256 === 'string'))
    assert.deepEqual(found.lines.at(-1), { checked: 5, damaged: 2, repaired: 0 })
    assert.ok(existsSync(blobPath(proxy.cacheDir, wheel.sha256)), 'without --repair nothing is removed')

    const repaired = cacheCli(['verify', '--repair', '--cache-dir', proxy.cacheDir])
    assert.equal(repaired.status, 1, 'damage was found, even if repaired')
    const removed = repaired.lines.filter((line) => line.isIntact === false)
    assert.ok(removed.every((line) => line.isRemoved === true))
    assert.equal(removed.find((line) => line.sha256 === pageSha256)?.recordsRemoved, 1, "the page's record went with its bytes")
    assert.ok(!blobDigests(proxy.cacheDir).includes(wheel.sha256))
    assert.ok(!blobDigests(proxy.cacheDir).includes(pageSha256))
    assert.equal(cacheCli(['verify', '--cache-dir', proxy.cacheDir]).status, 0)
    assert.deepEqual(cacheCli(['list', '--cache-dir', proxy.cacheDir]).lines.map((line) => line.project), ['other-pkg'])

    // The proxy fetches and verifies both again.
    const pageHits = upstream.hits('/simple/cli-pkg/')
    const fileHits = upstream.hits(`/files/${wheel.filename}`)
    await proxy.restart()
    const page = await get(`${proxy.url}/simple/cli-pkg/`)
    assert.equal(page.headers['x-cache'], 'MISS')
    const file = await get(`${proxy.url}/files/cli-pkg/${wheel.filename}`)
    assert.equal(file.headers['x-cache'], 'MISS')
    assert.ok(file.body.equals(wheel.bytes))
    assert.equal(upstream.hits('/simple/cli-pkg/'), pageHits + 1)
    assert.equal(upstream.hits(`/files/${wheel.filename}`), fileHits + 1)
  })

  test('purge PROJECT (any spelling) removes its page and files; other projects stay', () => {
    const purged = cacheCli(['purge', 'Other_Pkg', '--cache-dir', proxy.cacheDir])
    assert.equal(purged.status, 0, purged.stderr)
    assert.deepEqual(purged.lines, [{ project: 'other-pkg', pages: 1, files: 1, bytes: purged.lines[0]?.bytes }])
    assert.ok(Number(purged.lines[0]?.bytes) > other.bytes.length)
    assert.ok(!blobDigests(proxy.cacheDir).includes(other.sha256))
    assert.deepEqual(cacheCli(['list', '--cache-dir', proxy.cacheDir]).lines.map((line) => line.project), ['cli-pkg'])
  })

  test('usage errors exit 2 with a message', () => {
    for (const [args, message] of [
      [[], /missing command/],
      [['prune'], /unknown command "prune"/],
      [['purge', '--cache-dir', proxy.cacheDir], /purge takes one project name/],
      [['purge', '../etc', '--cache-dir', proxy.cacheDir], /"\.\.\/etc" is not a valid project name/],
      [['list', '--repair', '--cache-dir', proxy.cacheDir], /--repair goes with verify/],
      [['list', '--forget-owner', '--cache-dir', proxy.cacheDir], /--forget-owner goes with purge/],
      [['list', '--cache-dir', '/nonexistent/cache'], /no tuf-proxy cache in \/nonexistent\/cache/],
    ] as const) {
      const result = cacheCli(args)
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
    const help = spawnSync(process.execPath, [CLI_PATH, 'cache', '--help'], { encoding: 'utf8' })
    assert.equal(help.status, 0)
    assert.match(help.stdout, /^Usage: tuf-proxy cache <command>/)
  })
})

describe('tuf-proxy cache with sources:', () => {
  let sources: TwoSources
  const private1 = buildWheel('acme-utils', '1.0')
  const six = buildWheel('six', '1.16.0')
  before(async () => {
    sources = await startTwoSources('tuf-proxy-cache-cli-sources-', ({ internal, publicIndex }) => {
      internal.addProject('acme-utils', [{ filename: private1.filename, bytes: private1.bytes }], 2)
      publicIndex.addProject('six', [{ filename: six.filename, bytes: six.bytes }], 7)
      return []
    })
    for (const [project, file] of [['acme-utils', private1.filename], ['six', six.filename]] as const) {
      assert.equal((await get(`${sources.proxy.url}/simple/${project}/`)).status, 200)
      const head = await request(`${sources.proxy.url}/files/${project}/${file}`, { method: 'HEAD' })
      await head.body.dump()
      assert.equal(head.statusCode, 200)
    }
  })
  after(() => sources?.dispose())

  test('list shows every source\'s projects with their owner; purge clears every source namespace and keeps the owner unless --forget-owner', async () => {
    const listed = cacheCli(['list', '--cache-dir', sources.proxy.cacheDir])
    assert.equal(listed.status, 0, listed.stderr)
    const summary = listed.lines.map((line) => [line.project, line.owner, (line.pages as Array<{ kind: string; source: string; serial: number }>).map((page) => [page.kind, page.source, page.serial]), (line.files as Array<{ filename: string }>).map((file) => file.filename)])
    assert.deepEqual(summary, [
      ['acme-utils', 'internal', [['source-internal', 'internal', 2]], [private1.filename]],
      ['six', 'pypi', [['source-pypi', 'pypi', 7]], [six.filename]],
    ])

    const purged = cacheCli(['purge', 'ACME_Utils', '--cache-dir', sources.proxy.cacheDir])
    assert.equal(purged.status, 0, purged.stderr)
    assert.deepEqual(purged.lines, [{ project: 'acme-utils', pages: 1, files: 1, bytes: purged.lines[0]?.bytes }])
    assert.ok(!blobDigests(sources.proxy.cacheDir).includes(private1.sha256))
    const kept = cacheCli(['list', '--cache-dir', sources.proxy.cacheDir]).lines.find((line) => line.project === 'acme-utils')
    assert.deepEqual([kept?.owner, kept?.pages, kept?.files], ['internal', [], []], 'the owner stays')

    const forgotten = cacheCli(['purge', 'acme-utils', '--forget-owner', '--cache-dir', sources.proxy.cacheDir])
    assert.equal(forgotten.status, 0, forgotten.stderr)
    assert.deepEqual(forgotten.lines, [{ project: 'acme-utils', pages: 0, files: 0, bytes: 0, ownerForgotten: 'internal' }])
    assert.deepEqual(cacheCli(['list', '--cache-dir', sources.proxy.cacheDir]).lines.map((line) => line.project), ['six'])

    // After a restart, the proxy resolves the owner again (it remembered none).
    await sources.proxy.stop()
    await sources.proxy.restart()
    assert.equal((await get(`${sources.proxy.url}/simple/acme-utils/`)).status, 200)
    await sources.proxy.waitForLog((line) => line.event === 'owner_recorded' && line.project === 'acme-utils' && line.source === 'internal')
  })
})
