import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { IndexFormatError, LinkFormatError, parseProjectListJson, parseProjectPageJson } from '../../../src/index/index.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../../test/fixtures/index/${name}`, import.meta.url), 'utf8')
const PAGE_URL = 'https://example.com/simple/holygrail/'
const SHA = 'ab'.repeat(32)

function pageJson(file: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return JSON.stringify({ meta: { 'api-version': '1.1' }, name: 'x', files: [{ filename: 'x-1.whl', url: '/f/x-1.whl', hashes: {}, ...file }], ...top })
}

function rejects(json: string, message: RegExp): void {
  assert.throws(() => parseProjectPageJson(json, PAGE_URL), (error: unknown) => {
    assert.ok(error instanceof IndexFormatError, `expected IndexFormatError, got ${String(error)}`)
    assert.equal(error.code, 'malformed_index')
    assert.match(error.message, message)
    return true
  })
}

/** One bad file entry costs that entry: the page parses, the entry is reported and absent, a good one beside it stays. */
function dropsLink(json: string, message: RegExp): void {
  const parsedJson = JSON.parse(json) as { files: unknown[] }
  parsedJson.files.push({ filename: 'good-1.whl', url: '/f/good-1.whl', hashes: { sha256: SHA } })
  const dropped: LinkFormatError[] = []
  const parsed = parseProjectPageJson(JSON.stringify(parsedJson), PAGE_URL, { onDroppedLink: (error) => dropped.push(error) })
  assert.deepEqual(parsed.files.map((file) => file.filename), ['good-1.whl'])
  assert.equal(dropped.length, 1, `one dropped entry, got ${dropped.map((error) => error.message).join('; ')}`)
  assert.ok(dropped[0] instanceof LinkFormatError)
  assert.equal(dropped[0].code, 'malformed_link')
  assert.match(dropped[0].message, message)
}

describe('parseProjectPageJson: spec and PyPI pages', () => {
  test('reads the PEP 691 detail example (legacy dist-info-metadata key, blake2b hash, yanked reason)', () => {
    const parsed = parseProjectPageJson(fixture('pep691-project-detail.json'), PAGE_URL)
    assert.equal(parsed.name, 'holygrail')
    assert.deepEqual(parsed.meta, { apiVersion: '1.0' })
    assert.equal(parsed.files.length, 2)
    assert.equal(parsed.files[0]?.yanked, 'Had a vulnerability')
    assert.equal(parsed.files[0]?.coreMetadata, false)
    assert.equal(parsed.files[1]?.coreMetadata, true)
    assert.deepEqual(Object.keys(parsed.files[1]?.hashes ?? {}), ['sha256', 'blake2b'])
  })

  test('reads the PEP 691 list example', () => {
    assert.deepEqual(parseProjectListJson(fixture('pep691-project-list.json'), 'https://example.com/simple/'), {
      meta: { apiVersion: '1.0' },
      projects: [{ name: 'Frob' }, { name: 'spamspamspam' }],
    })
  })

  test("reads PyPI's shape: _last-serial, versions, size, upload-time, data-dist-info-metadata, PEP 792 project-status", () => {
    const parsed = parseProjectPageJson(fixture('pypi-project-detail.json'), 'https://pypi.org/simple/sampleproject/')
    assert.deepEqual(parsed.meta, { apiVersion: '1.4', lastSerial: 24601 })
    assert.deepEqual(parsed.versions, ['1.2.0', '3.0.0'])
    assert.deepEqual(parsed.status, { status: 'active' })
    assert.equal(parsed.extra, undefined)
    assert.deepEqual(parsed.files[0], {
      filename: 'sampleproject-1.2.0.tar.gz',
      url: 'https://files.pythonhosted.org/packages/ab/cd/0123/sampleproject-1.2.0.tar.gz',
      hashes: { sha256: '2'.repeat(64) },
      yanked: false,
      coreMetadata: false,
      size: 1234,
      uploadTime: '2019-10-01T12:00:00.123456Z',
      extra: { provenance: null },
    })
    assert.deepEqual(parsed.files[1]?.coreMetadata, { sha256: '4'.repeat(64) })
    assert.equal(parsed.files[1]?.yanked, true)
  })

  test('PEP 714: core-metadata wins over dist-info-metadata', () => {
    const parsed = parseProjectPageJson(pageJson({ 'core-metadata': { sha256: SHA }, 'dist-info-metadata': true }), PAGE_URL)
    assert.deepEqual(parsed.files[0]?.coreMetadata, { sha256: SHA })
  })

  test('resolves a relative url against the page and drops its fragment', () => {
    const parsed = parseProjectPageJson(pageJson({ url: '../../f/x-1.whl#sha256=00' }), PAGE_URL)
    assert.equal(parsed.files[0]?.url, 'https://example.com/f/x-1.whl')
  })

  test('a __proto__ key stays data and does not reach the prototype', () => {
    const raw = '{"meta":{"api-version":"1.0"},"name":"x","files":[{"filename":"x-1.whl","url":"/f/x-1.whl","hashes":{},"__proto__":{"polluted":true}}]}'
    const file = parseProjectPageJson(raw, PAGE_URL).files[0]
    assert.deepEqual(Object.getOwnPropertyDescriptor(file?.extra ?? {}, '__proto__')?.value, { polluted: true })
    assert.equal(Object.getPrototypeOf(file?.extra), Object.prototype)
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
  })
})

