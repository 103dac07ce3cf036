/**
 * The structured config-file keys `sources:`, `routes:` and `policy:`: their absence changes
 * nothing, and every mistake is a ConfigError naming the key path and the file.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseSettings, type RawLayer } from '../../../src/config/index.js'

const FILE = 'proxy.yaml'

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
    ['per-source tuf (not built)', { sources: [{ name: 'a', url: 'https://a.example/', tuf: {} }] }, /^sources\[0\]\.tuf .*not supported yet/],
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
})
