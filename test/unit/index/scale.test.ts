import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  parseProjectListHtml,
  parseProjectListJson,
  parseProjectPageHtml,
  renderProjectListHtml,
  renderProjectListJson,
} from '../../../src/index/index.js'

// Bounds are generous; a quadratic path blows through them by orders of magnitude. The work is
// timed in this thread's CPU time, not wall time, so a loaded machine (other processes taking the
// cores) does not make a linear path look slow. The measured figures are printed with test
// diagnostics.
const PROJECT_COUNT = 700_000

function timed<T>(run: () => T): { value: T; ms: number } {
  const start = process.threadCpuUsage()
  const value = run()
  const used = process.threadCpuUsage(start)
  return { value, ms: (used.user + used.system) / 1000 }
}

describe('scale: PyPI-sized project list', () => {
  test(`${PROJECT_COUNT} projects parse and render (HTML and JSON) in bounded time`, (t) => {
    const anchors: string[] = []
    for (let i = 0; i < PROJECT_COUNT; i++) anchors.push(`    <a href="/simple/project-${i}/">Project_${i}</a>`)
    const html = `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.4"><title>Simple index</title></head><body>\n${anchors.join('\n')}\n</body></html>`

    const parsedHtml = timed(() => parseProjectListHtml(html, 'https://pypi.org/simple/'))
    assert.equal(parsedHtml.value.projects.length, PROJECT_COUNT)
    assert.equal(parsedHtml.value.projects[PROJECT_COUNT - 1]?.name, `Project_${PROJECT_COUNT - 1}`)
    const renderedHtml = timed(() => renderProjectListHtml(parsedHtml.value))
    const renderedJson = timed(() => renderProjectListJson(parsedHtml.value))
    const parsedJson = timed(() => parseProjectListJson(renderedJson.value, 'https://pypi.org/simple/'))
    assert.equal(parsedJson.value.projects.length, PROJECT_COUNT)

    t.diagnostic(
      `${(html.length / 1e6).toFixed(1)} MB HTML: parse ${parsedHtml.ms.toFixed(0)} ms, render HTML ${renderedHtml.ms.toFixed(0)} ms, ` +
        `render JSON ${renderedJson.ms.toFixed(0)} ms, parse JSON ${parsedJson.ms.toFixed(0)} ms`,
    )
    assert.ok(parsedHtml.ms + renderedHtml.ms + renderedJson.ms + parsedJson.ms < 10_000, 'list round trip took over 10 s')
  })
})

describe('scale: hostile pages stay linear', () => {
  const PAGE_URL = 'https://example.com/simple/x/'
  const MB = 1 << 20
  const hostile: Array<[string, string]> = [
    ['an 8 MB attribute value', `<a href="/f/x-1.whl" data-yanked="${'y'.repeat(8 * MB)}">x-1.whl</a>`],
    ['an 8 MB unterminated quoted attribute', `<a href="/f/x-1.whl">x-1.whl</a><a title="${'q'.repeat(8 * MB)}`],
    ['a million unclosed "<a " openers', '<a '.repeat(MB)],
    ['a million "<a>" tags without href', '<a>'.repeat(MB)],
    ['a million attributes in one tag', `<a ${'b '.repeat(MB)}href="/f/x-1.whl">x-1.whl</a>`],
    ['a million "</" without names', '</'.repeat(MB)],
    ['a million "<!-" bogus comments', '<!-'.repeat(MB)],
    ['a million "<script>" with no end', '<script>'.repeat(MB)],
    ['8 MB of inner whitespace in link text', `<a href="/f/x-1.whl">x-1.whl${' \t'.repeat(4 * MB)}y</a>`],
    ['a million "&#" and "&x" near-entities', `<a href="/f/x-1.whl" data-yanked="${'&#&x'.repeat(MB)}">x-1.whl</a>`],
    ['an 8 MB entity name without ;', `<a href="/f/x-1.whl" data-yanked="&${'a'.repeat(8 * MB)}">x-1.whl</a>`],
  ]
  for (const [name, body] of hostile) {
    test(`${name} parses in well under 2 s`, (t) => {
      const { ms } = timed(() => {
        try {
          parseProjectPageHtml(body, PAGE_URL)
        } catch {
          // Refusing the page is fine here; only the time is under test.
        }
      })
      t.diagnostic(`${(body.length / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms`)
      assert.ok(ms < 2_000, `took ${ms.toFixed(0)} ms`)
    })
  }
})
