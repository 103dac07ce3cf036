/**
 * Air-gapped mirrors (issue 12): `mirror` from a real upstream on 127.0.0.1 into a bundle,
 * `import` into a fresh cache directory (every byte verified, tampered bundles refused), and
 * `serve --offline`, which serves what was imported to Debian's pip and never calls out.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { runCli, startCli } from '../helpers/cli-run.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel, type Distribution } from '../helpers/wheels.js'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tuf-proxy-${prefix}-`))
}

interface ManifestJson {
  format: string
  tool_version: string
  created: string
  upstream: string
  selection: Record<string, unknown>
  entries: Array<{ kind: string; project: string; name: string; size: number; sha256: string; path: string }>
}

function readManifest(bundle: string): ManifestJson {
  return JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as ManifestJson
}

/** Every committed (non-temp) file under files/ holds the bytes its name says. */
function assertFilesWhole(bundle: string): string[] {
  const names = readdirSync(join(bundle, 'files')).filter((name) => !name.startsWith('.'))
  for (const name of names) assert.equal(sha256(readFileSync(join(bundle, 'files', name))), name, `files/${name} is whole`)
  return names
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length
}

/** A TCP server that only counts the connections made to it: the offline proxy's "upstream". */
async function connectionCounter(): Promise<{ server: Server; port: number; count: () => number }> {
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { server, port: typeof address === 'object' && address ? address.port : 0, count: () => connections }
}

