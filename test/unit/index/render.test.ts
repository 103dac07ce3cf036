import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  parseProjectListHtml,
  parseProjectListJson,
  parseProjectPageHtml,
  parseProjectPageJson,
  renderProjectListHtml,
  renderProjectListJson,
  renderProjectPageHtml,
  renderProjectPageJson,
  rewriteFileUrls,
  type ProjectPage,
} from '../../../src/index/index.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../../test/fixtures/index/${name}`, import.meta.url), 'utf8')
const PAGE_URL = 'https://example.com/simple/demo/'
const SHA = 'ab'.repeat(32)

// Everything the HTML form can carry: one strong hash per file and per core-metadata.
const HTML_EXPRESSIBLE: ProjectPage = {
  name: 'demo',
  meta: { apiVersion: '1.1', lastSerial: 42 },
  // PEP 792, in both formats
  status: { status: 'quarantined', reason: 'reported <"&> as malware' },
  files: [
    { filename: 'demo-1.0.tar.gz', url: 'https://files.example/p/demo-1.0.tar.gz', hashes: { sha256: SHA }, yanked: false, coreMetadata: false },
    {
      filename: 'demo-2.0-py3-none-any.whl',
      url: 'https://files.example/p/demo-2.0-py3-none-any.whl',
      hashes: { sha512: 'cd'.repeat(64) },
      requiresPython: '>=3.8,<4',
      yanked: 'broken <"&\'> build',
      coreMetadata: { sha256: 'ef'.repeat(32) },
      gpgSig: false,
    },
    { filename: 'demo-3.0.zip', url: 'https://files.example/p/demo-3.0.zip', hashes: {}, yanked: true, coreMetadata: true, gpgSig: true },
  ],
}

const JSON_ONLY: ProjectPage = {
  ...HTML_EXPRESSIBLE,
  versions: ['1.0', '2.0', '3.0'],
  extra: { tracks: ['https://other.example/simple/demo/'] },
  files: HTML_EXPRESSIBLE.files.map((file, index) => ({
    ...file,
    hashes: { ...file.hashes, blake2b_256: '01'.repeat(32) },
    size: 1000 + index,
    uploadTime: '2024-01-02T03:04:05.123456Z',
    extra: { provenance: null, 'x-custom': [index] },
  })),
}

describe('round trips (model equality)', () => {
  test('HTML: parse(render(model)) equals the model', () => {
    assert.deepEqual(parseProjectPageHtml(renderProjectPageHtml(HTML_EXPRESSIBLE), PAGE_URL), HTML_EXPRESSIBLE)
  })

  test('JSON: parse(render(model)) equals the model, PEP 700 fields and extra keys included', () => {
    assert.deepEqual(parseProjectPageJson(renderProjectPageJson(JSON_ONLY), PAGE_URL), JSON_ONLY)
  })

  test('cross-format: HTML in → JSON out → the same model', () => {
    const fromHtml = parseProjectPageHtml(fixture('pypi-project-detail.html'), 'https://pypi.org/simple/sampleproject/')
    assert.deepEqual(parseProjectPageJson(renderProjectPageJson(fromHtml), 'https://pypi.org/simple/sampleproject/'), fromHtml)
  })

  test('cross-format: JSON in → HTML out → the same files, minus what HTML cannot carry', () => {
    const fromJson = parseProjectPageJson(fixture('pypi-project-detail.json'), 'https://pypi.org/simple/sampleproject/')
    const back = parseProjectPageHtml(renderProjectPageHtml(fromJson), 'https://pypi.org/simple/sampleproject/')
    const strip = (page: ProjectPage): unknown =>
      page.files.map(({ size: _size, uploadTime: _uploadTime, extra: _extra, ...rest }) => rest)
    assert.deepEqual(strip(back), strip(fromJson))
    assert.deepEqual(back.meta, { apiVersion: '1.4', lastSerial: 24601 })
  })

  test('spec fixtures: PEP 503 HTML and PEP 691 JSON describe the same files', () => {
    const fromHtml = parseProjectPageHtml(fixture('pep503-project-detail.html'), 'https://example.com/simple/holygrail/')
    const fromJson = parseProjectPageJson(fixture('pep691-project-detail.json'), 'https://example.com/simple/holygrail/')
    const sha256Only = (page: ProjectPage): unknown => page.files.map((file) => ({ ...file, hashes: { sha256: file.hashes['sha256'] } }))
    assert.deepEqual(sha256Only(fromHtml), sha256Only(fromJson))
  })

  test('project lists round-trip through both formats', () => {
    const list = { meta: { apiVersion: '1.0', lastSerial: 9 }, projects: [{ name: 'Frob' }, { name: 'zope.interface' }] }
    assert.deepEqual(parseProjectListHtml(renderProjectListHtml(list), 'https://e/simple/'), list)
    assert.deepEqual(parseProjectListJson(renderProjectListJson(list), 'https://e/simple/'), list)
  })
})

