/**
 * The PyPI-size `/simple/` row (issue 9): a generated 700,000-project list served by the upstream,
 * fetched once through a fresh proxy process while a prober asks it for a small cached page one
 * request after another. The prober's slowest answer is the stall a concurrent client feels; the
 * process's peak RSS over its idle RSS is what the list costs in memory. Then the cached list's
 * throughput against nginx serving the proxy's bytes, and the stall again after a restart (the
 * renderings load from disk).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { addReference } from './fixtures.js'
import { compareTargets, FILE_CONNECTIONS, PIP_ACCEPT, type BenchContext } from './measure.js'
import type { BenchProxy } from './proxy.js'
import { judge, judgeLimit, mbPerSecond, ms, type Row } from './report.js'

export const LIST_NAMES = 700_000
const STALL_LIMIT_MS = 20
const RSS_GROWTH_LIMIT_MB = 60
const LIST_THROUGHPUT_TARGET = 0.8

/** Writes the upstream's `/simple/` (PEP 691 JSON, as PyPI serves it to pip), built in slices. */
export function writeProjectList(wwwDir: string, names = LIST_NAMES): number {
  const parts: string[] = ['{"meta":{"api-version":"1.1","_last-serial":12345},"projects":[']
  for (let i = 0; i < names; i += 1) parts.push(`${i === 0 ? '' : ','}{"name":"project-${i.toString(36)}-name"}`)
  parts.push(']}')
  const body = parts.join('')
  writeFileSync(join(wwwDir, 'simple', 'index.json'), body)
  return Buffer.byteLength(body)
}

/** Asks `url` one request at a time until `stop` resolves; the slowest and the median answer. */
async function probe(url: string, stop: Promise<unknown>): Promise<{ maxMs: number; count: number }> {
  let isDone = false
  void stop.finally(() => (isDone = true))
  let maxMs = 0
  let count = 0
  while (!isDone) {
    const startMs = performance.now()
    const response = await fetch(url, { headers: { accept: PIP_ACCEPT } })
    await response.arrayBuffer()
    if (response.status !== 200) throw new Error(`probe ${url} answered ${response.status}`)
    maxMs = Math.max(maxMs, performance.now() - startMs)
    count += 1
  }
  return { maxMs, count }
}

/** The list's first answer through `proxy`, with the prober running beside it. */
async function firstAnswer(proxy: BenchProxy, smallPage: string): Promise<{ answerMs: number; bytes: Uint8Array; stallMs: number; quietMs: number; peakMb: number; idleMb: number }> {
  const pageUrl = `${proxy.origin}/simple/${smallPage}/`
  await (await fetch(pageUrl, { headers: { accept: PIP_ACCEPT } })).arrayBuffer()
  // The same prober for as long with nothing else going on: the floor the stall is read against.
  const quiet = await probe(pageUrl, new Promise((resolve) => setTimeout(resolve, 500)))
  const idleMb = proxy.memory().rssBytes / 1e6
  proxy.resetPeak()
  const startMs = performance.now()
  const list = (async () => {
    const response = await fetch(`${proxy.origin}/simple/`, { headers: { accept: PIP_ACCEPT } })
    const bytes = new Uint8Array(await response.arrayBuffer())
    if (response.status !== 200) throw new Error(`/simple/ answered ${response.status}`)
    return { bytes, answerMs: performance.now() - startMs }
  })()
  // The prober runs until the list is answered and a little after, while the process settles.
  const busy = await probe(pageUrl, list.then(() => new Promise((resolve) => setTimeout(resolve, 200))))
  const { bytes, answerMs } = await list
  return { answerMs, bytes, stallMs: busy.maxMs, quietMs: quiet.maxMs, peakMb: proxy.memory().peakRssBytes / 1e6, idleMb }
}

export async function measureProjectList(context: BenchContext, options: { startProxy: () => Promise<BenchProxy>; smallPage: string; listBytes: number }): Promise<Row[]> {
  const rows: Row[] = []
  const what = `/simple/ with ${LIST_NAMES.toLocaleString('en')} projects (${(options.listBytes / 1e6).toFixed(0)} MB JSON upstream)`
  let proxy = await options.startProxy()
  const first = await firstAnswer(proxy, options.smallPage)
  rows.push({
    figure: `${what}: first answer, slowest concurrent small-page answer`,
    proxy: `${ms(first.stallMs)} (list answered in ${ms(first.answerMs)})`,
    reference: `${ms(first.quietMs)} with nothing else running`,
    ...judgeLimit({ value: first.stallMs, limit: STALL_LIMIT_MS, unit: 'ms' }),
  })
  rows.push({
    figure: `${what}: first answer, peak RSS growth`,
    proxy: `+${(first.peakMb - first.idleMb).toFixed(0)} MB`,
    reference: `idle ${first.idleMb.toFixed(0)} MB`,
    ...judgeLimit({ value: first.peakMb - first.idleMb, limit: RSS_GROWTH_LIMIT_MB, unit: 'MB' }),
  })
  const path = addReference(context.wwwDir, 'simple-list.json', first.bytes)
  const rates = await compareTargets(
    context,
    [
      { label: 'proxy', url: `${proxy.origin}/simple/`, headers: { accept: PIP_ACCEPT }, pid: proxy.pid },
      { label: 'reference', url: `${context.upstream.origin}${path}`, headers: { accept: PIP_ACCEPT }, pid: context.upstream.pid },
    ],
    FILE_CONNECTIONS,
  )
  const mine = rates.get('proxy')
  const reference = context.upstream.kind === 'nginx' ? rates.get('reference') : undefined
  if (mine) {
    rows.push({
      figure: `${what}: cached, ${FILE_CONNECTIONS} conns, throughput`,
      proxy: `${mbPerSecond(mine.bytesPerSecond)}, ${mine.cpuMsPerMb.toFixed(2)} ms CPU/MB`,
      reference: reference ? `${mbPerSecond(reference.bytesPerSecond)}, ${reference.cpuMsPerMb.toFixed(2)} ms/MB` : `not measured: ${context.upstream.description}`,
      ...judge({ ratio: reference ? mine.bytesPerSecond / reference.bytesPerSecond : undefined, target: LIST_THROUGHPUT_TARGET, atLeast: true }),
    })
  }
  await proxy.stop()
  proxy = await options.startProxy()
  const restarted = await firstAnswer(proxy, options.smallPage)
  rows.push({
    figure: `${what}: after a restart (renderings on disk), slowest concurrent small-page answer`,
    proxy: `${ms(restarted.stallMs)} (list answered in ${ms(restarted.answerMs)}), RSS +${(restarted.peakMb - restarted.idleMb).toFixed(0)} MB`,
    reference: `${ms(restarted.quietMs)} with nothing else running`,
    ...judgeLimit({ value: restarted.stallMs, limit: STALL_LIMIT_MS, unit: 'ms' }),
  })
  context.notes.push(`/simple/: the prober asks for a cached ${options.smallPage} page one request at a time from the bench process while the list is fetched; the list's first answer includes the upstream fetch, parse and rendering`)
  return rows
}
