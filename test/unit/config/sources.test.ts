/**
 * The structured config-file keys `sources:`, `routes:` and `policy:`: their absence changes
 * nothing, and every mistake is a ConfigError naming the key path and the file.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseSettings, type RawLayer } from '../../../src/config/index.js'

const FILE = 'proxy.yaml'
/** A source's `tuf:` as written in the file. */
const TUF = { root: '/etc/tuf/pypi-root.json', 'metadata-url': 'https://tuf.example.org/metadata', 'targets-url': 'https://files.example.org/' }

function settings(file: Record<string, unknown>, flags: Record<string, unknown> = {}) {
  const layer = (values: Record<string, unknown>, source: (key: string) => string): RawLayer => new Map(Object.entries(values).map(([key, value]) => [key, { value, source: source(key) }]))
  return parseSettings([layer(file, () => FILE), layer(flags, (key) => `--${key}`)], '/cache')
}

function rejects(file: Record<string, unknown>, message: RegExp, flags: Record<string, unknown> = {}): void {
  assert.throws(() => settings(file, flags), (error: unknown) => error instanceof ConfigError && message.test(error.message))
}

describe('sources:, routes: and policy: in the config file', () => {
  test('absent: no routing at all (the single --upstream as before)', () => {
    assert.equal(settings({}).routing, undefined)
  })

  test('sources with a public index and a folder; their index hosts are allowed, PyPI with its file host', () => {
    const parsed = settings({
      sources: [
        { name: 'internal', url: 'https://user:pw@pypi.internal.example/simple' },
        { name: 'local', path: '/srv/wheels' },
        { name: 'pypi', url: 'https://pypi.org/simple/', public: true },
      ],
      routes: [{ projects: ['acme-*'], sources: ['internal', 'local'] }],
    })
    assert.deepEqual(parsed.routing?.sources, [
      { name: 'internal', kind: 'index', url: 'https://user:pw@pypi.internal.example/simple/', isPublic: false },
      { name: 'local', kind: 'folder', path: '/srv/wheels', isPublic: false },
      { name: 'pypi', kind: 'index', url: 'https://pypi.org/simple/', isPublic: true },
    ])
    assert.deepEqual(parsed.routing?.routes, [{ projects: ['acme-*'], sources: ['internal', 'local'] }])
    assert.equal(parsed.routing?.policy, undefined)
    assert.deepEqual([...parsed.allowedHosts].sort(), ['files.pythonhosted.org', 'pypi.internal.example', 'pypi.org'])
  })

  test('policy with defaults filled in and durations read by the one parser', () => {
    const parsed = settings({ policy: { 'min-release-age': '3d', deny: ['requests==2.99.0'] } })
    assert.deepEqual(parsed.routing?.policy, {
      minReleaseAgeSeconds: 3 * 86_400,
      releaseAgeClock: 'upload-time',
      missingUploadTime: 'deny',
      exempt: [],
      deny: ['requests==2.99.0'],
      allowOnly: [],
      yanked: 'serve',
    })
    assert.equal(parsed.routing?.sources, undefined)
  })

  const mistakes: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty source list', { sources: [] }, /^sources \(in proxy\.yaml\): must be a non-empty list/],
    ['a source with both url and path', { sources: [{ name: 'a', url: 'https://a.example/', path: '/x' }] }, /^sources\[0\] \(in proxy\.yaml\): needs exactly one of url/],
    ['a duplicate name', { sources: [{ name: 'a', url: 'https://a.example/' }, { name: 'a', url: 'https://b.example/' }] }, /^sources\[1\]\.name .*used by another source/],
    ['a name that cannot be a records namespace', { sources: [{ name: 'Big_Name', url: 'https://a.example/' }] }, /^sources\[0\]\.name .*lower-case/],
    ['an ftp URL', { sources: [{ name: 'a', url: 'ftp://a.example/' }] }, /^sources\[0\]\.url .*http:\/\/ or https:\/\//],
    ['a public folder', { sources: [{ name: 'a', path: '/x', public: true }] }, /^sources\[0\]\.public .*cannot be public/],
    ['a tuf: without its root', { sources: [{ name: 'a', url: 'https://a.example/', tuf: { 'metadata-url': 'https://m.example/', 'targets-url': 'https://a.example/' } }] }, /^sources\[0\]\.tuf\.root \(in proxy\.yaml\): is missing: verifying mode needs root, metadata-url and targets-url/],
    ['a tuf: that is not a mapping', { sources: [{ name: 'a', url: 'https://a.example/', tuf: 'root.json' }] }, /^sources\[0\]\.tuf .*must be a mapping/],
    ['an unknown tuf: key', { sources: [{ name: 'a', url: 'https://a.example/', tuf: { ...TUF, 'max-root-bytes': 1 } }] }, /^sources\[0\]\.tuf\.max-root-bytes .*unknown key \(known: root, metadata-url, targets-url, layout, refresh\)/],
    ['an unknown tuf layout', { sources: [{ name: 'a', url: 'https://a.example/', tuf: { ...TUF, layout: 'flat' } }] }, /^sources\[0\]\.tuf\.layout .*must be one of paths, warehouse, got "flat"/],
    ['a bad tuf refresh', { sources: [{ name: 'a', url: 'https://a.example/', tuf: { ...TUF, refresh: 'hourly' } }] }, /^sources\[0\]\.tuf\.refresh .*must be a duration/],
    ['a tuf metadata-url that is not http', { sources: [{ name: 'a', url: 'https://a.example/', tuf: { ...TUF, 'metadata-url': 'file:///m/' } }] }, /^sources\[0\]\.tuf\.metadata-url .*http:\/\/ or https:\/\//],
    ['tuf: on a folder', { sources: [{ name: 'a', path: '/srv/wheels', tuf: TUF }] }, /^sources\[0\]\.tuf .*a local folder has no TUF repository/],
    ['an unknown source key', { sources: [{ name: 'a', url: 'https://a.example/', priority: 1 }] }, /^sources\[0\]\.priority .*unknown key/],
    ['a route to an unknown source', { sources: [{ name: 'a', url: 'https://a.example/' }], routes: [{ projects: ['x'], sources: ['b'] }] }, /^routes\[0\]\.sources .*"b" is not the name of a source/],
    ['routes without sources', { routes: [{ projects: ['x'], sources: ['b'] }] }, /^routes .*needs a sources: list/],
    ['a bad duration', { policy: { 'min-release-age': '3 days' } }, /^policy\.min-release-age \(in proxy\.yaml\): must be a duration/],
    ['a bad clock', { policy: { 'release-age-clock': 'wall' } }, /^policy\.release-age-clock .*upload-time, first-seen/],
    ['an unknown policy key', { policy: { cooldown: '3d' } }, /^policy\.cooldown .*unknown key/],
  ]
  for (const [what, file, message] of mistakes) test(`rejected: ${what}`, () => rejects(file, message))

  test('rejected: sources: together with --upstream, which it replaces', () => {
    rejects({ sources: [{ name: 'a', url: 'https://a.example/' }] }, /--upstream .*and sources: .*exclude each other/, { upstream: 'https://b.example/' })
  })

  test('a source with tuf: is in verifying mode against its own repository; the rest comes from the --tuf-* flags and their defaults', () => {
    const parsed = settings({
      sources: [
        { name: 'internal', url: 'https://pypi.internal.example/simple/' },
        { name: 'pypi', url: 'https://files.example.org/simple/', public: true, tuf: TUF },
        { name: 'mirror', url: 'https://mirror.example/simple/', public: true, tuf: { ...TUF, layout: 'warehouse', refresh: '5m' } },
      ],
    })
    const [internal, pypi, mirror] = parsed.routing?.sources ?? []
    assert.equal(internal?.kind === 'index' ? internal.tuf : 'folder', undefined, 'a source without tuf: is hash-only')
    assert.deepEqual(pypi?.kind === 'index' ? pypi.tuf : undefined, {
      rootFile: '/etc/tuf/pypi-root.json',
      metadataUrl: 'https://tuf.example.org/metadata/',
      targetsUrl: 'https://files.example.org/',
      layout: 'paths',
      refreshSeconds: 60,
      maxRootBytes: 512 * 1024,
      maxTimestampBytes: 16 * 1024,
      maxDelegations: 32,
    })
    assert.deepEqual(mirror?.kind === 'index' ? [mirror.tuf?.layout, mirror.tuf?.refreshSeconds] : undefined, ['warehouse', 300])
    // Its repository's metadata and targets hosts are allowed, as --tuf-*-url's are.
    assert.deepEqual([...parsed.allowedHosts].sort(), ['files.example.org', 'mirror.example', 'pypi.internal.example', 'tuf.example.org'])
    assert.equal(parsed.tuf, undefined, 'no single-upstream verifying mode')
    const flagged = settings({ sources: [{ name: 'pypi', url: 'https://files.example.org/simple/', tuf: TUF }] }, { 'tuf-refresh': '2m', 'tuf-max-delegations': '4' })
    const source = flagged.routing?.sources?.[0]
    assert.deepEqual(source?.kind === 'index' ? [source.tuf?.refreshSeconds, source.tuf?.maxDelegations] : undefined, [120, 4])
  })

  test('rejected: --tuf-root together with sources:, pointing at the per-source tuf:', () => {
    rejects({ sources: [{ name: 'a', url: 'https://a.example/' }] }, /--tuf-root \(from --tuf-root\) and sources: .*exclude each other: give the verifying index its own tuf:/, {
      'tuf-root': '/r.json',
      'tuf-metadata-url': 'https://m.example/',
      'tuf-targets-url': 'https://a.example/',
    })
  })

  test('rejected: --offline with a source in verifying mode (an import records one repository, not a source)', () => {
    rejects({ sources: [{ name: 'pypi', url: 'https://files.example.org/simple/', tuf: TUF }] }, /--offline does not take a source's tuf: \(sources entry "pypi"\)/, { offline: true })
  })
})