describe('rendering', () => {
  test('project list HTML links are relative normalized names', () => {
    const html = renderProjectListHtml({ meta: { apiVersion: '1.0' }, projects: [{ name: 'Zope.Interface' }] })
    assert.match(html, /<a href="zope-interface\/">Zope.Interface<\/a>/)
    assert.match(html, /<meta name="pypi:repository-version" content="1.0">/)
    assert.doesNotMatch(html, /SERIAL/)
  })

  test('escapes <"&\' in filenames, reasons, requires-python and URLs', () => {
    const html = renderProjectPageHtml({
      name: 'demo',
      meta: { apiVersion: '1.0' },
      files: [
        {
          filename: `a<b>"c'&d.whl`,
          url: `https://files.example/a<b>"c'&d.whl?x=1&y=2`,
          hashes: {},
          requiresPython: '>=3.8,<4',
          yanked: `"><script>alert('x')</script>`,
          coreMetadata: false,
        },
      ],
    })
    assert.doesNotMatch(html, /<script>|<b>/)
    assert.match(html, /href="https:\/\/files\.example\/a&lt;b&gt;&quot;c&#39;&amp;d\.whl\?x=1&amp;y=2"/)
    assert.match(html, /data-requires-python="&gt;=3\.8,&lt;4"/)
    assert.match(html, /data-yanked="&quot;&gt;&lt;script&gt;alert\(&#39;x&#39;\)&lt;\/script&gt;"/)
    assert.match(html, />a&lt;b&gt;&quot;c&#39;&amp;d\.whl<\/a>/)
  })

  test('HTML emits both PEP 714 attributes with the same value, and sha256 as the fragment', () => {
    const html = renderProjectPageHtml(HTML_EXPRESSIBLE)
    assert.match(html, new RegExp(`demo-1\\.0\\.tar\\.gz#sha256=${SHA}"`))
    assert.match(html, new RegExp(`data-dist-info-metadata="sha256=${'ef'.repeat(32)}" data-core-metadata="sha256=${'ef'.repeat(32)}"`))
    assert.match(html, /<!--SERIAL 42-->/)
  })

  test('HTML carries one digest per link (PEP 503): sha256 first, else the strongest, a weak one rather than none', () => {
    const base = HTML_EXPRESSIBLE.files[0]
    assert.ok(base !== undefined)
    const render = (hashes: Record<string, string>): string => renderProjectPageHtml({ ...HTML_EXPRESSIBLE, files: [{ ...base, hashes }] })
    assert.match(render({ md5: '00'.repeat(16), sha512: '11'.repeat(64), sha256: SHA }), new RegExp(`demo-1\\.0\\.tar\\.gz#sha256=${SHA}"`))
    assert.match(render({ md5: '00'.repeat(16), sha384: '22'.repeat(48) }), /\.tar\.gz#sha384=2{96}"/)
    assert.match(render({ md5: '00'.repeat(16) }), /\.tar\.gz#md5=0{32}"/)
    assert.match(render({ sha1: '33'.repeat(20), whirlpool: 'ff' }), /\.tar\.gz#sha1=3{40}"/)
    assert.match(render({ whirlpool: 'ff' }), /\.tar\.gz"/)
  })

  test('a weak-only link round-trips through both renderings with its digest', () => {
    const base = HTML_EXPRESSIBLE.files[0]
    assert.ok(base !== undefined)
    const weak: ProjectPage = { ...HTML_EXPRESSIBLE, files: [{ ...base, hashes: { md5: '00'.repeat(16) }, coreMetadata: { sha1: '44'.repeat(20) } }] }
    const url = 'https://example.com/simple/demo/'
    assert.deepEqual(parseProjectPageHtml(renderProjectPageHtml(weak), url).files, weak.files)
    assert.deepEqual(parseProjectPageJson(renderProjectPageJson(weak), url).files, weak.files)
  })

  test('JSON keeps every digest, weak and unknown ones included', () => {
    const base = HTML_EXPRESSIBLE.files[0]
    assert.ok(base !== undefined)
    const hashes = { sha256: SHA, md5: '00'.repeat(16), whirlpool: 'ff' }
    const json = JSON.parse(renderProjectPageJson({ ...HTML_EXPRESSIBLE, files: [{ ...base, hashes }] })) as { files: Array<{ hashes: unknown }> }
    assert.deepEqual(json.files[0]?.hashes, hashes)
  })

  test('JSON emits core-metadata but not the legacy dist-info-metadata key that crashes pip 22.3–23.1 (PEP 714)', () => {
    const json = JSON.parse(renderProjectPageJson(HTML_EXPRESSIBLE)) as { files: Array<Record<string, unknown>> }
    assert.deepEqual(json.files[1]?.['core-metadata'], { sha256: 'ef'.repeat(32) })
    assert.equal('dist-info-metadata' in (json.files[1] ?? {}), false)
    assert.equal(json.files[0]?.['core-metadata'], false)
  })

  test('JSON: an extra key never overrides a known one', () => {
    const file = HTML_EXPRESSIBLE.files[0]
    assert.ok(file !== undefined)
    const json = renderProjectPageJson({ ...HTML_EXPRESSIBLE, files: [{ ...file, extra: { url: 'https://evil.example/x' } }] })
    assert.doesNotMatch(json, /evil/)
  })

  test('rendering is deterministic', () => {
    assert.equal(renderProjectPageJson(JSON_ONLY), renderProjectPageJson(structuredClone(JSON_ONLY)))
    assert.equal(renderProjectPageHtml(JSON_ONLY), renderProjectPageHtml(structuredClone(JSON_ONLY)))
  })

  test('rewriteFileUrls replaces only the url and leaves the input untouched', () => {
    const rewritten = rewriteFileUrls(HTML_EXPRESSIBLE, (file) => `/files/${file.filename}`)
    assert.deepEqual(rewritten.files.map((file) => file.url), ['/files/demo-1.0.tar.gz', '/files/demo-2.0-py3-none-any.whl', '/files/demo-3.0.zip'])
    assert.deepEqual({ ...rewritten, files: rewritten.files.map(({ url: _url, ...rest }) => rest) }, { ...HTML_EXPRESSIBLE, files: HTML_EXPRESSIBLE.files.map(({ url: _url, ...rest }) => rest) })
    assert.equal(HTML_EXPRESSIBLE.files[0]?.url, 'https://files.example/p/demo-1.0.tar.gz')
  })
})
