/**
 * The per-request cost of verifying mode: two proxies (the built CLI, each its own process) serve
 * the same cached page and files, one hash-only against the plain index, one verifying against
 * a PEP 458-scale TUF repository (16,384 `path_hash_prefixes` bins, ~200,000 targets,
 * consistent snapshots) whose pages (`simple/<project>/index.html`) and files (`packages/…`) are
 * targets. The upstream (tuf-static-upstream.js) and the load generator (wrk, else
 * bench/loader.js, via generators.ts) are processes of their own.
 *
 * Figures: cached page requests/s and cached 1 MB and 50 MB file throughput on both, as
 * verified/hash-only (target >= 0.91x, i.e. at most 1.10x the cost per request), server CPU per
 * request, and the verifying proxy's time to its first verified refresh and its RSS.
 * `node dist/bench/verifying-overhead.js` prints the table; run.ts calls `run()`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { generateLoad, pickGenerator, type Generator, type LoadFigures } from './generators.js'
import { buildPep458Repo, servedMetadata } from './pep458-repo.js'
import { compared, formatRows, median, type Row } from './tuf-rows.js'

export type { Row } from './tuf-rows.js'

export interface VerifyingOverheadOptions {
  readonly bins?: number
  readonly targets?: number
  readonly log?: (line: string) => void
}

const HERE = dirname(fileURLToPath(import.meta.url))
const CLI_PATH = resolve(HERE, '../src/cli.js')
const UPSTREAM_PATH = join(HERE, 'tuf-static-upstream.js')
const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
const PAGE_CONNECTIONS = 16
const FILE_CONNECTIONS = 4
const WARMUP_SECONDS = 1
const ROUNDS = 5
const ROUND_SECONDS = 2
const PROJECT = 'benchproj'
const FILES = [
  { path: `packages/py3/b/${PROJECT}/${PROJECT}-1.0-py3-none-any.whl`, bytes: 1024 * 1024, label: '1 MB' },
  { path: `packages/source/b/${PROJECT}/${PROJECT}-2.0.tar.gz`, bytes: 50 * 1024 * 1024, label: '50 MB' },
] as const
const MB = 1e6

/** A child process whose first stdout line is JSON; resolves with that line. */
function firstJsonLine(child: ChildProcess, what: string): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    let buffered = ''
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      buffered += text
      const newline = buffered.indexOf('\n')
      if (newline >= 0) resolvePromise(JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>)
    })
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before printing its port`)))
  })
}

function procStatus(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024
}

/** User + system CPU seconds of a process so far (proc(5): fields 14 and 15, in clock ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Proxy {
  readonly label: string
  readonly origin: string
  readonly pid: number
  readonly startedMs: number
  readonly listeningMs: number
  readonly child: ChildProcess
}

/** The built CLI on port 0, stdout (JSON log lines) into a file; resolves once it logs `listening`. */
async function startProxy(label: string, tempDir: string, args: readonly string[]): Promise<Proxy> {
  const logPath = join(tempDir, `${label}.log`)
  const out = openSync(logPath, 'w')
  const startedMs = performance.now()
  const cacheDir = join(tempDir, `cache-${label}`)
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', cacheDir, ...args], {
    stdio: ['ignore', out, out],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
  })
  closeSync(out)
  for (const deadlineMs = performance.now() + 30_000; performance.now() < deadlineMs; ) {
    const line = readFileSync(logPath, 'utf8')
      .split('\n')
      .find((text) => text.includes('"listening"'))
    if (line) {
      const port = Number((JSON.parse(line) as { port?: unknown }).port)
      return { label, origin: `http://127.0.0.1:${port}`, pid: child.pid ?? 0, startedMs, listeningMs: performance.now(), child }
    }
    if (child.exitCode !== null) break
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 5))
  }
  child.kill('SIGKILL')
  throw new Error(`${label} proxy did not start:\n${readFileSync(logPath, 'utf8').slice(-2000)}`)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolvePromise) => child.once('exit', resolvePromise))
  child.kill('SIGTERM')
  await exited
}

/** Polls the metrics until the first TUF refresh succeeded; the time since `proxy` was spawned. */
async function timeToFirstRefresh(proxy: Proxy): Promise<number> {
  for (const deadlineMs = performance.now() + 60_000; performance.now() < deadlineMs; ) {
    const text = await (await fetch(`${proxy.origin}/metrics`)).text()
    if (/^tuf_proxy_tuf_refresh_total\{result="ok"\} [1-9]/m.test(text)) return performance.now() - proxy.startedMs
    if (/^tuf_proxy_tuf_refresh_total\{result="failed"\} [1-9]/m.test(text)) throw new Error(`${proxy.label}: the first TUF refresh failed`)
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 5))
  }
  throw new Error(`${proxy.label}: no TUF refresh within 60 s`)
}

