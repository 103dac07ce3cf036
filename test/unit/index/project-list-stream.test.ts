/**
 * The piecewise project-list renderer (issue 7 item 16, issue 9) against the one-piece parsers and
 * renderers it replaces for /simple/: same bytes out (head, entries as pushed, tail), same pages
 * refused, whatever the piece boundaries; and the heads it predicts from the meta read so far.
 * (Yielding to the event loop and writing to disk are mirror/'s: project-list-intake.test.ts.)
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import {
  IndexFormatError,
  parseProjectListHtml,
  parseProjectListJson,
  renderProjectListHtml,
  renderProjectListJson,
  ProjectListRenderer,
} from '../../../src/index/index.js'

const URL_ = 'https://index.example/simple/'
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

const HTML_LIST = `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Simple index</title>
<base href="https://elsewhere.example/">
<script>var s = '<a href="x/">hidden-in-script</a>'</script></head>
<body>
<!-- <a href="c/">in-a-comment</a> -->
<a href="/simple/a/">Alpha_Project</a>
<a href='/simple/b/'>  b&amp;b  </a>
<a href="/simple/c/">caf&eacute;</a>
<a name="anchor-without-href">no-href</a>
<a href="/simple/d/">Dup</a><a href="/simple/d/">Dup</a>
<a href="/simple/e/">&#101;ntity-name
<a href="/simple/f/">unclosed.then.next</a>
<p>text <b>between</b> &lt; tags</p>
<a href="/simple/g/">${'long-name-'.repeat(30)}end</a>
<a href="/simple/h/">\u00e9t\u00e9</a>
</body></html>
<!--SERIAL 4242-->
`

const JSON_LIST = JSON.stringify({
  projects: [{ name: 'Alpha_Project' }, { name: 'b\\"q' }, { name: 'with-extra', extra: { nested: ['[', ']', '{', ',', '"'] } }, { name: '\u00e9t\u00e9' }, { name: 'Dup' }, { name: 'Dup' }],
  meta: { 'api-version': '1.1', '_last-serial': 77, 'x-unknown': { a: [1, 2] } },
  other: 'key, after',
})

function expected(text: string, format: 'html' | 'json') {
  const list = format === 'html' ? parseProjectListHtml(text, URL_) : parseProjectListJson(text, URL_)
  return { html: Buffer.from(renderProjectListHtml(list), 'utf8'), json: Buffer.from(renderProjectListJson(list), 'utf8'), count: list.projects.length }
}

/** The renderings as the mirror writes them: each head, the entries pushed out piece by piece, each tail. */
function streamed(text: string, format: 'html' | 'json', sliceBytes: number) {
  const bytes = Buffer.from(text, 'utf8')
  const renderer = new ProjectListRenderer(format)
  const html: string[] = []
  const json: string[] = []
  for (let start = 0; start < bytes.byteLength; start += sliceBytes) {
    const entries = renderer.push(bytes.subarray(start, start + sliceBytes))
    html.push(entries.html)
    json.push(entries.json)
  }
  const end = renderer.finish(URL_)
  const whole = (frame: { head: Buffer; tail: Buffer }, entries: string[], last: string) => {
    const body = Buffer.concat([frame.head, Buffer.from(entries.join('') + last, 'utf8'), frame.tail])
    return { body, sha256: sha256(body) }
  }
  return { html: whole(end.html, html, end.entries.html), json: whole(end.json, json, end.entries.json), projectCount: end.projectCount, meta: end.meta }
}

async function outcome(run: () => unknown): Promise<string> {
  try {
    await run()
    return 'accepted'
  } catch (error) {
    assert.ok(error instanceof IndexFormatError, `only IndexFormatError is thrown, got ${String(error)}`)
    return 'refused'
  }
}

