import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { IndexFormatError, LinkFormatError, parseProjectListHtml, parseProjectPageHtml } from '../../../src/index/index.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../../test/fixtures/index/${name}`, import.meta.url), 'utf8')
const PAGE_URL = 'https://example.com/simple/holygrail/'
const SHA = 'ab'.repeat(32)

function page(body: string): string {
  return `<!DOCTYPE html><html><body>${body}</body></html>`
}

function rejects(html: string, message: RegExp): void {
  assert.throws(() => parseProjectPageHtml(html, PAGE_URL), (error: unknown) => {
    assert.ok(error instanceof IndexFormatError, `expected IndexFormatError, got ${String(error)}`)
    assert.equal(error.code, 'malformed_index')
    assert.match(error.message, message)
    return true
  })
}

/** One bad link costs that link: the page parses, the link is reported and absent, a good one beside it stays. */
function dropsLink(body: string, message: RegExp): void {
  const dropped: LinkFormatError[] = []
  const good = `<a href="/f/good-1.whl#sha256=${SHA}">good-1.whl</a>`
  const parsed = parseProjectPageHtml(page(`${body}${good}`), PAGE_URL, { onDroppedLink: (error) => dropped.push(error) })
  assert.deepEqual(parsed.files.map((file) => file.filename), ['good-1.whl'])
  assert.equal(dropped.length, 1, `one dropped link, got ${dropped.map((error) => error.message).join('; ')}`)
  assert.ok(dropped[0] instanceof LinkFormatError)
  assert.equal(dropped[0].code, 'malformed_link')
  assert.match(dropped[0].message, message)
}

describe('parseProjectPageHtml: spec and PyPI pages', () => {
  test('reads the PEP 503 example: hash fragment, requires-python entity, yanked reason, legacy metadata attribute, relative link', () => {
    const parsed = parseProjectPageHtml(fixture('pep503-project-detail.html'), PAGE_URL)
    assert.deepEqual(parsed, {
      name: 'holygrail',
      meta: { apiVersion: '1.0' }, // PEP 629: no meta tag means 1.0
      files: [
        {
          filename: 'holygrail-1.0.tar.gz',
          url: 'https://example.com/files/holygrail-1.0.tar.gz',
          hashes: { sha256: '0b6c7b2bc2e0e5a0f3a4e6d1cbb0e1b2c3d4e5f60718293a4b5c6d7e8f901234' },
          requiresPython: '>=3.7',
          yanked: 'Had a vulnerability',
          coreMetadata: false,
        },
        {
          filename: 'holygrail-1.0-py3-none-any.whl',
          url: 'https://example.com/files/holygrail-1.0-py3-none-any.whl',
          hashes: { sha256: '1b6c7b2bc2e0e5a0f3a4e6d1cbb0e1b2c3d4e5f60718293a4b5c6d7e8f901234' },
          requiresPython: '>=3.7',
          yanked: false,
          coreMetadata: true,
        },
      ],
    })
  })

  test("reads PyPI's template: repository-version 1.4, empty data-yanked, core-metadata hash, SERIAL comment", () => {
    const parsed = parseProjectPageHtml(fixture('pypi-project-detail.html'), 'https://pypi.org/simple/SampleProject/')
    assert.equal(parsed.name, 'sampleproject')
    assert.deepEqual(parsed.meta, { apiVersion: '1.4', lastSerial: 24601 })
    assert.equal(parsed.files.length, 2)
    assert.deepEqual(parsed.files[1], {
      filename: 'sampleproject-3.0.0-py3-none-any.whl',
      url: 'https://files.pythonhosted.org/packages/ef/01/4567/sampleproject-3.0.0-py3-none-any.whl',
      hashes: { sha256: '3'.repeat(64) },
      requiresPython: '>=3.8',
      yanked: true,
      coreMetadata: { sha256: '4'.repeat(64) },
    })
  })

  test('PEP 714: data-core-metadata wins over data-dist-info-metadata', () => {
    const parsed = parseProjectPageHtml(
      page(`<a href="/f/x-1.whl" data-dist-info-metadata="true" data-core-metadata="sha256=${SHA}">x-1.whl</a>`),
      PAGE_URL,
    )
    assert.deepEqual(parsed.files[0]?.coreMetadata, { sha256: SHA })
  })

  test('reads data-gpg-sig, upper-case hex and attributes in any quote style', () => {
    const parsed = parseProjectPageHtml(
      page(`<A HREF='/f/x-1.whl#SHA256=${SHA.toUpperCase()}' data-gpg-sig=true data-requires-python=">=3.8,&lt;4">x-1.whl</A>`),
      PAGE_URL,
    )
    assert.deepEqual(parsed.files[0], {
      filename: 'x-1.whl',
      url: 'https://example.com/f/x-1.whl',
      hashes: { sha256: SHA },
      requiresPython: '>=3.8,<4',
      yanked: false,
      coreMetadata: false,
      gpgSig: true,
    })
  })

  test('refuses a repository-version with an unknown major version (PEP 629)', () => {
    rejects(`<meta name="pypi:repository-version" content="2.0">${page('')}`, /major version/)
  })
})

