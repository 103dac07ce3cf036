/**
 * `node dist/bench/project-list.js [html|json] [names]`: what serving a PyPI-sized project list
 * (`/simple/`, 700,000 names by default) costs the rest of the proxy (issue 7 item 16). In one
 * process: SimplePages over a page source that hands out a generated list, a fresh cache dir, and
 * perf_hooks' event-loop delay histogram running while the list is fetched, parsed, rendered in
 * all three formats and read back after a restart (load from disk). Prints the longest event-loop
 * stall and the RSS growth, which is what a concurrent small request would feel.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Metrics, silentLogger, systemClock } from '../src/base/index.js'
import { DropLog, SimplePages, type PageSource } from '../src/mirror/index.js'
import { openBlobStore, openRecordStore } from '../src/store/index.js'

const format = process.argv[2] === 'json' ? 'json' : 'html'
const count = Number(process.argv[3] ?? 700_000)

/** Built in slices, so generating the list does not set the peak RSS this measures. */
function generatedList(): Uint8Array {
  const parts: Buffer[] = []
  const name = (i: number) => `project-${i.toString(36)}-name`
  const isJson = format === 'json'
  parts.push(
    Buffer.from(
      isJson
        ? '{"meta":{"api-version":"1.1","_last-serial":12345},"projects":['
        : '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1"><title>Simple index</title></head><body>\n',
    ),
  )
  for (let start = 0; start < count; start += 10_000) {
    const slice: string[] = []
    for (let i = start; i < Math.min(count, start + 10_000); i++) {
      slice.push(isJson ? `${i === 0 ? '' : ','}{"name":"${name(i)}"}` : `    <a href="/simple/${name(i)}/">${name(i)}</a>\n`)
    }
    parts.push(Buffer.from(slice.join('')))
  }
  parts.push(Buffer.from(isJson ? ']}' : '</body></html>\n<!--SERIAL 12345-->\n'))
  return Buffer.concat(parts)
}

async function main(): Promise<void> {
  const body = generatedList()
  const source: PageSource = {
    fetch: async (url) => ({
      kind: 'page',
      url,
      body,
      contentType: format === 'json' ? 'application/vnd.pypi.simple.v1+json' : 'text/html; charset=utf-8',
      validators: {},
      serial: undefined,
    }),
  }
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-bench-list-'))
  try {
    const open = async () => {
      const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: 4 * 1024 ** 3 })
      const records = await openRecordStore({ dir: join(dir, 'records') })
      const metrics = new Metrics()
      const drops = new DropLog({ logger: silentLogger, metrics, nowMs: systemClock.nowMs })
      return new SimplePages(
        { upstreamUrl: 'http://127.0.0.1:1/simple/', indexTtlSeconds: 600, isAllowedUrl: () => true },
        { source, blobs, records, clock: systemClock, logger: silentLogger, metrics, drops },
      )
    }
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    const startMs = performance.now()
    const pages = await open()
    const sizes: Record<string, number> = {}
    for (const wanted of ['text-html', 'html-v1', 'json-v1'] as const) sizes[wanted] = (await pages.index(wanted)).body.byteLength
    const firstMs = performance.now() - startMs
    const rssAfter = process.memoryUsage().rss
    // What stays once the garbage of parsing and rendering is collected (with --expose-gc).
    global.gc?.()
    const rssRetained = process.memoryUsage().rss
    const firstMaxMs = histogram.max / 1e6
    const firstP99Ms = histogram.percentile(99) / 1e6
    histogram.reset()
    // A restart: the list is loaded from the blob store (then revalidated, i.e. fetched again).
    await (await open()).index('json-v1')
    histogram.disable()
    console.log(
      JSON.stringify({
        format,
        names: count,
        upstreamBytes: body.byteLength,
        renderedBytes: sizes,
        firstAnswerMs: Math.round(firstMs),
        maxEventLoopDelayMs: Math.round(firstMaxMs),
        p99EventLoopDelayMs: Math.round(firstP99Ms),
        afterRestartMaxEventLoopDelayMs: Math.round(histogram.max / 1e6),
        rssBeforeMb: Math.round(rssBefore / 2 ** 20),
        rssAfterMb: Math.round(rssAfter / 2 ** 20),
        rssRetainedMb: Math.round(rssRetained / 2 ** 20),
        rssPeakMb: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