describe('project list, sliced', () => {
  for (const [format, text] of [
    ['html', HTML_LIST],
    ['json', JSON_LIST],
  ] as const) {
    test(`${format}: the same HTML and JSON bytes as parse-then-render, at every slice size`, async () => {
      const want = expected(text, format)
      assert.ok(want.count >= 4, `${want.count} names`)
      for (const sliceBytes of [1, 2, 3, 7, 13, 64, 1000, 1 << 20]) {
        const got = streamed(text, format, sliceBytes)
        assert.equal(Buffer.from(got.html.body).toString('utf8'), want.html.toString('utf8'), `html, slices of ${sliceBytes}`)
        assert.equal(Buffer.from(got.json.body).toString('utf8'), want.json.toString('utf8'), `json, slices of ${sliceBytes}`)
        assert.equal(got.html.sha256, sha256(want.html))
        assert.equal(got.json.sha256, sha256(want.json))
        assert.equal(got.projectCount, want.count)
      }
    })
  }

  test('a large generated list: every name, in order, in both renderings', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `pkg-${i}`)
    const html = `<html><body>${names.map((name) => `<a href="/simple/${name}/">${name}</a>`).join('\n')}</body></html>`
    const got = streamed(html, 'html', 4096)
    const json = JSON.parse(Buffer.from(got.json.body).toString('utf8')) as { projects: Array<{ name: string }> }
    assert.deepEqual(json.projects.map((project) => project.name), names)
    const anchors = [...Buffer.from(got.html.body).toString('utf8').matchAll(/<a href="([^"]+)\/">([^<]+)<\/a>/g)].map((match) => match[2])
    assert.deepEqual(anchors, names)
  })

  test('JSON: refused exactly when the one-piece parser refuses', async () => {
    const cases = [
      '{"meta":{"api-version":"1.0"},"projects":[]}',
      '{"meta":{"api-version":"1.0"},"projects":[ ]}',
      '{"meta":{"api-version":"1.0"},"projects":[,{"name":"a"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"},]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"},,{"name":"b"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"} x ,{"name":"b"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"},{"nom":"b"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"}]',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"}]} trailing',
      '{"meta":{"api-version":"2.0"},"projects":[{"name":"a"}]}',
      '{"meta":{"api-version":"1.0"},"projects":{"name":"a"}}',
      '{"meta":{"api-version":"1.0"}}',
      '{"projects":[{"name":"a"}]}',
      '[{"name":"a"}]',
      '{"meta":{"api-version":"1.0"},"proj\\u0065cts":[{"name":"escaped-key"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[{"name":"a\\"],\\"b"}]}',
      '{"meta":{"api-version":"1.0"},"projects":[1,2]}',
      '',
    ]
    for (const text of cases) {
      const want = await outcome(() => parseProjectListJson(text, URL_))
      for (const sliceBytes of [1, 5, 1 << 20]) {
        assert.equal(await outcome(() => streamed(text, 'json', sliceBytes)), want, `${JSON.stringify(text)} in slices of ${sliceBytes}`)
      }
      if (want === 'accepted') assert.equal(Buffer.from(streamed(text, 'json', 3).json.body).toString(), renderProjectListJson(parseProjectListJson(text, URL_)))
    }
  })

  test('JSON: a second "projects" key is refused (JSON.parse would keep the later one)', async () => {
    const text = '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"}],"projects":[{"name":"b"}]}'
    assert.throws(() => streamed(text, 'json', 4), IndexFormatError)
  })

  test('HTML: an unsupported repository version is refused as by the one-piece parser', async () => {
    const text = '<meta name="pypi:repository-version" content="2.0"><a href="a/">a</a>'
    assert.throws(() => parseProjectListHtml(text, URL_), IndexFormatError)
    assert.throws(() => streamed(text, 'html', 5), IndexFormatError)
  })

  test('the heads predicted from the meta read so far are the final ones when the meta comes first, and only then', () => {
    const projects = Array.from({ length: 50 }, (_, i) => ({ name: `p${i}` }))
    const metaFirst = JSON.stringify({ meta: { 'api-version': '1.1', '_last-serial': 9, 'x-extra': [1] }, projects })
    const metaLast = JSON.stringify({ projects, meta: { 'api-version': '1.1', '_last-serial': 9 } })
    const metaTwice = JSON.stringify({ meta: { 'api-version': '1.0' }, projects }).replace(/}$/, ',"meta":{"api-version":"1.1"}}')
    const htmlTagFirst = `<meta name="pypi:repository-version" content="1.1">${projects.map(({ name }) => `<a href="${name}/">${name}</a>`).join('')}`
    const htmlTagLast = `${projects.map(({ name }) => `<a href="${name}/">${name}</a>`).join('')}<meta name="pypi:repository-version" content="1.1">`
    for (const [format, text, isPredicted] of [
      ['json', metaFirst, true],
      ['json', metaLast, false],
      ['json', metaTwice, false],
      ['html', htmlTagFirst, true],
      ['html', htmlTagLast, false],
    ] as const) {
      const renderer = new ProjectListRenderer(format)
      const bytes = Buffer.from(text)
      const half = renderer.push(bytes.subarray(0, Math.floor(bytes.byteLength / 2)))
      assert.ok(half.html.length > 0, 'entries came before the end')
      const heads = renderer.headsSoFar()
      renderer.push(bytes.subarray(Math.floor(bytes.byteLength / 2)))
      const end = renderer.finish(URL_)
      assert.equal(heads.html.equals(end.html.head) && heads.json.equals(end.json.head), isPredicted, text.slice(0, 60))
    }
  })
})
