/**
 * `mirror --from-cache DIR`: a cache filled by a real proxy process from an upstream on
 * 127.0.0.1 becomes a bundle, re-verified on the way out (pages against their records' digests,
 * files against their pages' digests), which a fresh cache imports and `serve --offline` serves
 * to Debian's pip. A blob whose bytes changed in the cache is refused by name, never copied.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli-run.js'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, pipInstall, requirePip } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { tempDirs } from '../helpers/temp-dirs.js'
import { buildWheel, type Distribution } from '../helpers/wheels.js'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

interface ManifestJson {
  upstream: string
  selection: { fromCache: string[] }
  entries: Array<{ kind: string; project: string; name: string; size: number; sha256: string; path: string }>
}

function readManifest(bundle: string): ManifestJson {
  return JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as ManifestJson
}

/** Where the blob store keeps a blob: `<cache>/blobs/blobs/<first two hex>/<sha256>`. */
function blobPath(cacheDir: string, digest: string): string {
  return join(cacheDir, 'blobs', 'blobs', digest.slice(0, 2), digest)
}

function flipFirstByte(path: string): void {
  const bytes = readFileSync(path)
  bytes[0] = (bytes[0] ?? 0) ^ 0xff
  writeFileSync(path, bytes)
}

describe('mirror --from-cache: a proxy cache as a bundle, re-verified on the way out', () => {
  const pip = requirePip()
  const { dir, removeAll: removeDirs } = tempDirs()
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  let cacheDir: string
  const wheels = new Map<string, Distribution>()

  before(async () => {
    upstream = await new FakeUpstream().start()
    for (const version of ['1.0', '2.0']) wheels.set(version, buildWheel('demo', version))
    upstream.addProject('demo', [...wheels.values()].map((wheel) => ({ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata })), 7)
    const other = buildWheel('other', '0.1')
    upstream.addProject('other', [{ filename: other.filename, bytes: other.bytes, metadata: other.metadata }], 3)
    cacheDir = dir('source-cache')
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl], { cacheDir })
    // The cache is filled by a real client through the real proxy: demo's page and its 2.0 wheel, other's page only.
    const downloaded = await pipDownload(`${proxy.url}/simple/`, 'demo==2.0')
    assert.equal(downloaded.status, 0, downloaded.stderr)
    assert.equal((await get(`${proxy.url}/simple/other/`)).status, 200)
  })

  after(async () => {
    await proxy?.stop()
    await upstream?.stop()
    removeDirs()
  })

  test('beside the running proxy, the bundle holds the pages exactly as the upstream served them and the files the cache holds; a fresh cache imports it and pip installs from serve --offline', pip, async () => {
    const bundle = dir('bundle')
    const made = await runCli(['mirror', '--out', bundle, '--from-cache', cacheDir])
    assert.equal(made.code, 0, made.stderr)
    const manifest = readManifest(bundle)
    assert.equal(manifest.upstream, upstream.simpleUrl)
    assert.deepEqual(manifest.selection.fromCache, [cacheDir])
    const pages = manifest.entries.filter((entry) => entry.kind === 'page')
    assert.deepEqual(pages.map((entry) => entry.project).sort(), ['demo', 'other'])
    for (const page of pages) {
      // Byte for byte what the upstream serves, not the proxy's rewritten rendering.
      const served = await get(`${upstream.simpleUrl}${page.project}/`)
      assert.deepEqual(readFileSync(join(bundle, page.path)), served.body, `${page.path} is the upstream's bytes`)
    }
    const files = manifest.entries.filter((entry) => entry.kind === 'file')
    // Only what the cache holds: the 2.0 wheel pip fetched, not 1.0 nor other's wheel.
    assert.deepEqual(files.map((entry) => entry.name), [wheels.get('2.0')?.filename])
    assert.deepEqual(readFileSync(join(bundle, `files/${wheels.get('2.0')?.sha256 ?? ''}`)), wheels.get('2.0')?.bytes)
    assert.equal(proxy.crashReport, undefined, 'the proxy kept running on the cache')

    const airGapped = dir('air-gapped-cache')
    const imported = await runCli(['import', bundle, '--cache-dir', airGapped])
    assert.equal(imported.code, 0, imported.stderr)
    const offline = await ProxyProcess.start(['--offline', '--upstream', 'http://127.0.0.1:9/simple/'], { cacheDir: airGapped })
    try {
      const installed = await pipInstall(`${offline.url}/simple/`, 'demo==2.0')
      assert.equal(installed.status, 0, installed.stderr)
      assert.deepEqual(installed.files, ['demo', 'demo-2.0.dist-info'])
      const missing = await get(`${offline.url}/files/demo/${wheels.get('1.0')?.filename ?? ''}`)
      assert.equal(missing.status, 404)
      assert.equal(missing.headers['x-tuf-proxy-reason'], 'not_in_offline_mirror')
    } finally {
      await offline.stop()
    }
  })

  test('a cached file whose blob no longer matches is refused by name (exit 1) and not copied; the cache is left as it was', async () => {
    const damaged = dir('damaged-cache')
    cpSync(cacheDir, damaged, { recursive: true })
    const wheel = wheels.get('2.0')
    assert.ok(wheel)
    flipFirstByte(blobPath(damaged, wheel.sha256))
    const bundle = dir('bundle')
    const made = await runCli(['mirror', '--out', bundle, '--from-cache', damaged])
    assert.equal(made.code, 1, made.stderr)
    assert.match(made.stderr, new RegExp(`refused file demo/${wheel.filename.replace(/\./g, '\\.')} \\(hash_mismatch\\): the cached blob ${wheel.sha256} of ${wheel.filename.replace(/\./g, '\\.')} no longer matches`))
    assert.equal(existsSync(join(bundle, 'files', wheel.sha256)), false, 'the damaged bytes were not copied')
    assert.deepEqual(readdirSync(join(bundle, 'files')).filter((name) => !name.startsWith('.')), [], 'nothing else under files/ either')
    assert.ok(!readManifest(bundle).entries.some((entry) => entry.sha256 === wheel.sha256), 'the manifest does not list it')
    assert.ok(existsSync(blobPath(damaged, wheel.sha256)), 'the source cache is not repaired behind the operator\'s back')
  })

  test('a stored page whose blob no longer matches its record is refused by name, with the files it lists', async () => {
    const damaged = dir('damaged-cache')
    cpSync(cacheDir, damaged, { recursive: true })
    const page = await get(`${upstream.simpleUrl}demo/`)
    flipFirstByte(blobPath(damaged, sha256(page.body)))
    const bundle = dir('bundle')
    const made = await runCli(['mirror', '--out', bundle, '--from-cache', damaged])
    assert.equal(made.code, 1, made.stderr)
    assert.match(made.stderr, new RegExp(`refused page demo \\(hash_mismatch\\): the cached blob ${sha256(page.body)} no longer matches its digest`))
    const manifest = readManifest(bundle)
    assert.deepEqual(manifest.entries.map((entry) => `${entry.kind} ${entry.project}`), ['page other'])
    assert.equal(existsSync(join(bundle, 'pages', 'demo.html')), false)
  })

  test('usage: --from-cache with another selection, or a directory with no cache, exits 2', async () => {
    const withProject = await runCli(['mirror', '--out', dir('bundle'), '--from-cache', cacheDir, '--project', 'demo'])
    assert.equal(withProject.code, 2)
    assert.match(withProject.stderr, /--from-cache is not combined with --project, --requirements or --pylock/)
    const empty = await runCli(['mirror', '--out', dir('bundle'), '--from-cache', dir('not-a-cache')])
    assert.equal(empty.code, 2)
    assert.match(empty.stderr, /no tuf-proxy cache there/)
  })
})
