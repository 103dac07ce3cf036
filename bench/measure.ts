/**
 * The measurements, each proxy figure beside the reference server's for the same bytes under
 * the same generator and concurrency (a cached page and a cached file also beside a minimal Node
 * server: the ceiling for Node): a cached project page, a cached file, a cold file, many different
 * cold files at once, and the proxy's peak RSS while 16 clients download one large file. Setup,
 * teardown and printing are run.ts's.
 */
import { join } from 'node:path'
import { fetchEach, generateLoad, fetchOnce, type Generator, type LoadFigures } from './generators.js'
import type { BenchFile } from './fixtures.js'
import { addReference } from './fixtures.js'
import type { BenchProxy, LogLevel as BenchLogLevel } from './proxy.js'
import { judge, judgeLimit, mb, mbPerSecond, median, ms, rps, type Row } from './report.js'
import { cpuSeconds, startDiskFileServer, startRamPageServer, type StaticServer } from './servers.js'

/** What pip sends (pip >= 22.2). */
export const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
export const PAGE_CONNECTIONS = 16
export const FILE_CONNECTIONS = 4
export const SWARM_CLIENTS = 16
const WARMUP_SECONDS = 1
/** Each rate is measured in ROUNDS short windows, targets taking turns, and the medians kept: on a
 * shared 2-core machine other work drifts, and alternating keeps drift from favouring one side. */
const ROUNDS = 3
const ROUND_SECONDS = 3
/** issue 9: peak RSS with 16 clients of one 524 MB file, cold and warm */
const RSS_LIMIT_MB = 110
/** issue 9: a cold file through the proxy, CPU per MB it relays (all threads: hashing, writing, GC) */
const COLD_CPU_LIMIT_MS_PER_MB = 1.5
/** issue 9: a cold file over a fast link, wall time against a direct download */
export const COLD_LOOPBACK_TARGET = 1.5

export interface BenchContext {
  readonly generator: Generator
  readonly upstream: StaticServer
  readonly wwwDir: string
  readonly notes: string[]
}

/** The proxies to compare, labelled by what differs (e.g. their log level). */
export type ProxySet = ReadonlyArray<{ readonly label: string; readonly logLevel: BenchLogLevel; readonly proxy: BenchProxy }>

export interface Target {
  readonly label: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly pid: number
  /** the server's CPU seconds so far, when it is more than one process; default: cpuSeconds(pid) */
  readonly cpuSeconds?: () => number
}

export interface Rates {
  readonly requestsPerSecond: number
  readonly bytesPerSecond: number
  readonly p99Ms: number
  /** server CPU time (user + system, all threads) per request and per MB served */
  readonly cpuUsPerRequest: number
  readonly cpuMsPerMb: number
}

const hasReference = (context: BenchContext) => context.upstream.kind === 'nginx'
const noReferenceWhy = (context: BenchContext) => `not measured: ${context.upstream.description}`

/** Median rates of every target over ROUNDS alternating windows at one concurrency. */
export async function compareTargets(context: BenchContext, targets: readonly Target[], connections: number): Promise<Map<string, Rates>> {
  const samples = new Map<string, Array<LoadFigures & { cpuSeconds: number }>>(targets.map((target) => [target.label, []]))
  for (const target of targets) await generateLoad(context.generator, { url: target.url, headers: target.headers, connections, durationSeconds: WARMUP_SECONDS })
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let turn = 0; turn < targets.length; turn += 1) {
      const target = targets[(round + turn) % targets.length]
      if (!target) continue
      const cpuOf = target.cpuSeconds ?? (() => cpuSeconds(target.pid))
      const cpuBefore = cpuOf()
      const figures = await generateLoad(context.generator, { url: target.url, headers: target.headers, connections, durationSeconds: ROUND_SECONDS })
      samples.get(target.label)?.push({ ...figures, cpuSeconds: cpuOf() - cpuBefore })
      if (figures.errors > 0) context.notes.push(`${target.label}: ${figures.errors} of ${figures.requests} requests failed or were not 200`)
    }
  }
  const rates = new Map<string, Rates>()
  for (const [label, runs] of samples) {
    const requests = runs.reduce((sum, run) => sum + run.requests, 0)
    const bytes = runs.reduce((sum, run) => sum + run.bytesPerSecond * ROUND_SECONDS, 0)
    const cpu = runs.reduce((sum, run) => sum + run.cpuSeconds, 0)
    rates.set(label, {
      requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
      bytesPerSecond: median(runs.map((run) => run.bytesPerSecond)),
      p99Ms: median(runs.map((run) => run.p99Ms)),
      cpuUsPerRequest: (cpu / requests) * 1e6,
      cpuMsPerMb: (cpu / (bytes / 1e6)) * 1e3,
    })
  }
  return rates
}

