/**
 * Air-gapped mirrors in verifying mode: `mirror` with the TUF flags takes pages and files only as
 * the metadata it verified lists them and carries that metadata under `tuf/`; `import
 * --tuf-root` checks it from the importer's own root (TUF 5.3-5.7) and records the verified state;
 * `serve --offline` serves it with no TUF flags, until the metadata expires (freeze attack, TUF
 * 5.4.4), unless `--offline-grace` accepts serving past expiry.
 *
 * The repository is a RepositorySimulator over HTTP on 127.0.0.1 (consistent snapshots, one
 * delegated role); clients are the real CLI processes and Debian's pip.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli-run.js'
import { get } from '../helpers/http-client.js'
import { pipDownload, pipInstall, requirePip } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'
import { generateKey } from '../helpers/sim-keys.js'
import { tempDirs } from '../helpers/temp-dirs.js'
import { TufUpstream, sdistFile, wheelFile } from '../helpers/tuf-upstream.js'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
/** What the delegated role may list: any project's page and files (PEP 458 paths). */
const ANY_PROJECT = ['simple/*/index.html', 'packages/*/*/*/*']
/** Long enough for one `mirror` and one `import` on a loaded machine; the expiry tests wait for it to pass. */
const SHORT_EXPIRY_MS = 12_000

interface ManifestJson {
  entries: Array<{ kind: string; project: string; name: string; size: number; sha256: string; path: string }>
  tuf?: { layout: string; metadata_url: string; targets_url: string }
}

function readManifest(bundle: string): ManifestJson {
  return JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as ManifestJson
}

/** Replaces a bundle item's bytes and updates its manifest entry, as a tamperer who knows the format would. */
function replaceItem(bundle: string, path: string, bytes: Uint8Array): void {
  writeFileSync(join(bundle, path), bytes)
  const manifest = readManifest(bundle)
  const entry = manifest.entries.find((candidate) => candidate.path === path)
  assert.ok(entry, path)
  entry.sha256 = sha256(bytes)
  entry.size = bytes.byteLength
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(manifest))
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length
}

interface StatusJson {
  mode: string
  offline: boolean
  trust?: { offline?: { graceSeconds: number; expired?: { role: string; expires: string }; isServingPastExpiry: boolean; warning?: string } }
}

