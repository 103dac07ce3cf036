/**
 * The sliced project-list path (issue 7 item 16) against the one-piece parsers and renderers it
 * replaces for /simple/: same bytes out, same pages refused, whatever the slice boundaries; and it
 * lets the event loop run while it works.
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
  renderProjectListStream,
} from '../../../src/index/index.js'

const URL_ = 'https://index.example/simple/'
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve))
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

async function streamed(text: string, format: 'html' | 'json', sliceBytes: number) {
  return renderProjectListStream(Buffer.from(text, 'utf8'), format, URL_, { pause: async () => undefined, sliceBytes })
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
        const got = await streamed(text, format, sliceBytes)
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
    const got = await renderProjectListStream(Buffer.from(html), 'html', URL_, { pause: immediate, sliceBytes: 4096 })
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
      if (want === 'accepted') assert.equal(Buffer.from((await streamed(text, 'json', 3)).json.body).toString(), renderProjectListJson(parseProjectListJson(text, URL_)))
    }
  })

  test('JSON: a second "projects" key is refused (JSON.parse would keep the later one)', async () => {
    const text = '{"meta":{"api-version":"1.0"},"projects":[{"name":"a"}],"projects":[{"name":"b"}]}'
    await assert.rejects(streamed(text, 'json', 4), IndexFormatError)
  })

  test('HTML: an unsupported repository version is refused as by the one-piece parser', async () => {
    const text = '<meta name="pypi:repository-version" content="2.0"><a href="a/">a</a>'
    assert.throws(() => parseProjectListHtml(text, URL_), IndexFormatError)
    await assert.rejects(streamed(text, 'html', 5), IndexFormatError)
  })

  test('it yields to the event loop: a timer set when it starts fires before it ends', async () => {
    const html = `<html><body>${Array.from({ length: 5000 }, (_, i) => `<a href="p${i}/">p${i}</a>`).join('')}</body></html>`
    let hasTimerFired = false
    setTimeout(() => (hasTimerFired = true), 0)
    let pauses = 0
    const pause = () => {
      pauses++
      return immediate()
    }
    const promise = renderProjectListStream(Buffer.from(html), 'html', URL_, { pause, sliceBytes: 1024 })
    assert.equal(hasTimerFired, false)
    await promise
    assert.ok(hasTimerFired, 'the timer ran while the list was being parsed')
    assert.ok(pauses > 50, `paused between slices (${pauses} times)`)
  })
})