describe('parseProjectPageJson: malformed and hostile pages', () => {
  const pageCases: Array<[string, string, RegExp]> = [
    ['not JSON', '<html>oops</html>', /not valid JSON/],
    ['a JSON array', '[]', /must be a JSON object/],
    ['no meta', '{"name":"x","files":[]}', /meta must be an object/],
    ['api-version a number', '{"meta":{"api-version":1},"name":"x","files":[]}', /api-version must be a string/],
    ['api-version 2.0', '{"meta":{"api-version":"2.0"},"name":"x","files":[]}', /major version/],
    ['_last-serial a string', '{"meta":{"api-version":"1.0","_last-serial":"5"},"name":"x","files":[]}', /_last-serial/],
    ['name invalid', '{"meta":{"api-version":"1.0"},"name":"../x","files":[]}', /valid project name/],
    ['files not an array', '{"meta":{"api-version":"1.0"},"name":"x","files":{}}', /files must be an array/],
    ['versions with a number', pageJson({}, { versions: ['1.0', 2] }), /versions must be/],
  ]
  for (const [name, json, message] of pageCases) {
    test(`refuses the page for ${name}, with a clear message`, () => rejects(json, message))
  }

  const fileCases: Array<[string, string, RegExp]> = [
    ['a file that is a string', '{"meta":{"api-version":"1.0"},"name":"x","files":["x-1.whl"]}', /files\[0\] must be an object/],
    ['filename missing', pageJson({ filename: undefined }), /filename must be a string/],
    ['url a number', pageJson({ url: 5 }), /url must be a string/],
    ['hashes an array', pageJson({ hashes: [] }), /hashes must be an object/],
    ['hash value not hex', pageJson({ hashes: { sha256: 'zz' } }), /hex digits/],
    ['hash value of the wrong length', pageJson({ hashes: { sha256: SHA.slice(2) } }), /not 64 hex digits/],
    ['conflicting duplicate digests', pageJson({ hashes: { sha256: SHA, SHA256: 'cd'.repeat(32) } }), /listed twice with different values/],
    ['hash value a number', pageJson({ hashes: { sha256: 5 } }), /must be a string of hex/],
    ['hash name odd', pageJson({ hashes: { 'sha-256!': SHA } }), /not a hash algorithm name/],
    ['requires-python a number', pageJson({ 'requires-python': 3 }), /requires-python/],
    ['yanked a number', pageJson({ yanked: 1 }), /yanked must be/],
    ['core-metadata a string', pageJson({ 'core-metadata': 'true' }), /core-metadata must be/],
    ['gpg-sig a string', pageJson({ 'gpg-sig': 'true' }), /gpg-sig must be a boolean/],
    ['size negative', pageJson({ size: -1 }), /size must be/],
    ['size fractional', pageJson({ size: 1.5 }), /size must be/],
    ['upload-time not ISO', pageJson({ 'upload-time': 'yesterday' }), /upload-time/],
    ['javascript: url', pageJson({ url: 'javascript:alert(1)//x-1.whl' }), /only http and https/],
    ['file: url', pageJson({ url: 'file:///etc/x-1.whl' }), /only http and https/],
    ['filename/url mismatch', pageJson({ url: '/f/evil-1.whl' }), /does not match/],
  ]
  for (const [name, json, message] of fileCases) {
    test(`drops only the entry for ${name}, with a clear message`, () => dropsLink(json, message))
  }

  test('keeps every digest, weak and unknown ones too, spelled as the hash table does', () => {
    const md5 = '0123456789abcdef'.repeat(2)
    const parsed = parseProjectPageJson(pageJson({ hashes: { MD5: md5, 'blake2b-256': SHA, whirlpool: 'ff' } }), PAGE_URL)
    assert.deepEqual(parsed.files[0]?.hashes, { md5, blake2b_256: SHA, whirlpool: 'ff' })
  })

  test('relative urls resolve against where a redirect led (baseUrl)', () => {
    const parsed = parseProjectPageJson(pageJson({ url: '../../f/x-1.whl' }), PAGE_URL, { baseUrl: 'https://mirror.example/pypi/simple/x/' })
    assert.equal(parsed.files[0]?.url, 'https://mirror.example/pypi/f/x-1.whl')
  })

  test('keeps the first of duplicate filenames', () => {
    const json = JSON.stringify({
      meta: { 'api-version': '1.0' },
      name: 'x',
      files: [
        { filename: 'x-1.whl', url: '/good/x-1.whl', hashes: { sha256: SHA } },
        { filename: 'x-1.whl', url: 'https://evil.example/x-1.whl', hashes: { sha256: 'cd'.repeat(32) } },
      ],
    })
    const parsed = parseProjectPageJson(json, PAGE_URL)
    assert.equal(parsed.files.length, 1)
    assert.equal(parsed.files[0]?.url, 'https://example.com/good/x-1.whl')
  })

  test('a project list with a non-string name is refused; invalid names are dropped', () => {
    assert.throws(() => parseProjectListJson('{"meta":{"api-version":"1.0"},"projects":[{"name":1}]}', 'https://e/simple/'), /projects\[0\]/)
    const parsed = parseProjectListJson('{"meta":{"api-version":"1.1","_last-serial":3},"projects":[{"name":"a","_last-serial":1},{"name":"../b"},{"name":"B"}]}', 'https://e/simple/')
    assert.deepEqual(parsed, { meta: { apiVersion: '1.1', lastSerial: 3 }, projects: [{ name: 'a' }, { name: 'B' }] })
  })
})
