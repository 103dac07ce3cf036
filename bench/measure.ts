/**
 * The measurements, each proxy figure beside the reference server's for the same bytes under
 * the same generator and concurrency (the page and a cached file also beside a minimal Node
 * server answering from RAM or disk, cold files beside a minimal Node relay: the ceilings for
 * Node): a cached project page, a cached file, a cold file, many different cold files at once,
 * and the proxy's peak RSS while 16 clients download one large file. Setup, teardown and
 * printing are run.ts's.
 */
import { join } from 'node:path'
import { fetchEach, generateLoad, fetchOnce, type Generator, type LoadFigures } from './generators.js'
import type { BenchFile } from './fixtures.js'
import { addReference } from './fixtures.js'
import type { BenchProxy, LogLevel as BenchLogLevel } from './proxy.js'
import { info, judge, judgeLimit, mb, mbPerSecond, median, ms, rps, times, type Row } from './report.js'
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

/** How a section reads and prints its rate and its CPU cost (a page: per request; a file: per MB). */
interface Measure {
  readonly rate: (rates: Rates) => number
  readonly formatRate: (value: number) => string
  readonly cpu: (rates: Rates) => number
  readonly formatCpu: (value: number) => string
  /** the CPU row's figure name */
  readonly cpuFigure: string
}

const PAGE_MEASURE: Measure = {
  rate: (rates) => rates.requestsPerSecond,
  formatRate: rps,
  cpu: (rates) => rates.cpuUsPerRequest,
  formatCpu: (value) => `${value.toFixed(0)} µs`,
  cpuFigure: 'server CPU per request',
}

const FILE_MEASURE: Measure = {
  rate: (rates) => rates.bytesPerSecond,
  formatRate: mbPerSecond,
  cpu: (rates) => rates.cpuMsPerMb,
  formatCpu: (value) => `${value.toFixed(2)} ms`,
  cpuFigure: 'server CPU per MB',
}

/** A Node ceiling server's own rows: its rate and its CPU beside the reference's. */
function ceilingRows(context: BenchContext, figure: string, measure: Measure, ceiling: Rates, reference: Rates | undefined): Row[] {
  const { rate, formatRate, cpu, formatCpu } = measure
  return [
    info(`${figure} (the Node ceiling): throughput`, formatRate(rate(ceiling)), reference ? formatRate(rate(reference)) : noReferenceWhy(context), reference ? times(rate(ceiling), rate(reference)) : '—'),
    info(`${figure} (the Node ceiling): ${measure.cpuFigure}`, formatCpu(cpu(ceiling)), reference ? formatCpu(cpu(reference)) : '—', reference ? times(cpu(ceiling), cpu(reference)) : '—'),
  ]
}

/** A proxy's rate as a share of the Node ceiling's. */
function vsCeilingRow(figure: string, measure: Measure, figures: Rates, ceiling: { label: string; rates: Rates }): Row {
  const { rate, formatRate } = measure
  return info(`${figure}: throughput vs the Node ceiling`, formatRate(rate(figures)), `${formatRate(rate(ceiling.rates))} ${ceiling.label}`, times(rate(figures), rate(ceiling.rates)))
}