describe('bundles in verifying mode: TUF across the gap', () => {
  const pip = requirePip()
  const { dir, removeAll: removeDirs } = tempDirs()
  const sim = new RepositorySimulator({ consistentSnapshot: true })
  const wheel10 = wheelFile('FooBar', '1.0')
  const sdist10 = sdistFile('FooBar', '1.0')
  const wheel11 = wheelFile('FooBar', '1.1')
  let upstream: TufUpstream
  let rootFile: string
  /** a bundle of FooBar 1.0 (timestamp version N), and one of 1.0 and 1.1 (a later timestamp) */
  let older: string
  let newer: string
  /** repositories whose timestamp, top-level targets or delegated role expires SHORT_EXPIRY_MS after the start, each mirrored and imported */
  const expiringUpstreams: TufUpstream[] = []
  const expiringCaches = new Map<string, string>()
  let expiresAtMs: number

  const tufArgs = (repository: TufUpstream, root: string) => [
    '--upstream', repository.simpleUrl, '--tuf-root', root, '--tuf-metadata-url', repository.metadataUrl, '--tuf-targets-url', repository.targetsUrl, '--tuf-layout', 'paths',
  ]
  const mirror = (out: string, ...args: string[]) => runCli(['mirror', '--out', out, ...tufArgs(upstream, rootFile), ...args])
  const importInto = async (bundle: string, cacheDir = dir('cache'), root = rootFile) => ({ ...(await runCli(['import', bundle, '--cache-dir', cacheDir, '--tuf-root', root])), cacheDir })
  const copyOf = (bundle: string) => {
    const copy = dir('tampered')
    cpSync(bundle, copy, { recursive: true })
    return copy
  }

  /** A repository whose `role` expires at expiresAtMs, mirrored and imported into a cache before then. */
  const expiringCache = async (role: string) => {
    const expiring = new RepositorySimulator()
    expiring.addDelegation('targets', { name: 'unclaimed', paths: ANY_PROJECT, keys: [generateKey()] })
    const expiringUpstream = await TufUpstream.start(expiring)
    expiringUpstreams.push(expiringUpstream)
    expiringUpstream.publishProject('unclaimed', 'FooBar', [wheel10])
    expiring.expire(role, expiresAtMs)
    expiringUpstream.publish()
    const expiringRoot = join(dir('root'), 'root.json')
    writeFileSync(expiringRoot, expiring.trustedRoot())
    const expiringBundle = dir('expiring')
    const made = await runCli(['mirror', '--out', expiringBundle, ...tufArgs(expiringUpstream, expiringRoot), '--project', 'foobar'])
    assert.equal(made.code, 0, made.stderr)
    const cacheDir = dir('cache')
    const imported = await runCli(['import', expiringBundle, '--cache-dir', cacheDir, '--tuf-root', expiringRoot])
    assert.equal(imported.code, 0, `import must finish before the ${role} expires: ${imported.stderr}`)
    expiringCaches.set(role, cacheDir)
  }

  before(async () => {
    // Started first: their clock runs while the other tests do.
    expiresAtMs = Date.now() + SHORT_EXPIRY_MS
    await Promise.all(['timestamp', 'targets', 'unclaimed'].map(expiringCache))

    sim.addDelegation('targets', { name: 'unclaimed', paths: ANY_PROJECT, keys: [generateKey()] })
    upstream = await TufUpstream.start(sim)
    upstream.publishProject('unclaimed', 'FooBar', [wheel10, sdist10])
    upstream.publish()
    rootFile = join(dir('root'), 'root.json')
    writeFileSync(rootFile, sim.trustedRoot())
    older = dir('older')
    const first = await mirror(older, '--project', 'foobar')
    assert.equal(first.code, 0, first.stderr)
    upstream.publishProject('unclaimed', 'FooBar', [wheel10, sdist10, wheel11])
    upstream.publish()
    newer = dir('newer')
    const second = await mirror(newer, '--project', 'foobar')
    assert.equal(second.code, 0, second.stderr)
  })

  after(async () => {
    await upstream?.stop()
    for (const expiring of expiringUpstreams) await expiring.stop()
    removeDirs()
  })

  test('mirror with the TUF flags stores the metadata that vouches for the bundle under tuf/ (roots by version, never a plain root.json)', () => {
    const manifest = readManifest(newer)
    assert.deepEqual(manifest.tuf, { layout: 'paths', metadata_url: upstream.metadataUrl, targets_url: upstream.targetsUrl })
    const tuf = manifest.entries.filter((entry) => entry.kind === 'tuf').map((entry) => entry.path).sort()
    assert.deepEqual(tuf, ['tuf/1.root.json', 'tuf/snapshot.json', 'tuf/targets.json', 'tuf/timestamp.json', 'tuf/unclaimed.json'])
    for (const entry of manifest.entries) assert.equal(sha256(readFileSync(join(newer, entry.path))), entry.sha256, entry.path)
    // The timestamp in the bundle is the repository's, byte for byte (TUF 5.4).
    assert.deepEqual(readFileSync(join(newer, 'tuf/timestamp.json')), Buffer.from(sim.currentBytes('timestamp')))
    const files = manifest.entries.filter((entry) => entry.kind === 'file').map((entry) => entry.name).sort()
    assert.deepEqual(files, [sdist10.filename, wheel10.filename, wheel11.filename].sort())
  })

  test('a target the repository serves tampered is refused by mirror (hash_mismatch) and left out', async () => {
    upstream.tamperTarget(wheel11.path)
    try {
      const out = dir('bundle')
      const result = await mirror(out, '--project', 'foobar')
      assert.equal(result.code, 1)
      assert.match(result.stderr, new RegExp(`refused file foobar/${wheel11.filename.replace(/\./g, '\\.')} \\(hash_mismatch\\)`))
      assert.ok(!readManifest(out).entries.some((entry) => entry.name === wheel11.filename))
    } finally {
      upstream.untamperTarget(wheel11.path)
    }
  })

  test('import --tuf-root, then serve --offline with no TUF flags: pip installs FooBar from the verified state, and nothing calls out', pip, async () => {
    const imported = await importInto(newer)
    assert.equal(imported.code, 0, imported.stderr)
    assert.ok(existsSync(join(imported.cacheDir, 'tuf', 'offline.json')), 'the import recorded the verified state')
    const before = upstream.server.log.length
    const proxy = await ProxyProcess.start(['--offline'], { cacheDir: imported.cacheDir })
    try {
      const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as StatusJson
      assert.equal(status.mode, 'tuf')
      assert.equal(status.offline, true)
      const installed = await pipInstall(`${proxy.url}/simple/`, 'foobar==1.1')
      assert.equal(installed.status, 0, installed.stderr)
      assert.deepEqual(installed.files, ['foobar', 'foobar-1.1.dist-info'])
      assert.match(readFileSync(join(installed.dest, 'foobar', '__init__.py'), 'utf8'), /VERSION = "1\.1"/)
      // TUF clients behind the offline proxy get the imported metadata byte for byte.
      const timestamp = await get(`${proxy.url}/tuf/metadata/timestamp.json`)
      assert.equal(timestamp.status, 200)
      assert.deepEqual(timestamp.body, readFileSync(join(newer, 'tuf/timestamp.json')))
      assert.equal(upstream.server.log.length, before, 'the offline proxy made no request to the repository')
    } finally {
      await proxy.stop()
    }
  })

  test('rollback: a bundle older than what the cache verified is refused (tuf_rollback, naming tuf/timestamp.json), nothing added', async () => {
    const cacheDir = dir('cache')
    assert.equal((await importInto(newer, cacheDir)).code, 0)
    const recordsBefore = countFiles(join(cacheDir, 'records'))
    const setBefore = readFileSync(join(cacheDir, 'tuf', 'metadata', 'CURRENT'), 'utf8')
    const replayed = await importInto(older, cacheDir)
    assert.equal(replayed.code, 1)
    // TUF 5.4.3.1: the timestamp version must not go backwards.
    assert.match(replayed.stderr, /refused tuf\/timestamp\.json \(tuf_rollback\): timestamp version \d+ is older than the trusted \d+/)
    assert.match(replayed.stderr, /nothing was added/)
    assert.equal(countFiles(join(cacheDir, 'records')), recordsBefore)
    assert.equal(readFileSync(join(cacheDir, 'tuf', 'metadata', 'CURRENT'), 'utf8'), setBefore, 'the verified set in force is unchanged')
  })

  test('a role replaced by an older version inside the bundle (manifest updated to match) is refused naming it', async () => {
    const bundle = copyOf(newer)
    replaceItem(bundle, 'tuf/snapshot.json', readFileSync(join(older, 'tuf/snapshot.json')))
    const result = await importInto(bundle)
    assert.equal(result.code, 1)
    // TUF 5.5.4: the snapshot must be the version the timestamp announces.
    assert.match(result.stderr, /refused tuf\/snapshot\.json \(tuf_mix_and_match\): snapshot version \d+ is not the version \d+ timestamp announces/)
    assert.equal(countFiles(join(result.cacheDir, 'records')), 0)
    assert.ok(!existsSync(join(result.cacheDir, 'tuf', 'offline.json')))
  })

  test('a broken signature is refused (tuf_bad_signature, naming the role), nothing added', async () => {
    const bundle = copyOf(newer)
    const envelope = JSON.parse(readFileSync(join(bundle, 'tuf/timestamp.json'), 'utf8')) as { signatures: Array<{ keyid: string; sig: string }>; signed: unknown }
    const signature = envelope.signatures[0]
    assert.ok(signature)
    signature.sig = `${signature.sig[0] === '0' ? '1' : '0'}${signature.sig.slice(1)}`
    replaceItem(bundle, 'tuf/timestamp.json', Buffer.from(JSON.stringify(envelope)))
    const result = await importInto(bundle)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /refused tuf\/timestamp\.json \(tuf_bad_signature\)/)
    assert.equal(countFiles(join(result.cacheDir, 'blobs', 'blobs')), 0, 'no blob was even written')
  })

  test('the importer\'s own root is the anchor: a bundle of another repository is refused, and one made without --tuf-root is named', async () => {
    const foreign = join(dir('root'), 'root.json')
    writeFileSync(foreign, new RepositorySimulator().trustedRoot())
    const result = await importInto(newer, dir('cache'), foreign)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /refused tuf\/timestamp\.json \(tuf_bad_signature\)/)
    const withoutRoot = await runCli(['import', newer, '--cache-dir', dir('cache')])
    assert.equal(withoutRoot.code, 1)
    assert.match(withoutRoot.stderr, /refused manifest\.json \(tuf_root_required\): the bundle carries TUF metadata: give --tuf-root FILE/)
  })

  test('a page that does not match its TUF target (manifest updated to match) is refused (target_mismatch)', async () => {
    const bundle = copyOf(newer)
    replaceItem(bundle, 'pages/foobar.html', Buffer.concat([readFileSync(join(newer, 'pages/foobar.html')), Buffer.from('<!-- added in transit -->\n')]))
    const result = await importInto(bundle)
    assert.equal(result.code, 1)
    // TUF 5.7.3: a target's length and hashes.
    assert.match(result.stderr, /refused pages\/foobar\.html \(target_mismatch\): page foobar: /)
    assert.equal(countFiles(join(result.cacheDir, 'records')), 0)
  })

  test('mirror --from-cache of a verifying-mode cache re-checks it against the cache\'s TUF metadata and carries that metadata; an imported cache needs no TUF flags', pip, async () => {
    // A cache filled online in verifying mode by a real proxy and a real client.
    const online = await ProxyProcess.start(tufArgs(upstream, rootFile), { cacheDir: dir('cache') })
    let sourceCache: string
    try {
      const downloaded = await pipDownload(`${online.url}/simple/`, 'foobar==1.1')
      assert.equal(downloaded.status, 0, downloaded.stderr)
      sourceCache = online.cacheDir
      const withoutFlags = await runCli(['mirror', '--out', dir('bundle'), '--from-cache', sourceCache])
      assert.equal(withoutFlags.code, 1)
      assert.match(withoutFlags.stderr, /refused page foobar \(tuf_root_required\): the cache verified this page with TUF: give the TUF flags/)
      const bundle = dir('bundle')
      const made = await runCli(['mirror', '--out', bundle, '--from-cache', sourceCache, ...tufArgs(upstream, rootFile)])
      assert.equal(made.code, 0, made.stderr)
      const manifest = readManifest(bundle)
      assert.equal(manifest.tuf?.layout, 'paths')
      assert.deepEqual(manifest.entries.filter((entry) => entry.kind === 'file').map((entry) => entry.name), [wheel11.filename])
      assert.ok(manifest.entries.some((entry) => entry.path === 'tuf/timestamp.json'))
      assert.ok(!existsSync(join(bundle, 'tuf', 'root.json')), 'never a plain root.json')

      const imported = await importInto(bundle)
      assert.equal(imported.code, 0, imported.stderr)
      // The imported cache again, as a bundle: verifying mode from the state the import recorded.
      const again = dir('bundle')
      const remade = await runCli(['mirror', '--out', again, '--from-cache', imported.cacheDir])
      assert.equal(remade.code, 0, remade.stderr)
      assert.deepEqual(readManifest(again).entries.map((entry) => entry.path).sort(), manifest.entries.map((entry) => entry.path).sort())
      const offline = await ProxyProcess.start(['--offline'], { cacheDir: (await importInto(again)).cacheDir })
      try {
        const installed = await pipInstall(`${offline.url}/simple/`, 'foobar==1.1')
        assert.equal(installed.status, 0, installed.stderr)
        assert.deepEqual(installed.files, ['foobar', 'foobar-1.1.dist-info'])
        const missing = await get(`${offline.url}/simple/not-imported/`)
        // Verifying mode offline: a project no trusted role lists is not a target at all (README says which reason when).
        assert.equal(missing.status, 404)
        assert.equal(missing.headers['x-tuf-proxy-reason'], 'unknown_target')
      } finally {
        await offline.stop()
      }
    } finally {
      await online.stop()
    }
  })

  describe('expiry across the gap', () => {
    before(async () => {
      // Waiting for the real clock to pass the signed expiry is the behaviour under test, not synchronisation.
      const remainingMs = expiresAtMs - Date.now() + 1000
      if (remainingMs > 0) await new Promise((resolve) => setTimeout(resolve, remainingMs))
    })

    test('past the timestamp\'s expiry the offline server answers 503 naming the role and when it expired, and /status says the same', async () => {
      const proxy = await ProxyProcess.start(['--offline'], { cacheDir: expiringCaches.get('timestamp') ?? '' })
      try {
        const expires = new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
        const page = await get(`${proxy.url}/simple/foobar/`)
        assert.equal(page.status, 503)
        assert.equal(page.headers['x-tuf-proxy-reason'], 'offline_metadata_expired')
        const body = JSON.parse(page.text) as { error: string; message: string }
        assert.equal(body.error, 'offline_metadata_expired')
        assert.match(body.message, new RegExp(`the timestamp metadata \\(version \\d+\\) expired at ${expires}; an offline mirror cannot refresh it`))
        const file = await get(`${proxy.url}/files/foobar/${wheel10.filename}`)
        assert.equal(file.status, 503)
        const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as StatusJson
        assert.equal(status.trust?.offline?.expired?.role, 'timestamp')
        assert.equal(status.trust?.offline?.expired?.expires, expires)
        assert.equal(status.trust?.offline?.isServingPastExpiry, false)
        assert.equal(status.trust?.offline?.warning, body.message)
      } finally {
        await proxy.stop()
      }
    })

    for (const { role, name } of [
      { role: 'targets', name: 'the top-level targets role' },
      { role: 'unclaimed', name: 'a delegated role' },
    ]) {
      test(`past the expiry of ${name} the offline server answers 503 naming it (TUF 5.6.5), not 502`, async () => {
        const proxy = await ProxyProcess.start(['--offline'], { cacheDir: expiringCaches.get(role) ?? '' })
        try {
          const expires = new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
          for (const path of ['/simple/foobar/', `/files/foobar/${wheel10.filename}`]) {
            const answer = await get(`${proxy.url}${path}`)
            assert.equal(answer.status, 503, `${path}: ${answer.text}`)
            assert.equal(answer.headers['x-tuf-proxy-reason'], 'offline_metadata_expired')
            const body = JSON.parse(answer.text) as { error: string; message: string }
            assert.match(body.message, new RegExp(`the ${role} metadata \\(version \\d+\\) expired at ${expires}; an offline mirror cannot refresh it: import a newer bundle`))
          }
          if (role === 'targets') {
            // A top-level role: /status and the start-up warning name it too.
            const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as StatusJson
            assert.equal(status.trust?.offline?.expired?.role, 'targets')
            assert.equal(status.trust?.offline?.expired?.expires, expires)
            assert.equal(proxy.logs.find((line) => line.event === 'offline_trust')?.expiredRole, 'targets')
          }
        } finally {
          await proxy.stop()
        }
      })
    }

    test(`--offline-grace serves past the expiry of a delegated role too`, pip, async () => {
      const proxy = await ProxyProcess.start(['--offline', '--offline-grace', '1d'], { cacheDir: expiringCaches.get('unclaimed') ?? '' })
      try {
        const installed = await pipInstall(`${proxy.url}/simple/`, 'foobar==1.0')
        assert.equal(installed.status, 0, installed.stderr)
        assert.deepEqual(installed.files, ['foobar', 'foobar-1.0.dist-info'])
      } finally {
        await proxy.stop()
      }
    })

    test('--offline-grace serves past expiry, with a warning at start and on /status', pip, async () => {
      const proxy = await ProxyProcess.start(['--offline', '--offline-grace', '1d'], { cacheDir: expiringCaches.get('timestamp') ?? '' })
      try {
        const warning = proxy.logs.find((line) => line.event === 'offline_trust')
        assert.equal(warning?.level, 'warn')
        assert.equal(warning?.expiredRole, 'timestamp')
        assert.equal(warning?.servingPastExpiry, true)
        const installed = await pipInstall(`${proxy.url}/simple/`, 'foobar==1.0')
        assert.equal(installed.status, 0, installed.stderr)
        assert.deepEqual(installed.files, ['foobar', 'foobar-1.0.dist-info'])
        const status = JSON.parse((await get(`${proxy.url}/status`, { accept: 'application/json' })).text) as StatusJson
        assert.equal(status.trust?.offline?.graceSeconds, 86_400)
        assert.equal(status.trust?.offline?.isServingPastExpiry, true)
        assert.match(status.trust?.offline?.warning ?? '', /^serving past expiry: the timestamp metadata \(version \d+\) expired at .*; --offline-grace 1d allows it until /)
      } finally {
        await proxy.stop()
      }
    })
  })
})