describe('parseProjectPageHtml: hostile pages', () => {
  const hostileLinks: Array<[string, string]> = [
    ['javascript:', '<a href="javascript:alert(1)">x-1.whl</a>'],
    ['entity-encoded javascript:', '<a href="&#x6a;avascript:alert(1)//x-1.whl">x-1.whl</a>'],
    ['decimal-entity javascript:', '<a href="&#106;avascript:alert(1)//x-1.whl">x-1.whl</a>'],
    ['tab inside the scheme', '<a href="java&#9;script:alert(1)//x-1.whl">x-1.whl</a>'],
    ['data:', '<a href="data:text/plain,hi/x-1.whl">x-1.whl</a>'],
    ['file:', '<a href="file:///etc/x-1.whl">x-1.whl</a>'],
    ['ftp:', '<a href="ftp://example.com/x-1.whl">x-1.whl</a>'],
  ]
  for (const [name, anchor] of hostileLinks) {
    test(`drops a ${name} link (only http and https are allowed) and keeps the rest of the page`, () => {
      dropsLink(anchor, /only http and https/)
    })
  }

  test('keeps an off-host absolute link absolute: the host allowlist is the caller’s decision', () => {
    const parsed = parseProjectPageHtml(page('<a href="https://evil.example/x-1.whl">x-1.whl</a>'), PAGE_URL)
    assert.equal(parsed.files[0]?.url, 'https://evil.example/x-1.whl')
  })

  test('keeps the first of duplicate filenames so an appended link cannot shadow a listed file', () => {
    const parsed = parseProjectPageHtml(
      page(`<a href="/good/x-1.whl#sha256=${SHA}">x-1.whl</a><a href="https://evil.example/x-1.whl#sha256=${'cd'.repeat(32)}">x-1.whl</a>`),
      PAGE_URL,
    )
    assert.equal(parsed.files.length, 1)
    assert.equal(parsed.files[0]?.url, 'https://example.com/good/x-1.whl')
    assert.deepEqual(parsed.files[0]?.hashes, { sha256: SHA })
  })

  test('drops a link whose text differs from the URL file name (PEP 503), which would let a page advertise one file and serve another', () => {
    dropsLink('<a href="/f/evil-1.whl">good-1.whl</a>', /does not match/)
  })

  test('drops a link whose filename is not one plain path segment', () => {
    dropsLink('<a href="/f/..">..</a>', /plain file name/)
    dropsLink('<a href="/f/a%2Fb.whl">a/b.whl</a>', /plain file name/)
  })

  test('takes the file name from the URL when the link text is empty', () => {
    const parsed = parseProjectPageHtml(page('<a href="/f/x-1.whl"></a>'), PAGE_URL)
    assert.equal(parsed.files[0]?.filename, 'x-1.whl')
  })

  test('drops a link with a malformed or wrong-length hash fragment', () => {
    dropsLink('<a href="/f/x-1.whl#sha256=zz">x-1.whl</a>', /not 64 hex digits/)
    dropsLink('<a href="/f/x-1.whl#sha256=abc">x-1.whl</a>', /not 64 hex digits/)
  })

  test('drops a link whose digests conflict, and one whose md5 has the wrong length', () => {
    dropsLink(`<a href="/f/x-1.whl#sha256=${SHA}&sha256=${'cd'.repeat(32)}">x-1.whl</a>`, /listed twice with different values/)
    dropsLink(`<a href="/f/x-1.whl#sha256=${SHA}&SHA256=${'cd'.repeat(32)}">x-1.whl</a>`, /listed twice with different values/)
    dropsLink('<a href="/f/x-1.whl#md5=abcd">x-1.whl</a>', /not 32 hex digits/)
  })

  test('every bad link is reported; the good ones stay in order', () => {
    const dropped: string[] = []
    const parsed = parseProjectPageHtml(
      page(`<a href="/f/a-1.whl">a-1.whl</a><a href="file:///b-1.whl">b-1.whl</a><a href="/f/c-1.whl">other.whl</a><a href="/f/d-1.whl">d-1.whl</a>`),
      PAGE_URL,
      { onDroppedLink: (error) => dropped.push(error.message) },
    )
    assert.deepEqual(parsed.files.map((file) => file.filename), ['a-1.whl', 'd-1.whl'])
    assert.equal(dropped.length, 2)
    assert.match(dropped[0] ?? '', /^anchor 2: .*"file:"/)
    assert.match(dropped[1] ?? '', /^anchor 3: .*does not match/)
  })

  test('a dropped link does not hide a later link with the same filename (the page is the only evidence either way)', () => {
    const parsed = parseProjectPageHtml(page(`<a href="/f/x-1.whl#sha256=zz">x-1.whl</a><a href="/f/x-1.whl#sha256=${SHA}">x-1.whl</a>`), PAGE_URL, { onDroppedLink: () => {} })
    assert.deepEqual(parsed.files[0]?.hashes, { sha256: SHA })
  })

  test('a refused <base href> still refuses the page as a whole: every relative link would depend on it', () => {
    rejects(page('<base href="file:///etc/"><a href="x-1.whl">x-1.whl</a>'), /only http and https/)
  })

  test('keeps a weak-only digest and spells hash names as the hash table does', () => {
    const md5 = '0123456789abcdef'.repeat(2)
    const parsed = parseProjectPageHtml(page(`<a href="/f/x-1.whl#MD5=${md5.toUpperCase()}">x-1.whl</a><a href="/f/y-1.whl#blake2b-256=${SHA}">y-1.whl</a>`), PAGE_URL)
    assert.deepEqual(parsed.files.map((file) => file.hashes), [{ md5 }, { blake2b_256: SHA }])
  })

  test('relative links resolve against where a redirect led (baseUrl), the project name against the page URL', () => {
    const parsed = parseProjectPageHtml(page('<a href="../../files/x-1.whl">x-1.whl</a>'), PAGE_URL, { baseUrl: 'https://mirror.example/pypi/simple/holygrail/' })
    assert.equal(parsed.name, 'holygrail')
    assert.equal(parsed.files[0]?.url, 'https://mirror.example/pypi/files/x-1.whl')
  })

  test('ignores non-hash fragments such as #egg=', () => {
    const parsed = parseProjectPageHtml(page('<a href="/f/x-1.whl#egg=x">x-1.whl</a>'), PAGE_URL)
    assert.deepEqual(parsed.files[0]?.hashes, {})
  })

  test('drops a link with bad core-metadata or gpg-sig values', () => {
    dropsLink('<a href="/f/x-1.whl" data-core-metadata="maybe">x-1.whl</a>', /PEP 658/)
    dropsLink('<a href="/f/x-1.whl" data-core-metadata="sha256=xyz">x-1.whl</a>', /hex digits/)
    dropsLink('<a href="/f/x-1.whl" data-gpg-sig="yes">x-1.whl</a>', /data-gpg-sig/)
  })

  test('survives unclosed tags: an unclosed <a> ends at the next <a> or at EOF', () => {
    const parsed = parseProjectPageHtml('<html><body><a href="/f/a-1.whl">a-1.whl<a href="/f/b-1.whl">b-1.whl', PAGE_URL)
    assert.deepEqual(parsed.files.map((file) => file.filename), ['a-1.whl', 'b-1.whl'])
  })

  test('drops a tag cut off by EOF, or by an unterminated quote, instead of guessing', () => {
    assert.deepEqual(parseProjectPageHtml('<a href="/f/a-1.whl">a-1.whl</a><a href="/f/b-1.whl', PAGE_URL).files.length, 1)
    assert.deepEqual(parseProjectPageHtml('<a href="/f/a-1.whl">a-1.whl</a><a href=\'/f/b-1.whl>b-1.whl</a>', PAGE_URL).files.length, 1)
  })

  test('a > inside a quoted attribute does not end the tag', () => {
    const parsed = parseProjectPageHtml(page('<a data-requires-python=">=3.8" href="/f/x-1.whl">x-1.whl</a>'), PAGE_URL)
    assert.equal(parsed.files[0]?.requiresPython, '>=3.8')
    assert.equal(parsed.files[0]?.filename, 'x-1.whl')
  })

  test('links inside comments, <script> and <style> are not links (as for pip’s html.parser)', () => {
    const parsed = parseProjectPageHtml(
      page(
        '<!-- <a href="/f/c-1.whl">c-1.whl</a> --><script>var s = "<a href=\'/f/s-1.whl\'>s-1.whl</a>"</script>' +
          '<style><a href="/f/t-1.whl">t-1.whl</a></style><a href="/f/real-1.whl">real-1.whl</a>',
      ),
      PAGE_URL,
    )
    assert.deepEqual(parsed.files.map((file) => file.filename), ['real-1.whl'])
  })

  test('an unterminated comment hides the rest of the page', () => {
    assert.equal(parseProjectPageHtml(page('<!-- <a href="/f/x-1.whl">x-1.whl</a>'), PAGE_URL).files.length, 0)
  })

  test('the first duplicate attribute wins, so a later href cannot override a checked one', () => {
    const parsed = parseProjectPageHtml(page('<a href="/f/x-1.whl" href="javascript:alert(1)">x-1.whl</a>'), PAGE_URL)
    assert.equal(parsed.files[0]?.url, 'https://example.com/f/x-1.whl')
  })

  test('decodes entities in text and attributes, leaving unknown ones alone', () => {
    const parsed = parseProjectPageHtml(page('<a href="/f/a&amp;b&unknown;-1.whl" data-yanked="&lt;&#39;&quot;&#x26;&gt;">a&amp;b&unknown;-1.whl</a>'), PAGE_URL)
    assert.equal(parsed.files[0]?.filename, 'a&b&unknown;-1.whl')
    assert.equal(parsed.files[0]?.yanked, `<'"&>`)
  })

  test('reads the first SERIAL comment only', () => {
    assert.equal(parseProjectPageHtml(`${page('')}<!--SERIAL 7--><!--SERIAL 9-->`, PAGE_URL).meta.lastSerial, 7)
  })
})

describe('parseProjectListHtml', () => {
  test('reads the PEP 503 list example', () => {
    assert.deepEqual(parseProjectListHtml(fixture('pep503-project-list.html'), 'https://example.com/simple/'), {
      meta: { apiVersion: '1.0' },
      projects: [{ name: 'frob' }, { name: 'spamspamspam' }],
    })
  })

  test('drops names that are not PEP 508 names (no route could serve them) and anchors without href', () => {
    const parsed = parseProjectListHtml(
      page('<a href="a/">Foo.Bar</a><a href="c/">../../etc</a><a href="x/">&lt;script&gt;</a><a href="d/"> spaced </a><a>no-href</a>'),
      'https://example.com/simple/',
    )
    assert.deepEqual(parsed.projects, [{ name: 'Foo.Bar' }, { name: 'spaced' }])
  })
})