/** The reference column of a proxy's CPU row: the reference's CPU, and the ceiling's beside it. */
function cpuReference(measure: Measure, reference: Rates | undefined, ceiling: { label: string; rates: Rates } | undefined): string {
  return `${reference ? measure.formatCpu(measure.cpu(reference)) : '—'}${ceiling ? ` (${ceiling.label} ${measure.formatCpu(measure.cpu(ceiling.rates))})` : ''}`
}

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
  const ceilingOf = ceiling && { label: CEILING, rates: ceiling }
  if (ceiling) rows.push(...ceilingRows(context, what(CEILING), PAGE_MEASURE, ceiling, reference))
  for (const { label, logLevel } of proxies) {
    const figures = rates.get(label)
    if (!figures) continue
    rows.push({
      figure: `${what(label)}: throughput`,
      proxy: rps(figures.requestsPerSecond),
      reference: reference ? rps(reference.requestsPerSecond) : noReferenceWhy(context),
      ...judge({ ratio: reference ? figures.requestsPerSecond / reference.requestsPerSecond : undefined, target: PAGE_TARGETS[logLevel], atLeast: true }),
    })
    if (ceilingOf) rows.push(vsCeilingRow(what(label), PAGE_MEASURE, figures, ceilingOf))
    rows.push(info(`${what(label)}: p99 latency`, ms(figures.p99Ms), reference ? ms(reference.p99Ms) : '—', reference ? times(figures.p99Ms, reference.p99Ms) : '—'))
    rows.push(
      info(
        `${what(label)}: ${PAGE_MEASURE.cpuFigure}`,
        PAGE_MEASURE.formatCpu(figures.cpuUsPerRequest),
        cpuReference(PAGE_MEASURE, reference, ceilingOf),
        reference ? times(figures.cpuUsPerRequest, reference.cpuUsPerRequest) : '—',
      ),
    )
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
  const ceilingOf = ceiling && { label: FILE_CEILING, rates: ceiling }
  if (ceiling) rows.push(...ceilingRows(context, what(FILE_CEILING), FILE_MEASURE, ceiling, reference))
  for (const { label } of proxies) {
    const figures = rates.get(label)
    if (!figures) continue
    rows.push({
      figure: `${what(label)}: throughput`,
      proxy: mbPerSecond(figures.bytesPerSecond),
      reference: reference ? mbPerSecond(reference.bytesPerSecond) : noReferenceWhy(context),
      ...judge({ ratio: reference ? figures.bytesPerSecond / reference.bytesPerSecond : undefined, target: FILE_THROUGHPUT_TARGET, atLeast: true }),
    })
    if (ceilingOf) rows.push(vsCeilingRow(what(label), FILE_MEASURE, figures, ceilingOf))
    rows.push({
      figure: `${what(label)}: ${FILE_MEASURE.cpuFigure}`,
      proxy: FILE_MEASURE.formatCpu(figures.cpuMsPerMb),
      reference: cpuReference(FILE_MEASURE, reference, ceilingOf),
      ...judgeLimit({ value: figures.cpuMsPerMb, limit: FILE_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    })
  }
  return rows
}

/**
 * A minimal Node relay of the same upstream (bench/relay-server.ts), labelled by what it does:
 * the ceiling for a cold file through a Node process, with and without hashing.
 */
export interface Relay {
  readonly label: string
  readonly server: StaticServer
}

const relayNote = (relays: readonly Relay[], figure: (relay: Relay) => string) => relays.map((relay) => `${relay.label} ${figure(relay)}`).join(', ')

/** The rows of one relay beside the direct download: its wall time (or time to the last byte) and CPU per MB. */
function relayRows(what: string, relay: Relay, figures: { wallMs: number; directMs: number; cpuMsPerMb: number; bytes: number; timeLabel: string }): Row[] {
  const { wallMs, directMs, cpuMsPerMb, bytes, timeLabel } = figures
  return [
    info(`${what}, ${relay.label} (the Node ceiling): ${timeLabel}`, `${ms(wallMs)} (${mbPerSecond((bytes / wallMs) * 1000)})`, `${ms(directMs)} direct`, times(wallMs, directMs)),
    info(`${what}, ${relay.label} (the Node ceiling): CPU per MB`, `${cpuMsPerMb.toFixed(2)} ms`, '—'),
  ]
}

/**
 * 3. A cold file (page and file both uncached; each round uses its own project and bytes), one
 * client, against a direct download of the same file from the upstream and against the same file
 * relayed by each of `relays` (nothing cached there, so the same file each round). Medians of the
 * rounds. `filesPath` `slow` lists the files under nginx's rate-limited alias: a fast real link
 * rather than loopback, where the figure is only the proxy's CPU cost per byte.
 */
export async function measureColdFile(
  context: BenchContext,
  proxy: BenchProxy,
  options: { label: string; files: readonly BenchFile[]; filesPath: 'files' | 'slow'; link: string; target: number; relays: readonly Relay[] },
): Promise<Row[]> {
  const { label, files, filesPath, link, target, relays } = options
  const direct: number[] = []
  const proxied: number[] = []
  const relayed = relays.map(() => ({ wallMs: [] as number[], cpuSeconds: 0 }))
  let proxyCpuSeconds = 0
  let directCpuSeconds = 0
  // 0: direct, 1: the proxy, 2 + i: relays[i]
  const turns = 2 + relays.length
  for (const [round, file] of files.entries()) {
    const path = `/${filesPath}/${file.filename}`
    const urls = [`${context.upstream.origin}${path}`, `${proxy.origin}/files/${file.project}/${file.filename}`, ...relays.map((relay) => `${relay.server.origin}${path}`)]
    const pids = [context.upstream.pid, proxy.pid, ...relays.map((relay) => relay.server.pid)]
    // Rotate which goes first, so none always meets a warmer page cache or CPU.
    for (let turn = 0; turn < turns; turn += 1) {
      const which = (round + turn) % turns
      const pid = pids[which] ?? 0
      const cpuBefore = cpuSeconds(pid)
      // The warm-up GET (the direct file) readies the client process's read path, not the server.
      const result = await fetchOnce(urls[which] ?? '', 1, `${context.upstream.origin}/files/${file.filename}`)
      if (result.statuses[0] !== 200 || result.bytes[0] !== file.size) throw new Error(`cold download of ${urls[which]} failed: ${JSON.stringify(result)}`)
      const wallMs = result.wallMs[0] ?? Number.NaN
      const cpu = cpuSeconds(pid) - cpuBefore
      if (which === 0) {
        direct.push(wallMs)
        // The upstream's CPU for the direct GET and its warm-up GET of the same file: twice the bytes.
        directCpuSeconds += cpu
      } else if (which === 1) {
        proxied.push(wallMs)
        proxyCpuSeconds += cpu
      } else {
        const relay = relayed[which - 2]
        relay?.wallMs.push(wallMs)
        if (relay) relay.cpuSeconds += cpu
      }
    }
  }
  const proxyMs = median(proxied)
  const directMs = median(direct)
  const size = files[0]?.size ?? 0
  const perMb = (cpu: number) => (cpu * 1000) / ((size * files.length) / 1e6)
  const cpuMsPerMb = perMb(proxyCpuSeconds)
  const directCpuMsPerMb = perMb(directCpuSeconds) / 2
  const relayFigures = relays.map((relay, i) => ({ relay, wallMs: median(relayed[i]?.wallMs ?? []), cpuMsPerMb: perMb(relayed[i]?.cpuSeconds ?? Number.NaN) }))
  const joined = (values: readonly number[]) => values.map((value) => value.toFixed(0)).join('/')
  context.notes.push(
    `cold ${mb(size)} over ${link}: proxy ${joined(proxied)} ms, direct ${joined(direct)} ms${relays.length ? `, ${relayNote(relays, (relay) => `${joined(relayed[relays.indexOf(relay)]?.wallMs ?? [])} ms`)}` : ''}; ` +
      `CPU per MB: proxy ${cpuMsPerMb.toFixed(2)} ms${relayFigures.map((figures) => `, ${figures.relay.label} ${figures.cpuMsPerMb.toFixed(2)} ms`).join('')}`,
  )
  const what = `cold ${mb(size)} file (page + file uncached), upstream ${link}, 1 client`
  const ceiling = relayFigures[0]
  return [
    ...relayFigures.flatMap((figures) => (hasReference(context) ? relayRows(what, figures.relay, { ...figures, directMs, bytes: size, timeLabel: 'wall time' }) : [])),
    {
      figure: `${what}, ${label}: wall time`,
      proxy: `${ms(proxyMs)} (${mbPerSecond((size / proxyMs) * 1000)})`,
      reference: hasReference(context) ? `${ms(directMs)} (${mbPerSecond((size / directMs) * 1000)}) direct` : noReferenceWhy(context),
      ...judge({ ratio: hasReference(context) ? proxyMs / directMs : undefined, target, atLeast: false }),
    },
    ...(ceiling ? [info(`${what}, ${label}: wall time vs the Node ceiling`, ms(proxyMs), `${ms(ceiling.wallMs)} ${ceiling.relay.label}`, times(proxyMs, ceiling.wallMs))] : []),
    {
      figure: `${what}, ${label}: proxy CPU per MB`,
      proxy: `${cpuMsPerMb.toFixed(2)} ms`,
      reference: `${context.upstream.kind} ${directCpuMsPerMb.toFixed(2)} ms direct${relayFigures.map((figures) => `; ${figures.relay.label} ${figures.cpuMsPerMb.toFixed(2)} ms`).join('')}`,
      ...judgeLimit({ value: cpuMsPerMb, limit: COLD_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    },
  ]
}

/**
 * 3b. Many different cold files at once (one client each, every page and file uncached): the
 * time until the last one is complete, against the same files fetched directly at once and
 * relayed at once by each of `relays`, and the proxy's CPU per MB. Memory is bounded by the
 * shared write-behind budget, so the peak RSS is shown too.
 */
export async function measureColdConcurrent(context: BenchContext, proxy: BenchProxy, options: { label: string; files: readonly BenchFile[]; relays: readonly Relay[] }): Promise<Row[]> {
  const { label, files, relays } = options
  const size = files[0]?.size ?? 0
  const totalBytes = size * files.length
  const directUrls = files.map((file) => `${context.upstream.origin}/files/${file.filename}`)
  const proxyUrls = files.map((file) => `${proxy.origin}/files/${file.project}/${file.filename}`)
  const check = (result: Awaited<ReturnType<typeof fetchEach>>, what: string) => {
    const failed = result.statuses.filter((status, i) => status !== 200 || result.bytes[i] !== files[i]?.size).length
    if (failed > 0) throw new Error(`${failed} of ${files.length} concurrent ${what} downloads failed: ${JSON.stringify(result.statuses)}`)
  }
  // Direct first, so the proxy's upstream reads meet the same warm page cache the direct ones leave.
  const direct = await fetchEach(directUrls, directUrls[0])
  check(direct, 'direct')
  const relayFigures: Array<{ relay: Relay; wallMs: number; cpuMsPerMb: number }> = []
  for (const relay of relays) {
    const cpuBefore = cpuSeconds(relay.server.pid)
    const relayed = await fetchEach(
      files.map((file) => `${relay.server.origin}/files/${file.filename}`),
      directUrls[0],
    )
    check(relayed, relay.label)
    relayFigures.push({ relay, wallMs: relayed.totalMs, cpuMsPerMb: ((cpuSeconds(relay.server.pid) - cpuBefore) * 1000) / (totalBytes / 1e6) })
  }
  if (!proxy.resetPeak()) context.notes.push('the kernel refused to reset VmHWM: the concurrent cold peak includes earlier work')
  const cpuBefore = cpuSeconds(proxy.pid)
  const proxied = await fetchEach(proxyUrls, directUrls[0])
  check(proxied, 'proxied')
  const cpuMsPerMb = ((cpuSeconds(proxy.pid) - cpuBefore) * 1000) / (totalBytes / 1e6)
  const peakMb = proxy.memory().peakRssBytes / 1e6
  const what = `${files.length} different cold ${mb(size)} files at once (page + file uncached)`
  const ceiling = relayFigures[0]
  return [
    ...relayFigures.flatMap((figures) => (hasReference(context) ? relayRows(what, figures.relay, { ...figures, directMs: direct.totalMs, bytes: totalBytes, timeLabel: 'time to the last byte' }) : [])),
    {
      figure: `${what}, ${label}: time to the last byte`,
      proxy: `${ms(proxied.totalMs)} (${mbPerSecond((totalBytes / proxied.totalMs) * 1000)})`,
      reference: hasReference(context) ? `${ms(direct.totalMs)} (${mbPerSecond((totalBytes / direct.totalMs) * 1000)}) direct` : noReferenceWhy(context),
      ...judge({ ratio: hasReference(context) ? proxied.totalMs / direct.totalMs : undefined, target: COLD_LOOPBACK_TARGET, atLeast: false }),
    },
    ...(ceiling ? [info(`${what}, ${label}: time to the last byte vs the Node ceiling`, ms(proxied.totalMs), `${ms(ceiling.wallMs)} ${ceiling.relay.label}`, times(proxied.totalMs, ceiling.wallMs))] : []),
    {
      figure: `${what}, ${label}: proxy CPU per MB`,
      proxy: `${cpuMsPerMb.toFixed(2)} ms`,
      reference: relayFigures.length ? relayNote(relays, (relay) => `${relayFigures.find((figures) => figures.relay === relay)?.cpuMsPerMb.toFixed(2) ?? '?'} ms`) : '—',
      ...judgeLimit({ value: cpuMsPerMb, limit: COLD_CPU_LIMIT_MS_PER_MB, unit: 'ms' }),
    },
    {
      figure: `${what}, ${label}: peak RSS`,
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
