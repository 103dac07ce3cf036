/**
 * `--workers 1` against `--workers 2` (issue 13): cached page requests per second, and several
 * different cold files at once in MB/s, with the server's CPU (primary and every worker) per
 * request and per MB. On a 2-core machine the load generator (wrk or the Node loader) takes a
 * core too, so two workers compete with it: the figures say what a second worker buys here, not
 * what it buys on a machine with a core to spare.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fetchEach } from './generators.js'
import { compareTargets, PAGE_CONNECTIONS, PIP_ACCEPT, type BenchContext, type Target } from './measure.js'
import type { BenchProxy } from './proxy.js'
import { mb, mbPerSecond, ms, rps, type Row } from './report.js'
import type { BenchFile } from './fixtures.js'
import { cpuSeconds } from './servers.js'

/** CPU seconds of `pid` and all its descendants (a cluster primary and its workers); exited workers are not counted. */
export function treeCpuSeconds(pid: number): number {
  let total = 0
  const pending = [pid]
  while (pending.length > 0) {
    const current = pending.pop() ?? 0
    try {
      total += cpuSeconds(current)
    } catch {
      continue
    }
    for (const task of readdirSync(`/proc/${current}/task`)) {
      const children = readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim()
      if (children) pending.push(...children.split(' ').map(Number))
    }
  }
  return total
}

export interface WorkersOptions {
  /** starts a proxy with `--workers n` on its own cache directory */
  readonly startProxy: (workers: number) => Promise<BenchProxy>
  readonly pageProject: string
  /** cold files for each proxy, each file its own project (so its page is cold too) */
  readonly coldFiles: (workers: number) => readonly BenchFile[]
}

export async function measureWorkers(context: BenchContext, options: WorkersOptions): Promise<Row[]> {
  const counts = [1, 2]
  const proxies = new Map<number, BenchProxy>()
  for (const workers of counts) proxies.set(workers, await options.startProxy(workers))
  const headers = { accept: PIP_ACCEPT }
  const label = (workers: number) => `--workers ${workers}`
  const targets: Target[] = []
  for (const [workers, proxy] of proxies) {
    const url = `${proxy.origin}/simple/${options.pageProject}/`
    // Every worker fills its hot page cache from the shared records on its first request.
    for (let i = 0; i < 4 * workers; i += 1) await fetch(url, { headers }).then((response) => response.arrayBuffer())
    targets.push({ label: label(workers), url, headers, pid: proxy.pid, cpuSeconds: () => treeCpuSeconds(proxy.pid) })
  }
  const rates = await compareTargets(context, targets, PAGE_CONNECTIONS)
  const rows: Row[] = []
  const single = rates.get(label(1))
  for (const workers of counts) {
    const rate = rates.get(label(workers))
    if (!rate) continue
    const ratio = single ? rate.requestsPerSecond / single.requestsPerSecond : undefined
    rows.push({
      figure: `cached page, ${PAGE_CONNECTIONS} conns, ${label(workers)}: throughput (CPU per request: ${rate.cpuUsPerRequest.toFixed(0)} us, all processes)`,
      proxy: rps(rate.requestsPerSecond),
      reference: workers === 1 ? '—' : `${single ? rps(single.requestsPerSecond) : '?'} with 1 worker`,
      ratio: ratio === undefined || workers === 1 ? '—' : `${ratio.toFixed(2)}x`,
      target: '—',
      result: 'n/a',
    })
  }
  let singleColdMs: number | undefined
  for (const [workers, proxy] of proxies) {
    const files = options.coldFiles(workers)
    const size = files[0]?.size ?? 0
    const urls = files.map((file) => `${proxy.origin}/files/${file.project}/${file.filename}`)
    const cpuBefore = treeCpuSeconds(proxy.pid)
    const result = await fetchEach(urls, `${context.upstream.origin}/files/${files[0]?.filename ?? ''}`)
    const failed = result.statuses.filter((status, i) => status !== 200 || result.bytes[i] !== files[i]?.size).length
    if (failed > 0) throw new Error(`${failed} of ${files.length} cold downloads through ${label(workers)} failed: ${JSON.stringify(result.statuses)}`)
    const cpuMsPerMb = ((treeCpuSeconds(proxy.pid) - cpuBefore) * 1000) / ((size * files.length) / 1e6)
    const totalBytes = size * files.length
    if (workers === 1) singleColdMs = result.totalMs
    rows.push({
      figure: `${files.length} different cold ${mb(size)} files at once, ${label(workers)}: time to the last byte (CPU per MB: ${cpuMsPerMb.toFixed(2)} ms, all processes)`,
      proxy: `${ms(result.totalMs)} (${mbPerSecond((totalBytes / result.totalMs) * 1000)})`,
      reference: workers === 1 || singleColdMs === undefined ? '—' : `${ms(singleColdMs)} with 1 worker`,
      ratio: workers === 1 || singleColdMs === undefined ? '—' : `${(result.totalMs / singleColdMs).toFixed(2)}x`,
      target: '—',
      result: 'n/a',
    })
  }
  context.notes.push(`workers: the load generator runs on the same ${counts.length}-core machine and takes a core; the worker rows show what a second worker buys beside it`)
  return rows
}
