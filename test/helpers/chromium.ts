/**
 * Debian's `chromium`, headless, as a real browser for pages the proxy serves: the DOM after load
 * (`--dump-dom`) and a screenshot. No playwright or puppeteer: the command line does both.
 *
 * A missing chromium fails the test with how to install it, never a silent skip: `.ci/run`
 * installs it, and a local run without it would otherwise prove nothing.
 */
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A guard against a hung browser, not a timing assertion. */
const BROWSER_TIMEOUT_MS = 90_000

/** @throws Error naming the install command when `chromium` is not on PATH. */
export function requireChromium(): string {
  const probe = spawnSync('chromium', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) {
    throw new Error(`this test needs Debian's chromium, which is not installed: run \`apt-get install -y chromium\` as root (.ci/run installs it when missing); ${probe.error?.message ?? probe.stderr}`)
  }
  return probe.stdout.trim()
}

/** Runs headless chromium on `url` with a fresh profile; resolves with its stdout. */
function runChromium(url: string, extra: readonly string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'tuf-proxy-chromium-'))
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    ...extra,
    url,
  ]
  return new Promise((resolve, reject) => {
    execFile('chromium', args, { encoding: 'utf8', timeout: BROWSER_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true })
      if (error) reject(new Error(`chromium ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`))
      else resolve(stdout)
    })
  })
}

/** The DOM chromium built from the page, serialized. */
export function dumpDom(url: string): Promise<string> {
  return runChromium(url, ['--dump-dom'])
}

export async function screenshot(url: string, file: string): Promise<void> {
  await runChromium(url, [`--screenshot=${file}`, '--window-size=1280,1600', '--hide-scrollbars'])
}

/** The visible text of the element with `id` (tags dropped, entities decoded, spaces collapsed). */
export function textOf(dom: string, id: string): string {
  const start = dom.search(new RegExp(`<[a-z]+[^>]* id="${id}"`))
  if (start === -1) throw new Error(`no element with id ${id} in the DOM`)
  const tag = /^<([a-z]+)/.exec(dom.slice(start))?.[1] ?? ''
  // The matching close tag: elements of the same name may nest inside (a div of divs).
  const tags = new RegExp(`<(/?)${tag}[\\s>]`, 'g')
  tags.lastIndex = start + 1
  let depth = 1
  for (let match = tags.exec(dom); match; match = tags.exec(dom)) {
    depth += match[1] ? -1 : 1
    if (depth === 0) return visibleText(dom.slice(start, match.index))
  }
  return visibleText(dom.slice(start))
}

export function visibleText(html: string): string {
  return html
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim()
}
