/**
 * `npm run bench`: builds the upstream tree in a temp dir, starts nginx (or the Node stand-in) as
 * upstream and reference, starts the built proxy, runs the measurements of measure.ts and prints
 * one table. Everything it starts is stopped and its temp dir removed at the end; it writes
 * nothing into the repository.
 *
 * Then the TUF benchmarks at PEP 458 scale (tuf-engine.ts against tuf-js, verifying-overhead.ts
 * against the hash-only proxy), each with its own table.
 *
 * Flags (for investigation): `--sections page,file,cold,cold16,rss,simple,proxpi,workers,tuf,verifying,mirror`
 * runs a subset; `--cpu-prof DIR` runs the HTTP proxies under `node --cpu-prof` with profiles
 * written to DIR; `--proxpi DIR` (or PROXPI_SRC) names a proxpi checkout for the comparison (see
 * proxpi.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { addProject } from './fixtures.js'
import { pickGenerator } from './generators.js'
import {
  COLD_LOOPBACK_TARGET,
  FILE_CONNECTIONS,
  measureCachedFile,
  measureColdConcurrent,
  measureColdFile,
  measurePage,
  measureSwarmRss,
  PAGE_CONNECTIONS,
  SWARM_CLIENTS,
  type BenchContext,
  type Relay,
} from './measure.js'
import { BenchProxy, proxyLaunchFlags, type LogLevel } from './proxy.js'
import { measureProjectList, writeProjectList } from './project-list.js'
import { measureProxpi, proxpiMissing, startProxpi } from './proxpi.js'
import { formatTable, type Row } from './report.js'
import { freePort, SLOW_BYTES_PER_SECOND, startRelayServer, startStaticServer } from './servers.js'
import { run as runTufEngine } from './tuf-engine.js'
import { formatRows } from './tuf-rows.js'
import { run as runVerifyingOverhead } from './verifying-overhead.js'
import { measureMirror } from './mirror.js'
import { measureWorkers } from './workers.js'

const SECTIONS = ['page', 'file', 'cold', 'cold16', 'rss', 'simple', 'proxpi', 'workers', 'tuf', 'verifying', 'mirror'] as const
type Section = (typeof SECTIONS)[number]

const PAGE_FILES = 40
const PAGE_FILE_BYTES = 4096
const FILE_BYTES = 50 * 1024 * 1024
const COLD_ROUNDS = 5
const SWARM_FILE_BYTES = 500 * 1024 * 1024
/** 16 different cold files at once (issue 9), each its own project */
const CONCURRENT_COLD_FILES = 16
const CONCURRENT_COLD_FILE_BYTES = 20 * 1024 * 1024
/** issue 12: a bundle of this many files of this size */
const MIRROR_FILES = 40
const MIRROR_FILE_BYTES = 5 * 1024 * 1024
/** --workers 1 vs 2: this many different cold files at once per proxy */
const WORKERS_COLD_FILES = 8

function parseFlags(argv: readonly string[]): { sections: ReadonlySet<Section>; cpuProfDir: string | undefined; proxpiDir: string | undefined } {
  let sections: ReadonlySet<Section> = new Set(SECTIONS)
  let cpuProfDir: string | undefined
  let proxpiDir = process.env['PROXPI_SRC'] ? resolve(process.env['PROXPI_SRC']) : undefined
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1]
    if (argv[i] === '--sections' && value) {
      const wanted = value.split(',')
      const unknown = wanted.filter((name) => !SECTIONS.some((section) => section === name))
      if (unknown.length > 0) throw new Error(`--sections: unknown ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`)
      sections = new Set(SECTIONS.filter((section) => wanted.includes(section)))
      i += 1
    } else if (argv[i] === '--cpu-prof' && value) {
      cpuProfDir = resolve(value)
      i += 1
    } else if (argv[i] === '--proxpi' && value) {
      proxpiDir = resolve(value)
      i += 1
    } else {
      throw new Error(`unknown argument ${argv[i]}; flags: --sections ${SECTIONS.join(',')}, --cpu-prof DIR, --proxpi DIR`)
    }
  }
  return { sections, cpuProfDir, proxpiDir }
}