async function getOk(url: string, headers: Record<string, string> = {}): Promise<{ bytes: number; cache: string | null }> {
  const response = await fetch(url, { headers })
  const body = await response.arrayBuffer()
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${Buffer.from(body).toString('utf8').slice(0, 300)}`)
  return { bytes: body.byteLength, cache: response.headers.get('x-cache') }
}

/**
 * Publishes the project's page and files as targets of a PEP 458-scale repository and writes the
 * tree the upstream serves: `metadata/<name>`, and each target under `targets/` by its path and
 * its consistent-snapshot name `dir/HASH.name`. Returns the trusted root (version 1).
 */
function writeUpstreamTree(wwwDir: string, origin: string, options: VerifyingOverheadOptions): Uint8Array {
  const files = FILES.map((file) => {
    const content = randomBytes(file.bytes)
    return { ...file, content, sha256: createHash('sha256').update(content).digest('hex') }
  })
  const links = files.map((file) => `<a href="${origin}/targets/${file.path}#sha256=${file.sha256}">${file.path.split('/').pop() ?? ''}</a><br/>`)
  const page = Buffer.from(`<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for ${PROJECT}</title></head>\n<body><h1>Links for ${PROJECT}</h1>\n${links.join('\n')}\n</body></html>\n`)
  const realTargets = new Map<string, Uint8Array>([[`simple/${PROJECT}/index.html`, page], ...files.map((file) => [file.path, file.content] as const)])
  const repo = buildPep458Repo({
    style: 'hash-prefixes',
    realTargets,
    ...(options.bins === undefined ? {} : { bins: options.bins }),
    ...(options.targets === undefined ? {} : { targets: options.targets }),
  })
  mkdirSync(join(wwwDir, 'metadata'), { recursive: true })
  for (const [name, bytes] of servedMetadata(repo)) writeFileSync(join(wwwDir, 'metadata', name), bytes)
  for (const [path, bytes] of realTargets) {
    const plain = join(wwwDir, 'targets', path)
    mkdirSync(dirname(plain), { recursive: true })
    writeFileSync(plain, bytes)
    linkSync(plain, join(dirname(plain), `${createHash('sha256').update(bytes).digest('hex')}.${path.split('/').pop() ?? ''}`))
  }
  return repo.sim.trustedRoot()
}

interface Rates {
  readonly requestsPerSecond: number
  readonly bytesPerSecond: number
  readonly cpuUsPerRequest: number
}

/** Median rates of both proxies over ROUNDS alternating windows (drift on a shared machine then favours neither). */
async function compareProxies(generator: Generator, proxies: readonly Proxy[], path: string, connections: number, notes: string[]): Promise<Map<string, Rates>> {
  const headers = { accept: PIP_ACCEPT }
  const samples = new Map<string, Array<LoadFigures & { cpuSeconds: number }>>(proxies.map((proxy) => [proxy.label, []]))
  for (const proxy of proxies) await generateLoad(generator, { url: `${proxy.origin}${path}`, headers, connections, durationSeconds: WARMUP_SECONDS })
  for (let round = 0; round < ROUNDS; round++) {
    for (let turn = 0; turn < proxies.length; turn++) {
      const proxy = proxies[(round + turn) % proxies.length]
      if (!proxy) continue
      const cpuBefore = cpuSeconds(proxy.pid)
      const figures = await generateLoad(generator, { url: `${proxy.origin}${path}`, headers, connections, durationSeconds: ROUND_SECONDS })
      samples.get(proxy.label)?.push({ ...figures, cpuSeconds: cpuSeconds(proxy.pid) - cpuBefore })
      if (figures.errors > 0) notes.push(`${proxy.label} ${path}: ${figures.errors} of ${figures.requests} requests failed or were not 200`)
    }
  }
  const rates = new Map<string, Rates>()
  for (const [label, runs] of samples) {
    const requests = runs.reduce((sum, run) => sum + run.requests, 0)
    const cpu = runs.reduce((sum, run) => sum + run.cpuSeconds, 0)
    rates.set(label, {
      requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
      bytesPerSecond: median(runs.map((run) => run.bytesPerSecond)),
      cpuUsPerRequest: (cpu / requests) * 1e6,
    })
  }
  return rates
}

function rateRows(what: string, rates: Map<string, Rates>, byBytes: boolean): Row[] {
  const verified = rates.get('verifying')
  const hashOnly = rates.get('hash-only')
  if (!verified || !hashOnly) return []
  const rate = byBytes
    ? compared(`${what}: throughput`, 'MB/s', verified.bytesPerSecond / MB, hashOnly.bytesPerSecond / MB, { atLeast: 0.91 })
    : compared(`${what}: requests/s`, 'req/s', verified.requestsPerSecond, hashOnly.requestsPerSecond, { atLeast: 0.91 })
  return [rate, compared(`${what}: proxy CPU per request`, 'us', verified.cpuUsPerRequest, hashOnly.cpuUsPerRequest, { atMost: 1.1 })]
}

/**
 * Starts the upstream and both proxies, warms their caches, measures, stops everything.
 * @throws when a process fails to start or a request is not answered 200
 */
export async function run(options: VerifyingOverheadOptions = {}): Promise<Row[]> {
  const log = options.log ?? (() => undefined)
  const notes: string[] = []
  const tempDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-bench-verifying-'))
  const wwwDir = join(tempDir, 'www')
  const children: ChildProcess[] = []
  try {
    mkdirSync(wwwDir)
    const upstream = spawn(process.execPath, [UPSTREAM_PATH, wwwDir], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(upstream)
    const origin = `http://127.0.0.1:${Number((await firstJsonLine(upstream, 'the upstream')).port)}`
    const buildStartMs = performance.now()
    const trustedRoot = writeUpstreamTree(wwwDir, origin, options)
    log(`repository: ${options.bins ?? 16_384} hash-prefix bins, ${options.targets ?? 200_000} targets, built and written in ${((performance.now() - buildStartMs) / 1000).toFixed(1)} s`)
    const rootPath = join(tempDir, 'root.json')
    writeFileSync(rootPath, trustedRoot)
    const upstreamArgs = ['--upstream', `${origin}/targets/simple/`]
    const hashOnly = await startProxy('hash-only', tempDir, upstreamArgs)
    children.push(hashOnly.child)
    const verifying = await startProxy('verifying', tempDir, [...upstreamArgs, '--tuf-root', rootPath, '--tuf-metadata-url', `${origin}/metadata/`, '--tuf-targets-url', `${origin}/targets/`])
    children.push(verifying.child)
    const refreshMs = await timeToFirstRefresh(verifying)
    const rssAfterRefresh = procStatus(verifying.pid, 'VmRSS')
    const proxies = [hashOnly, verifying]
    const paths = [`/simple/${PROJECT}/`, ...FILES.map((file) => `/files/${PROJECT}/${file.path.split('/').pop() ?? ''}`)]
    for (const proxy of proxies) {
      for (const path of paths) await getOk(`${proxy.origin}${path}`, { accept: PIP_ACCEPT })
      // a download is committed to the cache just after its response ends: wait for the HIT
      for (const path of paths) {
        let cache: string | null = null
        for (let attempt = 0; attempt < 50 && cache !== 'HIT'; attempt++) {
          if (attempt > 0) await new Promise((resolvePromise) => setTimeout(resolvePromise, 20))
          cache = (await getOk(`${proxy.origin}${path}`, { accept: PIP_ACCEPT })).cache
        }
        if (cache !== 'HIT') notes.push(`${proxy.label} ${path}: still X-Cache ${cache ?? '(none)'} after 50 requests`)
      }
    }
    const { generator, description } = pickGenerator()
    const rows: Row[] = []
    const [pagePath, ...filePaths] = paths
    if (pagePath) rows.push(...rateRows(`cached page, ${PAGE_CONNECTIONS} conns`, await compareProxies(generator, proxies, pagePath, PAGE_CONNECTIONS, notes), false))
    for (const [i, file] of FILES.entries()) {
      const path = filePaths[i]
      if (path) rows.push(...rateRows(`cached ${file.label} file, ${FILE_CONNECTIONS} conns`, await compareProxies(generator, proxies, path, FILE_CONNECTIONS, notes), true))
    }
    rows.push({ figure: 'verifying proxy: start to first verified refresh', value: refreshMs, unit: 'ms', reference: hashOnly.listeningMs - hashOnly.startedMs })
    rows.push({ figure: 'verifying proxy: RSS after first refresh', value: rssAfterRefresh / MB, unit: 'MB' })
    rows.push({ figure: 'peak RSS over the whole run', value: procStatus(verifying.pid, 'VmHWM') / MB, unit: 'MB', reference: procStatus(hashOnly.pid, 'VmHWM') / MB })
    log(`load generator: ${description}, separate process; ${ROUNDS} alternating ${ROUND_SECONDS} s rounds per figure, medians`)
    log('start to first verified refresh: reference = the hash-only proxy from start to listening')
    for (const note of notes) log(note)
    return rows
  } finally {
    await Promise.all(children.map(stopChild))
    rmSync(tempDir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const startMs = performance.now()
  const lines: string[] = []
  const rows = await run({ log: (line) => lines.push(line) })
  process.stdout.write('Verifying mode vs hash-only serving, same cached page and files; ratio = verifying/hash-only\n\n')
  process.stdout.write(formatRows(rows, 'hash-only'))
  process.stdout.write(`\n${lines.join('\n')}\nnode ${process.version}; took ${((performance.now() - startMs) / 1000).toFixed(0)} s\n`)
}