describe('bundles: mirror, import, serve --offline', () => {
  let upstream: FakeUpstream
  const wheels = new Map<string, Distribution>()
  const sdist = Buffer.from('not really a tarball, but opaque bytes to the proxy\n')
  const dirs: string[] = []
  const dir = (prefix: string) => {
    const made = tempDir(prefix)
    dirs.push(made)
    return made
  }

  before(async () => {
    upstream = await new FakeUpstream().start()
    for (const version of ['1.0', '2.0', '2.5', '3.0']) wheels.set(version, buildWheel('demo', version))
    const demoFiles = [...wheels.values()].map((wheel) => ({ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata }))
    upstream.addProject('demo', [...demoFiles, { filename: 'demo-2.0.tar.gz', bytes: sdist }], 7)
    const other = buildWheel('other', '0.1')
    upstream.addProject('other', [{ filename: other.filename, bytes: other.bytes, metadata: other.metadata }], 3)
  })

  after(async () => {
    await upstream.stop()
    for (const made of dirs) rmSync(made, { recursive: true, force: true })
  })

  const mirror = (out: string, ...args: string[]) => runCli(['mirror', '--out', out, '--upstream', upstream.simpleUrl, ...args])

  test('mirror --project with a specifier takes the matching files, pages byte for byte, PEP 658 metadata and a manifest', async () => {
    const out = dir('bundle')
    const result = await mirror(out, '--project', 'demo>=2,<3', '--project', 'other')
    assert.equal(result.code, 0, result.stderr)
    const manifest = readManifest(out)
    assert.deepEqual(Object.keys(manifest).sort(), ['created', 'entries', 'format', 'selection', 'tool_version', 'upstream'])
    assert.equal(manifest.format, 'tuf-proxy-bundle/1')
    assert.ok(!Number.isNaN(Date.parse(manifest.created)))
    assert.equal(manifest.upstream, upstream.simpleUrl)
    assert.deepEqual(manifest.selection.projects, ['demo>=2,<3', 'other'])
    const names = manifest.entries.map((entry) => `${entry.kind} ${entry.project} ${entry.name}`).sort()
    assert.deepEqual(names, [
      'file demo demo-2.0-py3-none-any.whl',
      'file demo demo-2.0.tar.gz',
      'file demo demo-2.5-py3-none-any.whl',
      'file other other-0.1-py3-none-any.whl',
      'metadata demo demo-2.0-py3-none-any.whl.metadata',
      'metadata demo demo-2.5-py3-none-any.whl.metadata',
      'metadata other other-0.1-py3-none-any.whl.metadata',
      'page demo demo',
      'page other other',
    ])
    for (const entry of manifest.entries) {
      assert.deepEqual(Object.keys(entry).sort(), ['kind', 'name', 'path', 'project', 'sha256', 'size'])
      const bytes = readFileSync(join(out, entry.path))
      assert.equal(sha256(bytes), entry.sha256)
      assert.equal(bytes.byteLength, entry.size)
    }
    // Pages exactly as the upstream served them.
    const served = await get(`${upstream.simpleUrl}demo/`)
    assert.deepEqual(readFileSync(join(out, 'pages/demo.html')), served.body)
    // One JSON line per item and a summary (stdout is not a terminal here).
    const items = result.lines.filter((line) => line.event === 'item')
    assert.equal(items.length, 9)
    assert.ok(items.every((line) => line.status === 'fetched'))
    const summary = result.lines.find((line) => line.event === 'summary')
    assert.equal(summary?.entries, 9)
    assert.equal(summary?.refused, 0)
  })

  test('--only-binary leaves sdists out; --python-version and --platform keep fitting wheels', async () => {
    const out = dir('bundle')
    const result = await mirror(out, '--project', 'demo==2.0', '--only-binary', '--python-version', '3.12', '--platform', 'manylinux_2_28_x86_64')
    assert.equal(result.code, 0, result.stderr)
    const files = readManifest(out).entries.filter((entry) => entry.kind === 'file').map((entry) => entry.name)
    assert.deepEqual(files, ['demo-2.0-py3-none-any.whl'])
    const py2 = await mirror(dir('bundle'), '--project', 'demo==2.0', '--only-binary', '--python-version', '2.7')
    assert.equal(py2.code, 0, py2.stderr)
    assert.equal(py2.lines.filter((line) => line.event === 'item' && line.kind === 'file').length, 0)
  })

  test('--requirements: pins with --hash are checked; a hash no file has is refused (exit 1) and named', async () => {
    const requirements = join(dir('req'), 'requirements.txt')
    const good = wheels.get('2.0')?.sha256 ?? ''
    writeFileSync(requirements, `# pip-compile --generate-hashes\ndemo==2.0 \\\n    --hash=sha256:${good}\nother==0.1 ; python_version >= "3" \\\n    --hash=sha256:${'0'.repeat(64)}\n`)
    const out = dir('bundle')
    const result = await mirror(out, '--requirements', requirements)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /refused \S*requirements\.txt:4 \(not_on_page\): other==0\.1: no file on the page has any of the --hash digests given/)
    const files = readManifest(out).entries.filter((entry) => entry.kind === 'file').map((entry) => entry.name)
    assert.deepEqual(files, ['demo-2.0-py3-none-any.whl'], 'only the file whose digest the pin lists (not the sdist of the same version)')
  })

  test('--pylock (PEP 751): exactly the wheels and sdists listed, the lock\'s hashes checked beside the page\'s; other sources refused by name', async () => {
    const lockDir = dir('lock')
    const lock = join(lockDir, 'pylock.toml')
    const wheel20 = wheels.get('2.0')
    const wheel25 = wheels.get('2.5')
    const other = readManifest(await (async () => {
      const probe = dir('bundle')
      assert.equal((await mirror(probe, '--project', 'other')).code, 0)
      return probe
    })()).entries.find((entry) => entry.kind === 'file')
    assert.ok(wheel20 && wheel25 && other)
    // Written as PEP 751 describes a lock (Debian's pip 23.0.1 has no `pip lock` to write one).
    writeFileSync(lock, [
      'lock-version = "1.0"',
      'created-by = "tuf-proxy tests"',
      'requires-python = ">=3.9"',
      '',
      '[[packages]]',
      'name = "Demo"',
      'version = "2.0"',
      `index = "${upstream.simpleUrl}"`,
      '',
      '[[packages.wheels]]',
      `url = "${upstream.fileUrl(wheel20.filename)}"`,
      `size = ${wheel20.bytes.byteLength}`,
      `hashes = { sha256 = "${wheel20.sha256}", sha512 = "${createHash('sha512').update(wheel20.bytes).digest('hex')}" }`,
      '',
      '[packages.sdist]',
      'name = "demo-2.0.tar.gz"',
      `url = "${upstream.fileUrl('demo-2.0.tar.gz')}"`,
      `hashes = { sha256 = "${sha256(sdist)}" }`,
      '',
      '[[packages]]',
      'name = "demo"',
      'version = "2.5"',
      '',
      '[[packages.wheels]]',
      `url = "${upstream.fileUrl(wheel25.filename)}"`,
      // The page lists only sha256: this digest is the lock's alone, and it is wrong.
      `hashes = { sha512 = "${'0'.repeat(128)}" }`,
      '',
      '[[packages]]',
      'name = "other"',
      'version = "0.1"',
      '',
      '[[packages.wheels]]',
      `url = "${upstream.fileUrl(other.name)}"`,
      `hashes = { sha256 = "${'1'.repeat(64)}" }`,
      '',
      '[[packages]]',
      'name = "local-thing"',
      'directory = { path = "./local-thing", editable = true }',
      '',
    ].join('\n'))
    const out = dir('bundle')
    const result = await mirror(out, '--pylock', lock)
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, new RegExp(`refused file demo/${wheel25.filename.replace(/\./g, '\\.')} \\(hash_mismatch\\)`))
    assert.match(result.stderr, /refused \S*pylock\.toml:packages\[2\]\.wheels\[0\] \(hash_mismatch\): other-0\.1-py3-none-any\.whl: the lock gives sha256 1{64}, the page [0-9a-f]{64}/)
    assert.match(result.stderr, /refused \S*pylock\.toml:packages\[3\] \(not_mirrorable\): local-thing: its source is a directory, not a file on an index/)
    const manifest = readManifest(out)
    const files = manifest.entries.filter((entry) => entry.kind === 'file').map((entry) => entry.name).sort()
    assert.deepEqual(files, ['demo-2.0-py3-none-any.whl', 'demo-2.0.tar.gz'], 'exactly the locked files that verified; not 1.0 or 3.0')
    assert.deepEqual(manifest.selection.pylock, [lock])
    const imported = await runCli(['import', out, '--cache-dir', dir('cache')])
    assert.equal(imported.code, 0, imported.stderr)
    const notToml = join(lockDir, 'broken.toml')
    writeFileSync(notToml, 'lock-version = "2.0"\n[[packages]]\nname = "demo"\n')
    const badVersion = await mirror(dir('bundle'), '--pylock', notToml)
    assert.equal(badVersion.code, 2)
    assert.match(badVersion.stderr, /--pylock \S*broken\.toml: lock-version is "2\.0", not 1\.x \(PEP 751\)/)
  })

  test('usage errors exit 2: an unpinned requirement, a bad specifier, no selection', async () => {
    const requirements = join(dir('req'), 'requirements.txt')
    writeFileSync(requirements, 'demo>=2\n')
    const unpinned = await mirror(dir('bundle'), '--requirements', requirements)
    assert.equal(unpinned.code, 2)
    assert.match(unpinned.stderr, /requirements\.txt:1: "demo>=2" is not pinned as name==version/)
    const badSpec = await mirror(dir('bundle'), '--project', 'demo>=')
    assert.equal(badSpec.code, 2)
    assert.match(badSpec.stderr, /--project "demo>=": ">=" is not a version specifier/)
    const nothing = await mirror(dir('bundle'))
    assert.equal(nothing.code, 2)
  })

  test('a file that fails its page hash is refused (hash_mismatch), not stored, and the run exits 1', async () => {
    const wheel = wheels.get('2.5')
    assert.ok(wheel)
    upstream.tamper(`/files/${wheel.filename}`)
    try {
      const out = dir('bundle')
      const result = await mirror(out, '--project', 'demo==2.5')
      assert.equal(result.code, 1)
      assert.match(result.stderr, new RegExp(`refused file demo/${wheel.filename.replace(/\./g, '\\.')} \\(hash_mismatch\\)`))
      assert.ok(!existsSync(join(out, 'files', wheel.sha256)))
      assert.ok(!readManifest(out).entries.some((entry) => entry.name === wheel.filename))
      assert.deepEqual(readdirSync(join(out, 'files')).filter((name) => name.startsWith('.')), [], 'no temp file left behind')
    } finally {
      upstream.untamper(`/files/${wheel.filename}`)
    }
  })

  test('identical files are fetched once (--jobs 4 coalesces by digest)', async () => {
    const twin = buildWheel('twin', '1.0')
    const copy = Buffer.from(twin.bytes)
    upstream.addProject('twin-a', [{ filename: 'twin_a-1.0-py3-none-any.whl', bytes: twin.bytes }])
    upstream.addProject('twin-b', [{ filename: 'twin_b-1.0-py3-none-any.whl', bytes: copy }])
    const out = dir('bundle')
    const result = await mirror(out, '--project', 'twin-a', '--project', 'twin-b', '--jobs', '4')
    assert.equal(result.code, 0, result.stderr)
    assert.equal(upstream.hits('/files/twin_a-1.0-py3-none-any.whl') + upstream.hits('/files/twin_b-1.0-py3-none-any.whl'), 1)
    assert.equal(readManifest(out).entries.filter((entry) => entry.kind === 'file').length, 2, 'both names are listed, one stored file')
    assert.deepEqual(assertFilesWhole(out), [twin.sha256])
  })

  test('resumable: after kill -9 mid-run, a second run fetches only what is missing, and no half-written file is ever named', async () => {
    const stalled = wheels.get('3.0')
    assert.ok(stalled)
    upstream.stall(`/files/${stalled.filename}`)
    const out = dir('bundle')
    const hitsBefore = new Map<string, number>([...wheels.values()].map((wheel): [string, number] => [wheel.filename, upstream.hits(`/files/${wheel.filename}`)]))
    const pageHits = upstream.hits('/simple/demo/')
    const first = startCli(['mirror', '--out', out, '--upstream', upstream.simpleUrl, '--project', 'demo', '--jobs', '4'])
    // Nine downloads (4 wheels, 4 metadata files, 1 sdist); all but the stalled wheel finish.
    await first.waitForLines((line) => line.event === 'item' && (line.kind === 'file' || line.kind === 'metadata'), 8)
    first.child.kill('SIGKILL')
    const killed = await first.done
    assert.equal(killed.signal, 'SIGKILL')
    assert.ok(!existsSync(join(out, 'manifest.json')), 'the manifest is written last')
    assertFilesWhole(out)
    upstream.unstall(`/files/${stalled.filename}`)

    const second = await mirror(out, '--project', 'demo', '--jobs', '4')
    assert.equal(second.code, 0, second.stderr)
    for (const wheel of wheels.values()) {
      const expected: number = (hitsBefore.get(wheel.filename) ?? 0) + (wheel === stalled ? 2 : 1)
      assert.equal(upstream.hits(`/files/${wheel.filename}`), expected, `${wheel.filename} fetched ${wheel === stalled ? 'again' : 'once'}`)
    }
    assert.equal(upstream.hits('/simple/demo/'), pageHits + 1, 'the page kept from the first run is not fetched again')
    const statuses = second.lines.filter((line) => line.event === 'item').map((line) => `${String(line.name)} ${String(line.status)}`).sort()
    assert.ok(statuses.includes(`${stalled.filename} fetched`))
    assert.equal(statuses.filter((status) => status.endsWith(' present')).length, 9, 'eight files and the page were taken from the first run')
    assert.equal(readManifest(out).entries.length, 10)
    assertFilesWhole(out)
    assert.deepEqual(readdirSync(join(out, 'files')).filter((name) => name.startsWith('.')), [], 'temp files of the killed run are swept')
  })

  describe('--since and --tar', () => {
    /** What a cache serves: each page record's page digest and serial, and the stored file digests. */
    const servable = (cacheDir: string, pageDigests: ReadonlySet<string>) => {
      const pages = readdirSync(join(cacheDir, 'records', 'page'), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const { key, value } = JSON.parse(readFileSync(join(entry.parentPath, entry.name), 'utf8')) as { key: string; value: { bodySha256: string; serial: number } }
          return `${key} ${value.bodySha256} ${value.serial}`
        })
        .sort()
      const blobs = readdirSync(join(cacheDir, 'blobs', 'blobs'), { recursive: true }).map(String).filter((name) => /^[0-9a-f]{64}$/.test(name.split('/').pop() ?? ''))
      return { pages, files: blobs.map((name) => name.split('/').pop() ?? '').filter((digest) => !pageDigests.has(digest)).sort() }
    }

    test('a chain of --since bundles imported in order gives the same cache as one full bundle', async () => {
      const first = buildWheel('grow', '1.0')
      const second = buildWheel('grow', '2.0')
      const project = upstream.addProject('grow', [{ filename: first.filename, bytes: first.bytes, metadata: first.metadata }], 1)
      const old = dir('old')
      assert.equal((await mirror(old, '--project', 'grow', '--project', 'other')).code, 0)
      project.files.push({ filename: second.filename, bytes: second.bytes, metadata: second.metadata })
      project.serial = 2
      const increment = dir('increment')
      const incremental = await mirror(increment, '--project', 'grow', '--project', 'other', '--since', old)
      assert.equal(incremental.code, 0, incremental.stderr)
      const entries = readManifest(increment).entries.map((entry) => `${entry.kind} ${entry.name}`).sort()
      assert.deepEqual(entries, ['file grow-2.0-py3-none-any.whl', 'metadata grow-2.0-py3-none-any.whl.metadata', 'page grow'], 'only what the old bundle lacks')
      assert.equal(readManifest(increment).selection.since, old)
      const full = dir('full')
      assert.equal((await mirror(full, '--project', 'grow', '--project', 'other')).code, 0)

      const chained = dir('cache')
      for (const bundle of [old, increment]) {
        const imported = await runCli(['import', bundle, '--cache-dir', chained])
        assert.equal(imported.code, 0, imported.stderr)
      }
      const once = dir('cache')
      assert.equal((await runCli(['import', full, '--cache-dir', once])).code, 0)
      const pageDigests = new Set([old, increment, full].flatMap((bundle) => readManifest(bundle).entries.filter((entry) => entry.kind === 'page').map((entry) => entry.sha256)))
      const fromChain = servable(chained, pageDigests)
      assert.deepEqual(fromChain, servable(once, pageDigests))
      assert.equal(fromChain.files.length, 6, 'grow 1.0 and 2.0 and other 0.1, each with its metadata')
    })

    test('--tar writes one POSIX ustar file that GNU tar reads, and import takes it (and refuses it tampered)', async () => {
      const out = join(dir('tar'), 'bundle.tar')
      const result = await mirror(out, '--project', 'demo==2.0', '--tar')
      assert.equal(result.code, 0, result.stderr)
      assert.ok(!existsSync(`${out}.parts`), 'the staging directory is removed')
      const extracted = dir('extracted')
      execFileSync('tar', ['-xf', out, '-C', extracted])
      const manifest = readManifest(extracted)
      assert.deepEqual(execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n').sort(), ['manifest.json', ...new Set(manifest.entries.map((entry) => entry.path))].sort())
      for (const entry of manifest.entries) assert.equal(sha256(readFileSync(join(extracted, entry.path))), entry.sha256)
      const imported = await runCli(['import', out, '--cache-dir', dir('cache')])
      assert.equal(imported.code, 0, imported.stderr)
      assert.equal(imported.lines.find((line) => line.event === 'summary')?.files, 3, 'the wheel, its metadata and the sdist')

      const wheel = wheels.get('2.0')
      assert.ok(wheel)
      const bytes = readFileSync(out)
      const at = bytes.indexOf(wheel.bytes.subarray(0, 64))
      assert.ok(at > 0)
      bytes[at + 100] = (bytes[at + 100] ?? 0) ^ 0x01
      const tamperedTar = join(dir('tar'), 'tampered.tar')
      writeFileSync(tamperedTar, bytes)
      const refused = await runCli(['import', tamperedTar, '--cache-dir', dir('cache')])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, new RegExp(`refused files/${wheel.sha256} \\(hash_mismatch\\)`))
    })
  })

  describe('import', () => {
    let good: string

    before(async () => {
      good = dir('good')
      const result = await mirror(good, '--project', 'demo>=2,<3', '--project', 'other')
      assert.equal(result.code, 0, result.stderr)
    })

    const importInto = (bundle: string, ...args: string[]) => {
      const cacheDir = dir('cache')
      return runCli(['import', bundle, '--cache-dir', cacheDir, ...args]).then((result) => ({ ...result, cacheDir }))
    }
    const tampered = (change: (bundle: string, manifest: ManifestJson) => void) => {
      const copy = dir('tampered')
      cpSync(good, copy, { recursive: true })
      change(copy, readManifest(copy))
      return copy
    }
    const fileEntry = (manifest: ManifestJson, name: string) => {
      const entry = manifest.entries.find((candidate) => candidate.name === name)
      assert.ok(entry, name)
      return entry
    }
    const flipByte = (path: string, at = -1) => {
      const bytes = readFileSync(path)
      const index = at < 0 ? bytes.length + at : at
      bytes[index] = (bytes[index] ?? 0) ^ 0x01
      writeFileSync(path, bytes)
    }
    const assertNothingAdded = (cacheDir: string) => {
      assert.equal(countFiles(join(cacheDir, 'records')), 0, 'no record written')
      assert.equal(countFiles(join(cacheDir, 'blobs', 'blobs')), 0, 'no blob left behind')
    }

    test('a good bundle imports (exit 0): every entry verified, pages and files in the cache', async () => {
      const result = await importInto(good)
      assert.equal(result.code, 0, result.stderr)
      const summary = result.lines.find((line) => line.event === 'summary')
      assert.equal(summary?.pages, 2)
      assert.equal(summary?.files, 7)
      assert.equal(countFiles(join(result.cacheDir, 'records', 'page')), 2)
    })

    const cases: Array<{ name: string; change: (bundle: string, manifest: ManifestJson) => void; reason: RegExp }> = [
      {
        name: 'one flipped byte in a file',
        change: (bundle, manifest) => flipByte(join(bundle, fileEntry(manifest, wheels.get('2.0')?.filename ?? '').path), 100),
        reason: /refused files\/[0-9a-f]{64} \(hash_mismatch\): file demo\/demo-2\.0-py3-none-any\.whl: sha256 is [0-9a-f]{64}, expected/,
      },
      {
        name: 'one flipped byte in a page',
        change: (bundle) => flipByte(join(bundle, 'pages/demo.html'), 20),
        reason: /refused pages\/demo\.html \(entry_mismatch\): the page's bytes do not match its manifest entry/,
      },
      {
        name: 'one flipped byte in manifest.json (a digest of a page)',
        change: (bundle) => {
          const path = join(bundle, 'manifest.json')
          const text = readFileSync(path, 'utf8')
          const at = text.indexOf('"sha256"', text.indexOf('"pages/other.html"') - 200) + '"sha256": "'.length
          // One byte changed, to another hex digit: the manifest still decodes, and now disagrees with the page.
          writeFileSync(path, `${text.slice(0, at)}${text[at] === '0' ? '1' : '0'}${text.slice(at + 1)}`)
        },
        reason: /refused pages\/other\.html \(entry_mismatch\)/,
      },
      {
        name: 'one flipped byte in manifest.json that breaks its format',
        change: (bundle) => {
          const path = join(bundle, 'manifest.json')
          const text = readFileSync(path, 'utf8')
          writeFileSync(path, text.replace('"format": "tuf-proxy-bundle/1"', '"format": "tuf-proxy-bundle/2"'))
        },
        reason: /refused manifest\.json \(manifest_invalid\): format is "tuf-proxy-bundle\/2", not "tuf-proxy-bundle\/1"/,
      },
      {
        name: 'a manifest that lists a file its page does not',
        change: (bundle, manifest) => {
          fileEntry(manifest, 'other-0.1-py3-none-any.whl').name = 'other-0.2-py3-none-any.whl'
          writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(manifest))
        },
        reason: /\(not_on_page\): file other-0\.2-py3-none-any\.whl: the page of other lists no file other-0\.2-py3-none-any\.whl/,
      },
      {
        name: 'a file removed',
        change: (bundle, manifest) => rmSync(join(bundle, fileEntry(manifest, 'demo-2.0.tar.gz').path)),
        reason: /refused files\/[0-9a-f]{64} \(entry_missing\): listed in the manifest but absent from the bundle/,
      },
      {
        name: 'a file added',
        change: (bundle) => writeFileSync(join(bundle, 'files', sha256(Buffer.from('extra'))), 'extra'),
        reason: new RegExp(`refused files/${sha256(Buffer.from('extra'))} \\(entry_unlisted\\): the bundle holds this file but the manifest does not list it`),
      },
    ]
    for (const { name, change, reason } of cases) {
      test(`refused (exit 1, nothing added): ${name}`, async () => {
        const result = await importInto(tampered(change))
        assert.equal(result.code, 1, result.stdout)
        assert.match(result.stderr, reason)
        assert.match(result.stderr, /nothing was added/)
        assertNothingAdded(result.cacheDir)
      })
    }

    test('--partial adds what verifies and still exits 1 naming the rest', async () => {
      const bundle = tampered((copy, manifest) => rmSync(join(copy, fileEntry(manifest, 'demo-2.0.tar.gz').path)))
      const result = await importInto(bundle, '--partial')
      assert.equal(result.code, 1)
      assert.match(result.stderr, /entry_missing/)
      const summary = result.lines.find((line) => line.event === 'summary')
      assert.equal(summary?.pages, 2)
      assert.equal(summary?.files, 6)
    })

    test('serve --offline serves the import to pip, 404s the rest with not_in_offline_mirror, says offline, and opens no connection', requirePip(), async () => {
      const imported = await importInto(good)
      assert.equal(imported.code, 0, imported.stderr)
      const counter = await connectionCounter()
      const proxy = await ProxyProcess.start(['--offline', '--upstream', `http://127.0.0.1:${counter.port}/simple/`], { cacheDir: imported.cacheDir })
      try {
        const pip = await pipDownload(`${proxy.url}/simple/`, 'demo==2.5')
        assert.equal(pip.status, 0, pip.stderr)
        assert.deepEqual(pip.files, [wheels.get('2.5')?.filename])
        const missingPage = await get(`${proxy.url}/simple/absent/`)
        assert.equal(missingPage.status, 404)
        assert.equal(missingPage.headers['x-tuf-proxy-reason'], 'not_in_offline_mirror')
        const missingFile = await get(`${proxy.url}/files/demo/${wheels.get('3.0')?.filename ?? ''}`)
        assert.equal(missingFile.status, 404)
        assert.equal(missingFile.headers['x-tuf-proxy-reason'], 'not_in_offline_mirror')
        const health = JSON.parse((await get(`${proxy.url}/health`)).text) as Record<string, unknown>
        assert.equal(health.offline, true)
        assert.equal(health.upstream, 'offline')
        const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as Record<string, unknown>
        assert.equal(status.offline, true)
        assert.match((await get(`${proxy.url}/status?format=html`)).text, /offline/)
        assert.equal(counter.count(), 0, 'no outbound connection')
      } finally {
        await proxy.stop()
        await new Promise<void>((resolve) => counter.server.close(() => resolve()))
      }
    })
  })
})
