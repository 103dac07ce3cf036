import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { contentTypeOf, negotiate, type SimpleFormat } from '../../../src/index/index.js'

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'

describe('negotiate (PEP 691 content negotiation)', () => {
  const cases: Array<{ accept: string | undefined; format?: string; expect: SimpleFormat | undefined; why: string }> = [
    { accept: PIP_ACCEPT, expect: 'json-v1', why: "pip 23's exact header prefers JSON" },
    { accept: undefined, expect: 'text-html', why: 'no Accept: legacy text/html (warehouse)' },
    { accept: '', expect: 'text-html', why: 'empty Accept is treated as absent' },
    { accept: 'text/html', expect: 'text-html', why: 'pre-PEP 691 pip' },
    { accept: '*/*', expect: 'text-html', why: 'a wildcard never opts a client into JSON' },
    { accept: 'application/*', expect: 'html-v1', why: 'application/* covers both v1 types; HTML first like warehouse' },
    { accept: 'text/*', expect: 'text-html', why: 'text/* covers only text/html' },
    { accept: 'application/vnd.pypi.simple.v1+html', expect: 'html-v1', why: 'exact v1+html' },
    { accept: 'application/vnd.pypi.simple.v1+json', expect: 'json-v1', why: 'exact v1+json' },
    { accept: 'application/vnd.pypi.simple.latest+json', expect: 'json-v1', why: 'PEP 691 latest alias' },
    { accept: 'application/vnd.pypi.simple.latest+html', expect: 'html-v1', why: 'PEP 691 latest alias' },
    { accept: 'APPLICATION/VND.PYPI.SIMPLE.V1+JSON', expect: 'json-v1', why: 'media types are case-insensitive' },
    { accept: 'application/json', expect: undefined, why: 'no alias for application/json (PEP 691 FAQ) → 406' },
    { accept: 'image/png, application/xml', expect: undefined, why: 'nothing acceptable → 406' },
    { accept: 'text/html;q=0', expect: undefined, why: 'q=0 excludes the only named type → 406' },
    { accept: '*/*, text/html;q=0', expect: 'html-v1', why: 'q=0 on the specific range beats the wildcard' },
    { accept: '*/*;q=0.5, application/vnd.pypi.simple.v1+json;q=0', expect: 'text-html', why: 'q=0 excludes JSON; wildcard tie goes to text/html' },
    { accept: 'text/html, application/vnd.pypi.simple.v1+json', expect: 'json-v1', why: 'equal q, both named: most featureful (PEP 691)' },
    { accept: 'application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json', expect: 'json-v1', why: 'equal q, both named: JSON' },
    { accept: 'text/html, application/vnd.pypi.simple.v1+html', expect: 'html-v1', why: 'equal q, both named: v1+html over text/html' },
    { accept: 'text/html, */*;q=0.8', expect: 'text-html', why: "a browser's header" },
    { accept: 'application/vnd.pypi.simple.v1+json;q=0.2, text/html', expect: 'text-html', why: 'higher q wins over server preference' },
    { accept: 'application/vnd.pypi.simple.v1+json, */*', expect: 'json-v1', why: 'named type beats an equal-q wildcard' },
    { accept: 'application/vnd.pypi.simple.v1+json;q=2, text/html', expect: 'text-html', why: 'an invalid q drops that entry' },
    { accept: 'garbage, text/html', expect: 'text-html', why: 'a malformed range is skipped' },
    { accept: PIP_ACCEPT, format: 'text/html', expect: 'text-html', why: '?format= overrides Accept' },
    { accept: 'text/html', format: 'application/vnd.pypi.simple.v1+json', expect: 'json-v1', why: '?format= overrides Accept' },
    { accept: undefined, format: 'application/vnd.pypi.simple.latest+json', expect: 'json-v1', why: '?format= accepts latest aliases' },
    { accept: 'text/html', format: 'application/json', expect: undefined, why: 'unknown ?format= → 406' },
    { accept: 'text/html', format: '*/*', expect: undefined, why: '?format= takes one exact type, no wildcards (PEP 691)' },
    { accept: 'text/html', format: '', expect: 'text-html', why: 'an empty ?format= is ignored' },
  ]
  for (const { accept, format, expect, why } of cases) {
    test(`Accept ${JSON.stringify(accept)}${format === undefined ? '' : ` ?format=${format}`} → ${expect ?? '406'} (${why})`, () => {
      assert.equal(negotiate(accept, format), expect)
    })
  }
})

describe('contentTypeOf', () => {
  test('answers latest requests with the concrete v1 type (PEP 691)', () => {
    assert.equal(contentTypeOf('json-v1'), 'application/vnd.pypi.simple.v1+json')
    assert.equal(contentTypeOf('html-v1'), 'application/vnd.pypi.simple.v1+html; charset=utf-8')
    assert.equal(contentTypeOf('text-html'), 'text/html; charset=utf-8')
  })
})