async function fetchChecked(url: string, headers: Record<string, string>, expectCache: string | undefined): Promise<{ body: Uint8Array; headers: Headers }> {
  const response = await fetch(url, { headers })
  const body = new Uint8Array(await response.arrayBuffer())
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${new TextDecoder().decode(body).slice(0, 300)}`)
  const cache = response.headers.get('x-cache') ?? undefined
  if (expectCache && cache !== expectCache) throw new Error(`${url}: expected X-Cache ${expectCache}, got ${cache}`)
  return { body, headers: response.headers }
}

const REFERENCE = 'reference'
const CEILING = 'node from RAM'
const FILE_CEILING = 'node from disk'
/** Issue 9's targets for a cached file: throughput as a ratio to nginx (sendfile) in the same run, and server CPU per MB. */
const FILE_THROUGHPUT_TARGET = 1.0
const FILE_CPU_LIMIT_MS_PER_MB = 0.35
/** Issue 9's targets for the cached page's throughput, as ratios to nginx in the same run. */
const PAGE_TARGETS: Readonly<Record<BenchLogLevel, number>> = { info: 0.75, warn: 0.85 }
/** Connection-level headers each server sets itself; the rest are the proxy's answer, copied. */
const HOP_HEADERS: ReadonlySet<string> = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding'])

/**
 * 1. A cached project page under pip's Accept header, beside nginx serving the proxy's bytes and
 * a minimal Node server answering them (with the proxy's headers) from RAM: the ceiling for Node.
 */
export async function measurePage(context: BenchContext, proxies: ProxySet, project: string): Promise<Row[]> {
  const headers = { accept: PIP_ACCEPT }
  let answer: { body: Uint8Array; headers: Headers } | undefined
  for (const { proxy } of proxies) {
    await fetchChecked(`${proxy.origin}/simple/${project}/`, headers, 'MISS')
    answer = await fetchChecked(`${proxy.origin}/simple/${project}/`, headers, 'HIT')
  }
  if (!answer) throw new Error('measurePage needs at least one proxy')
  const pageBytes = answer.body
  const targets: Target[] = proxies.map(({ label, proxy }) => ({ label, url: `${proxy.origin}/simple/${project}/`, headers, pid: proxy.pid }))
  if (hasReference(context)) {
    const path = addReference(context.wwwDir, 'page.json', pageBytes)
    targets.push({ label: REFERENCE, url: `${context.upstream.origin}${path}`, headers, pid: context.upstream.pid })
  }
  const ramHeaders = Object.fromEntries([...answer.headers].filter(([name]) => !HOP_HEADERS.has(name)))
  const ceilingServer = await startRamPageServer({ dir: join(context.wwwDir, 'ram-page'), body: pageBytes, headers: ramHeaders })
  let rates: Map<string, Rates>
  try {
    targets.push({ label: CEILING, url: `${ceilingServer.origin}/simple/${project}/`, headers, pid: ceilingServer.pid })
    rates = await compareTargets(context, targets, PAGE_CONNECTIONS)
  } finally {
    await ceilingServer.stop()
  }
  const reference = rates.get(REFERENCE)
  const ceiling = rates.get(CEILING)
  const rows: Row[] = []
  const what = (label: string) => `cached page (${(pageBytes.byteLength / 1024).toFixed(1)} KiB JSON), ${PAGE_CONNECTIONS} conns, ${label}`
  if (ceiling) {
    rows.push({
      figure: `${what(CEILING)} (the Node ceiling): throughput`,
      proxy: rps(ceiling.requestsPerSecond),
      reference: reference ? rps(reference.requestsPerSecond) : noReferenceWhy(context),
      ratio: reference ? `${(ceiling.requestsPerSecond / reference.requestsPerSecond).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
    rows.push({
      figure: `${what(CEILING)} (the Node ceiling): server CPU per request`,
      proxy: `${ceiling.cpuUsPerRequest.toFixed(0)} µs`,
      reference: reference ? `${reference.cpuUsPerRequest.toFixed(0)} µs` : '—',
      ratio: reference ? `${(ceiling.cpuUsPerRequest / reference.cpuUsPerRequest).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
  }
  for (const { label, logLevel } of proxies) {
    const figures = rates.get(label)
    if (!figures) continue
    rows.push({
      figure: `${what(label)}: throughput`,
      proxy: rps(figures.requestsPerSecond),
      reference: reference ? rps(reference.requestsPerSecond) : noReferenceWhy(context),
      ...judge({ ratio: reference ? figures.requestsPerSecond / reference.requestsPerSecond : undefined, target: PAGE_TARGETS[logLevel], atLeast: true }),
    })
    if (ceiling) {
      rows.push({
        figure: `${what(label)}: throughput vs the Node ceiling`,
        proxy: rps(figures.requestsPerSecond),
        reference: `${rps(ceiling.requestsPerSecond)} ${CEILING}`,
        ratio: `${(figures.requestsPerSecond / ceiling.requestsPerSecond).toFixed(2)}x`,
        target: '—',
        result: 'n/a',
      })
    }
    rows.push({
      figure: `${what(label)}: p99 latency`,
      proxy: ms(figures.p99Ms),
      reference: reference ? ms(reference.p99Ms) : '—',
      ratio: reference ? `${(figures.p99Ms / reference.p99Ms).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
    rows.push({
      figure: `${what(label)}: server CPU per request`,
      proxy: `${figures.cpuUsPerRequest.toFixed(0)} µs`,
      reference: `${reference ? `${reference.cpuUsPerRequest.toFixed(0)} µs` : '—'}${ceiling ? ` (${CEILING} ${ceiling.cpuUsPerRequest.toFixed(0)} µs)` : ''}`,
      ratio: reference ? `${(figures.cpuUsPerRequest / reference.cpuUsPerRequest).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
  }
  return rows
}

/**
 * 2. A cached file, throughput at FILE_CONNECTIONS concurrent downloads, beside nginx (sendfile)
 * and a minimal Node server reading the same file from disk the cheapest way Node allows (the
 * ceiling for Node: no sendfile, every byte read into memory and written out).
 */
export async function measureCachedFile(context: BenchContext, proxies: ProxySet, file: BenchFile): Promise<Row[]> {
  const path = `/files/${file.project}/${file.filename}`
  for (const { proxy } of proxies) {
    for (const expected of ['MISS', 'HIT']) {
      const result = await fetchOnce(`${proxy.origin}${path}`, 1)
      if (result.statuses[0] !== 200 || result.bytes[0] !== file.size) throw new Error(`priming ${path} (${expected}) failed: ${JSON.stringify(result)}`)
    }
  }
  const targets: Target[] = proxies.map(({ label, proxy }) => ({ label, url: `${proxy.origin}${path}`, headers: {}, pid: proxy.pid }))
  if (hasReference(context)) targets.push({ label: REFERENCE, url: `${context.upstream.origin}/files/${file.filename}`, headers: {}, pid: context.upstream.pid })
  const ceilingServer = await startDiskFileServer(join(context.wwwDir, 'files', file.filename))
  let rates: Map<string, Rates>
  try {
    targets.push({ label: FILE_CEILING, url: `${ceilingServer.origin}/`, headers: {}, pid: ceilingServer.pid })
    rates = await compareTargets(context, targets, FILE_CONNECTIONS)
  } finally {
    await ceilingServer.stop()
  }
  const reference = rates.get(REFERENCE)
  const ceiling = rates.get(FILE_CEILING)
  const rows: Row[] = []
  const what = (label: string) => `cached ${mb(file.size)} file, ${FILE_CONNECTIONS} conns, ${label}`
  if (ceiling) {
    rows.push({
      figure: `${what(FILE_CEILING)} (the Node ceiling): throughput`,
      proxy: mbPerSecond(ceiling.bytesPerSecond),
      reference: reference ? mbPerSecond(reference.bytesPerSecond) : noReferenceWhy(context),
      ratio: reference ? `${(ceiling.bytesPerSecond / reference.bytesPerSecond).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
    rows.push({
      figure: `${what(FILE_CEILING)} (the Node ceiling): server CPU per MB`,
      proxy: `${ceiling.cpuMsPerMb.toFixed(2)} ms`,
      reference: reference ? `${reference.cpuMsPerMb.toFixed(2)} ms` : '—',
      ratio: reference ? `${(ceiling.cpuMsPerMb / reference.cpuMsPerMb).toFixed(2)}x` : '—',
      target: '—',
      result: 'n/a',
    })
  }
  for (const { label } of proxies) {
    const figures = rates.get(label)
    if (!figures) continue
    rows.push({
      figure: `${what(label)}: throughput`,
      proxy: mbPerSecond(figures.bytesPerSecond),
      reference: reference ? mbPerSecond(reference.bytesPerSecond) : noReferenceWhy(context),
      ...judge({ ratio: reference ? figures.bytesPerSecond / reference.bytesPerSecond : undefined, target: FILE_THROUGHPUT_TARGET, atLeast: true }),
    })
    if (ceiling) {
      rows.push({
        figure: `${what(label)}: throughput vs the Node ceiling`,
        proxy: mbPerSecond(figures.bytesPerSecond),
        reference: `${mbPerSecond(ceiling.bytesPerSecond)} ${FILE_CEILING}`,
        ratio: `${(figures.bytesPerSecond / ceiling.bytesPerSecond).toFixed(2)}x`,
        target: '—',
        result: 'n/a',
      })
    }
    rows.push({
      figure: `${what(label)}: server CPU per MB`,
      proxy: `${figures.cpuMsPerMb.toFixed(2)} ms`,
      reference: `${reference ? `${reference.cpuMsPerMb.toFixed(2)} ms` : '—'}${ceiling ? ` (${FILE_CEILING} ${ceiling.cpuMsPerMb.toFixed(2)} ms)` : ''}`,
      ...judgeLimit({ value: figures.cpuMsPerMb, limit: FILE_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    })
  }
  return rows
}

/**
 * 3. A cold file (page and file both uncached; each round uses its own project and bytes), one
 * client, against a direct download of the same file from the upstream. Medians of the rounds.
 * `filesPath` `slow` lists the files under nginx's rate-limited alias: a fast real link rather
 * than loopback, where the figure is only the proxy's CPU cost per byte.
 */
export async function measureColdFile(
  context: BenchContext,
  proxy: BenchProxy,
  options: { label: string; files: readonly BenchFile[]; filesPath: 'files' | 'slow'; link: string; target: number },
): Promise<Row[]> {
  const { label, files, filesPath, link, target } = options
  const direct: number[] = []
  const proxied: number[] = []
  let proxyCpuSeconds = 0
  let directCpuSeconds = 0
  for (const [round, file] of files.entries()) {
    const urls = [`${context.upstream.origin}/${filesPath}/${file.filename}`, `${proxy.origin}/files/${file.project}/${file.filename}`]
    // Alternate which goes first, so neither always meets a warmer page cache or CPU.
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const which of order) {
      const cpuBefore = cpuSeconds(proxy.pid)
      const upstreamCpuBefore = cpuSeconds(context.upstream.pid)
      // The warm-up GET (the direct file) readies the client process's read path, not the proxy.
      const result = await fetchOnce(urls[which] ?? '', 1, `${context.upstream.origin}/files/${file.filename}`)
      if (result.statuses[0] !== 200 || result.bytes[0] !== file.size) throw new Error(`cold download of ${urls[which]} failed: ${JSON.stringify(result)}`)
      ;(which === 0 ? direct : proxied).push(result.wallMs[0] ?? Number.NaN)
      if (which === 1) proxyCpuSeconds += cpuSeconds(proxy.pid) - cpuBefore
      // The upstream's CPU for the direct GET and its warm-up GET of the same file: twice the bytes.
      else directCpuSeconds += cpuSeconds(context.upstream.pid) - upstreamCpuBefore
    }
  }
  const proxyMs = median(proxied)
  const directMs = median(direct)
  const size = files[0]?.size ?? 0
  const cpuMsPerMb = (proxyCpuSeconds * 1000) / ((size * files.length) / 1e6)
  const directCpuMsPerMb = (directCpuSeconds * 1000) / ((2 * size * files.length) / 1e6)
  context.notes.push(`cold ${mb(size)} over ${link}: proxy ${proxied.map((value) => value.toFixed(0)).join('/')} ms, direct ${direct.map((value) => value.toFixed(0)).join('/')} ms; proxy CPU ${cpuMsPerMb.toFixed(2)} ms/MB`)
  const what = `cold ${mb(size)} file (page + file uncached), upstream ${link}, 1 client, ${label}`
  return [
    {
      figure: `${what}: wall time`,
      proxy: `${ms(proxyMs)} (${mbPerSecond((size / proxyMs) * 1000)})`,
      reference: hasReference(context) ? `${ms(directMs)} (${mbPerSecond((size / directMs) * 1000)}) direct` : noReferenceWhy(context),
      ...judge({ ratio: hasReference(context) ? proxyMs / directMs : undefined, target, atLeast: false }),
    },
    {
      figure: `${what}: proxy CPU per MB`,
      proxy: `${cpuMsPerMb.toFixed(2)} ms`,
      reference: `${context.upstream.kind} ${directCpuMsPerMb.toFixed(2)} ms direct`,
      ...judgeLimit({ value: cpuMsPerMb, limit: COLD_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    },
  ]
}

/**
 * 3b. Many different cold files at once (one client each, every page and file uncached): the
 * time until the last one is complete, against the same files fetched directly at once, and the
 * proxy's CPU per MB. Memory is bounded by the shared write-behind budget, so the peak RSS is
 * shown too.
 */
export async function measureColdConcurrent(context: BenchContext, proxy: BenchProxy, options: { label: string; files: readonly BenchFile[] }): Promise<Row[]> {
  const { label, files } = options
  const size = files[0]?.size ?? 0
  const directUrls = files.map((file) => `${context.upstream.origin}/files/${file.filename}`)
  const proxyUrls = files.map((file) => `${proxy.origin}/files/${file.project}/${file.filename}`)
  const check = (result: Awaited<ReturnType<typeof fetchEach>>, what: string) => {
    const failed = result.statuses.filter((status, i) => status !== 200 || result.bytes[i] !== files[i]?.size).length
    if (failed > 0) throw new Error(`${failed} of ${files.length} concurrent ${what} downloads failed: ${JSON.stringify(result.statuses)}`)
  }
  // Direct first, so the proxy's upstream reads meet the same warm page cache the direct ones leave.
  const direct = await fetchEach(directUrls, directUrls[0])
  check(direct, 'direct')
  if (!proxy.resetPeak()) context.notes.push('the kernel refused to reset VmHWM: the concurrent cold peak includes earlier work')
  const cpuBefore = cpuSeconds(proxy.pid)
  const proxied = await fetchEach(proxyUrls, directUrls[0])
  check(proxied, 'proxied')
  const cpuMsPerMb = ((cpuSeconds(proxy.pid) - cpuBefore) * 1000) / ((size * files.length) / 1e6)
  const peakMb = proxy.memory().peakRssBytes / 1e6
  const totalBytes = size * files.length
  const what = `${files.length} different cold ${mb(size)} files at once (page + file uncached), ${label}`
  return [
    {
      figure: `${what}: time to the last byte`,
      proxy: `${ms(proxied.totalMs)} (${mbPerSecond((totalBytes / proxied.totalMs) * 1000)})`,
      reference: hasReference(context) ? `${ms(direct.totalMs)} (${mbPerSecond((totalBytes / direct.totalMs) * 1000)}) direct` : noReferenceWhy(context),
      ...judge({ ratio: hasReference(context) ? proxied.totalMs / direct.totalMs : undefined, target: COLD_LOOPBACK_TARGET, atLeast: false }),
    },
    {
      figure: `${what}: proxy CPU per MB`,
      proxy: `${cpuMsPerMb.toFixed(2)} ms`,
      reference: '—',
      ...judgeLimit({ value: cpuMsPerMb, limit: COLD_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    },
    {
      figure: `${what}: peak RSS`,
      proxy: `${peakMb.toFixed(0)} MB`,
      reference: '—',
      ...judgeLimit({ value: peakMb, limit: RSS_LIMIT_MB, unit: 'MB' }),
    },
  ]
}

/**
 * 4. Peak RSS (VmHWM) while SWARM_CLIENTS download one large file at once: cold (one coalesced
 * upstream download), then warm from a restarted proxy on the same cache, so the warm peak does
 * not inherit the cold phase's heap.
 */
export async function measureSwarmRss(context: BenchContext, startProxy: () => Promise<BenchProxy>, label: string, file: BenchFile): Promise<Row[]> {
  const rows: Row[] = []
  for (const phase of ['cold, coalesced', 'warm'] as const) {
    const proxy = await startProxy()
    const url = `${proxy.origin}/files/${file.project}/${file.filename}`
    const idle = proxy.memory()
    if (!proxy.resetPeak()) context.notes.push('the kernel refused to reset VmHWM: the peak includes start-up')
    const cpuBefore = cpuSeconds(proxy.pid)
    const result = await fetchOnce(url, SWARM_CLIENTS)
    const cpuMs = (cpuSeconds(proxy.pid) - cpuBefore) * 1000
    const peakMb = proxy.memory().peakRssBytes / 1e6
    await proxy.stop()
    const failed = result.statuses.filter((status, i) => status !== 200 || result.bytes[i] !== file.size).length
    if (failed > 0) throw new Error(`${failed} of ${SWARM_CLIENTS} swarm downloads of ${url} failed: ${JSON.stringify(result.statuses)}`)
    const totalBytes = file.size * SWARM_CLIENTS
    rows.push({
      figure: `peak RSS, ${SWARM_CLIENTS} clients x ${mb(file.size)} file, ${phase}, ${label}`,
      proxy: `${peakMb.toFixed(0)} MB`,
      reference: `idle ${(idle.rssBytes / 1e6).toFixed(0)} MB; ${(result.totalMs / 1000).toFixed(1)} s, ${mbPerSecond((totalBytes / result.totalMs) * 1000)}, CPU ${(cpuMs / (totalBytes / 1e6)).toFixed(2)} ms/MB`,
      ...judgeLimit({ value: peakMb, limit: RSS_LIMIT_MB, unit: 'MB' }),
    })
  }
  return rows
}