async function main(): Promise<void> {
  const { sections, cpuProfDir, proxpiDir } = parseFlags(process.argv.slice(2))
  const noProxpiWhy = sections.has('proxpi') ? proxpiMissing(proxpiDir) : undefined
  const startedMs = performance.now()
  const loadBefore = loadavg()[0] ?? 0
  const tempDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-bench-'))
  const wwwDir = join(tempDir, 'www')
  const stops: Array<() => Promise<void>> = []
  try {
    mkdirSync(wwwDir, { recursive: true })
    writeFileSync(join(wwwDir, 'health'), 'ok\n')
    const upstreamPort = await freePort()
    const upstreamOrigin = `http://127.0.0.1:${upstreamPort}`
    const project = (name: string, sizes: readonly number[], seed: number, filesPath: 'files' | 'slow' = 'files') =>
      addProject({ wwwDir, upstreamOrigin, project: name, sizes, seed, filesPath })
    const pageProject = project('bench-page', Array.from({ length: PAGE_FILES }, () => PAGE_FILE_BYTES), 1)
    const cachedFile = sections.has('file') || sections.has('proxpi') ? project('bench-file', [FILE_BYTES], 100) : []
    const coldFiles = (filesPath: 'files' | 'slow', seed: number) =>
      sections.has('cold') ? Array.from({ length: COLD_ROUNDS }, (_unused, i) => project(`bench-${filesPath}-${i + 1}`, [FILE_BYTES], seed + i, filesPath)).flat() : []
    const loopbackFiles = coldFiles('files', 200)
    const slowFiles = coldFiles('slow', 400)
    const concurrentFiles = sections.has('cold16')
      ? Array.from({ length: CONCURRENT_COLD_FILES }, (_unused, i) => project(`bench-cold16-${i + 1}`, [CONCURRENT_COLD_FILE_BYTES], 500 + i)).flat()
      : []
    const proxpiColdFiles =
      sections.has('proxpi') && !noProxpiWhy ? Array.from({ length: 2 * COLD_ROUNDS }, (_unused, i) => project(`bench-proxpi-${i + 1}`, [FILE_BYTES], 600 + i)).flat() : []
    const swarmFile = sections.has('rss') ? project('bench-swarm', [SWARM_FILE_BYTES], 300) : []
    const listBytes = sections.has('simple') ? writeProjectList(wwwDir) : 0
    const mirrorFiles = sections.has('mirror') ? project('bench-mirror', Array.from({ length: MIRROR_FILES }, () => MIRROR_FILE_BYTES), 800) : []
    const workersColdFiles = new Map(
      [1, 2].map((workers) => [
        workers,
        sections.has('workers') ? Array.from({ length: WORKERS_COLD_FILES }, (_unused, i) => project(`bench-workers${workers}-${i + 1}`, [CONCURRENT_COLD_FILE_BYTES], 700 + 10 * workers + i)).flat() : [],
      ]),
    )
    const fixturesMs = performance.now() - startedMs

    const upstream = await startStaticServer({ tempDir, wwwDir, port: upstreamPort })
    stops.push(() => upstream.stop())
    const { generator, description: generatorDescription } = pickGenerator()
    const context: BenchContext = { generator, upstream, wwwDir, notes: [] }
    let proxyCount = 0
    const startProxy = async (logLevel: LogLevel, cacheName?: string, workers?: number): Promise<BenchProxy> => {
      proxyCount += 1
      const proxy = await BenchProxy.start({
        ...(workers === undefined ? {} : { workers }),
        upstreamUrl: `${upstream.origin}/simple/`,
        cacheDir: join(tempDir, cacheName ?? `cache-${proxyCount}`),
        logPath: join(tempDir, `proxy-${proxyCount}.log`),
        logLevel,
        ...(cpuProfDir ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] } : {}),
      })
      stops.unshift(() => proxy.stop())
      return proxy
    }

    const rows: Row[] = []
    if (sections.has('page') || sections.has('file')) {
      const proxies = [
        { label: 'log info', logLevel: 'info' as const, proxy: await startProxy('info') },
        { label: 'log warn', logLevel: 'warn' as const, proxy: await startProxy('warn') },
      ]
      if (sections.has('page')) rows.push(...(await measurePage(context, proxies, 'bench-page')))
      if (sections.has('file') && cachedFile[0]) rows.push(...(await measureCachedFile(context, proxies, cachedFile[0])))
      const infoProxy = proxies[0]?.proxy
      if (infoProxy) context.notes.push(`the log-info proxy wrote ${infoProxy.logCount('request')} request lines`)
    }
    const relays: Relay[] = []
    if (sections.has('cold') || sections.has('cold16')) {
      // The Node ceilings for a cold file, under the proxy's own V8 flags.
      for (const isHashing of [false, true]) {
        const server = await startRelayServer({ upstreamOrigin: upstream.origin, isHashing, nodeFlags: proxyLaunchFlags() })
        stops.unshift(() => server.stop())
        relays.push({ label: isHashing ? 'node relay + SHA-256' : 'node relay', server })
      }
    }
    if (sections.has('cold')) {
      const proxy = await startProxy('info')
      rows.push(...(await measureColdFile(context, proxy, { label: 'log info', files: loopbackFiles, filesPath: 'files', link: `${upstream.kind} on loopback`, target: COLD_LOOPBACK_TARGET, relays })))
      if (upstream.kind === 'nginx') {
        const link = `nginx at ${SLOW_BYTES_PER_SECOND / 1e6} MB/s`
        rows.push(...(await measureColdFile(context, proxy, { label: 'log info', files: slowFiles, filesPath: 'slow', link, target: 1.1, relays })))
      }
    }
    if (sections.has('cold16')) rows.push(...(await measureColdConcurrent(context, await startProxy('info'), { label: 'log info', files: concurrentFiles, relays })))
    if (sections.has('simple')) {
      // Both proxies share one cache: the second is the first restarted.
      rows.push(...(await measureProjectList(context, { startProxy: () => startProxy('info', 'cache-list'), smallPage: 'bench-page', listBytes })))
    }
    if (sections.has('proxpi')) {
      if (noProxpiWhy || !proxpiDir || !cachedFile[0]) context.notes.push(`proxpi comparison skipped: ${noProxpiWhy ?? 'nothing to compare'}`)
      else {
        const proxpi = await startProxpi({ srcDir: proxpiDir, upstreamUrl: `${upstream.origin}/simple/`, cacheDir: join(tempDir, 'cache-proxpi') })
        stops.unshift(() => proxpi.stop())
        rows.push(...(await measureProxpi(context, { proxy: await startProxy('info'), proxpi, pageProject: 'bench-page', cachedFile: cachedFile[0], coldFiles: proxpiColdFiles })))
      }
    }
    if (sections.has('workers')) {
      rows.push(
        ...(await measureWorkers(context, {
          startProxy: (workers) => startProxy('info', `cache-workers-${workers}`, workers),
          pageProject: 'bench-page',
          coldFiles: (workers) => workersColdFiles.get(workers) ?? [],
        })),
      )
    }
    if (sections.has('rss') && swarmFile[0]) rows.push(...(await measureSwarmRss(context, () => startProxy('info', 'cache-swarm'), 'log info', swarmFile[0])))
    if (sections.has('mirror')) {
      const measured = measureMirror({ tempDir, wwwDir, upstreamUrl: `${upstream.origin}/simple/`, project: 'bench-mirror', files: mirrorFiles })
      rows.push(...measured.rows)
      context.notes.push(...measured.notes)
    }

    process.stdout.write(`\ntuf-proxy bench (${((performance.now() - startedMs) / 1000).toFixed(0)} s, fixtures ${(fixturesMs / 1000).toFixed(1)} s)\n\n`)
    process.stdout.write(formatTable(rows))
    process.stdout.write('\n')
    const facts = [
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'}), Linux ${release()}, node ${process.version}`,
      `reference/upstream: ${upstream.description}${upstream.kind === 'nginx' ? ', 1 worker, sendfile on, access_log off' : ''}`,
      `load generator: ${generatorDescription}, separate process; page ${PAGE_CONNECTIONS} conns, file ${FILE_CONNECTIONS} conns, swarm ${SWARM_CLIENTS} clients (bench/loader.js)`,
      `page: ${pageProject.length} files listed; rates: 1 s warm-up, then 3 rounds of 3 s per target taking turns, medians; proxy stdout (JSON logs) goes to a file`,
      `load average (1 min) before ${loadBefore.toFixed(2)}, after ${(loadavg()[0] ?? 0).toFixed(2)}${loadBefore > 0.5 ? ': OTHER WORK WAS RUNNING, figures are noisy' : ''}`,
      ...context.notes,
    ]
    process.stdout.write(`${facts.map((line) => `- ${line}`).join('\n')}\n`)
    if (sections.has('tuf')) {
      const notes: string[] = []
      const tufRows = await runTufEngine({ log: (line) => notes.push(line) })
      process.stdout.write(`\nTUF engine, PEP 458 scale (ratio = tuf-proxy / tuf-js 5, measured in this run)\n\n${formatRows(tufRows, 'tuf-js')}`)
      process.stdout.write(`${notes.map((line) => `- ${line}`).join('\n')}\n`)
    }
    if (sections.has('verifying')) {
      const notes: string[] = []
      const overheadRows = await runVerifyingOverhead({ log: (line) => notes.push(line) })
      process.stdout.write(`\nVerifying mode vs hash-only serving, 16,384 bins (ratio = verifying / hash-only)\n\n${formatRows(overheadRows, 'hash-only')}`)
      process.stdout.write(`${notes.map((line) => `- ${line}`).join('\n')}\n`)
    }
  } finally {
    for (const stop of stops) await stop().catch((error: unknown) => process.stderr.write(`bench: stopping failed: ${String(error)}\n`))
    rmSync(tempDir, { recursive: true, force: true })
  }
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
