/**
 * The same-run comparison with proxpi (github.com/EpicWink/proxpi), the caching PyPI proxy most
 * like this one in scope: a cached page, a cached file and a cold file, each through tuf-proxy and
 * through proxpi against the same upstream, with the load generator and concurrency of the rest
 * of the bench. proxpi's source is never committed: `--proxpi DIR` (or PROXPI_SRC) names a
 * checkout, and it runs as its Dockerfile runs it (gunicorn, one worker, 2 threads) on Debian's
 * python3-flask, python3-requests, python3-lxml and gunicorn. Without them the section is skipped
 * with a note saying what is missing.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchFile } from './fixtures.js'
import { fetchOnce } from './generators.js'
import { compareTargets, FILE_CONNECTIONS, PAGE_CONNECTIONS, PIP_ACCEPT, type BenchContext } from './measure.js'
import type { BenchProxy } from './proxy.js'
import { mb, mbPerSecond, median, ms, rps, type Row } from './report.js'
import { cpuSeconds, exited, freePort, waitForHttp } from './servers.js'

export interface Proxpi {
  readonly origin: string
  /** gunicorn's master; its worker is a child, so CPU is read over the process tree */
  readonly pid: number
  readonly description: string
  stop(): Promise<void>
}

/** Why proxpi cannot run here, or undefined when it can. */
export function proxpiMissing(srcDir: string | undefined): string | undefined {
  if (!srcDir) return 'no proxpi checkout given (--proxpi DIR or PROXPI_SRC)'
  if (!existsSync(join(srcDir, 'src', 'proxpi', 'server.py'))) return `${srcDir} holds no src/proxpi/server.py`
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import flask, requests, lxml'], { encoding: 'utf8' })
  if (probe.status !== 0) return 'python3-flask, python3-requests and python3-lxml are not installed (apt-get install python3-flask python3-requests python3-lxml gunicorn)'
  if (spawnSync('gunicorn', ['--version']).status !== 0) return 'gunicorn is not installed (apt-get install gunicorn)'
  return undefined
}

export async function startProxpi(options: { srcDir: string; upstreamUrl: string; cacheDir: string }): Promise<Proxpi> {
  const port = await freePort()
  const child = spawn(
    'gunicorn',
    ['--bind', `127.0.0.1:${port}`, '--workers', '1', '--threads', '2', '--access-logfile', '-', 'proxpi.server:app'],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: {
        ...process.env,
        PYTHONPATH: join(options.srcDir, 'src'),
        PROXPI_INDEX_URL: options.upstreamUrl,
        PROXPI_CACHE_DIR: options.cacheDir,
        PROXPI_CACHE_SIZE: String(20 * 1024 ** 3),
        // proxpi answers a file it is still downloading after 0.9 s with a redirect to the
        // upstream; the comparison is of relaying, so it waits as tuf-proxy does.
        PROXPI_DOWNLOAD_TIMEOUT: '600',
        PROXPI_LOGGING_LEVEL: 'INFO',
      },
    },
  )
  const origin = `http://127.0.0.1:${port}`
  await waitForHttp(`${origin}/health`, 15_000, () => child.exitCode === null).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  const head = spawnSync('git', ['-C', options.srcDir, 'log', '-1', '--format=%h'], { encoding: 'utf8' })
  return {
    origin,
    pid: child.pid ?? 0,
    description: `proxpi${head.status === 0 ? ` ${head.stdout.trim()}` : ''} under gunicorn (1 worker, 2 threads), access log on`,
    async stop() {
      child.kill('SIGTERM')
      await exited(child)
    },
  }
}

/** CPU seconds of a process and all its descendants (gunicorn's worker is a child of its master). */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid)
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
    for (const child of children ? children.split(' ') : []) total += treeCpuSeconds(Number(child))
  }
  return total
}

async function coldWallMs(url: string, size: number, warmupUrl: string): Promise<number> {
  const result = await fetchOnce(url, 1, warmupUrl)
  if (result.statuses[0] !== 200 || result.bytes[0] !== size) throw new Error(`cold download of ${url} failed: ${JSON.stringify(result)}`)
  return result.wallMs[0] ?? Number.NaN
}

/**
 * Rows of tuf-proxy beside proxpi. `coldFiles` are fresh files, two per round (one for each
 * proxy, so neither meets a file the other has pulled into the upstream's page cache first).
 */
export async function measureProxpi(
  context: BenchContext,
  options: { proxy: BenchProxy; proxpi: Proxpi; pageProject: string; cachedFile: BenchFile; coldFiles: readonly BenchFile[] },
): Promise<Row[]> {
  const { proxy, proxpi, pageProject, cachedFile, coldFiles } = options
  const rows: Row[] = []
  const row = (figure: string, mine: string, theirs: string, ratio: number) =>
    rows.push({ figure: `vs proxpi: ${figure}`, proxy: mine, reference: `${theirs} proxpi`, ratio: `${ratio.toFixed(2)}x`, target: '—', result: 'n/a' })

  const pageHeaders = { accept: PIP_ACCEPT }
  for (const url of [`${proxy.origin}/simple/${pageProject}/`, `${proxpi.origin}/index/${pageProject}/`]) {
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(url, { headers: pageHeaders })
      const body = await response.arrayBuffer()
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`)
      if (i === 1) context.notes.push(`vs proxpi: the cached page of ${url.startsWith(proxy.origin) ? 'tuf-proxy' : 'proxpi'} is ${body.byteLength} bytes of ${response.headers.get('content-type')}`)
    }
  }
  const pages = await compareTargets(
    context,
    [
      { label: 'tuf-proxy', url: `${proxy.origin}/simple/${pageProject}/`, headers: pageHeaders, pid: proxy.pid },
      { label: 'proxpi', url: `${proxpi.origin}/index/${pageProject}/`, headers: pageHeaders, pid: proxpi.pid, cpuSeconds: () => treeCpuSeconds(proxpi.pid) },
    ],
    PAGE_CONNECTIONS,
  )
  const minePage = pages.get('tuf-proxy')
  const theirPage = pages.get('proxpi')
  if (minePage && theirPage) {
    row(`cached page, ${PAGE_CONNECTIONS} conns: throughput`, rps(minePage.requestsPerSecond), rps(theirPage.requestsPerSecond), minePage.requestsPerSecond / theirPage.requestsPerSecond)
    row(`cached page: server CPU per request`, `${minePage.cpuUsPerRequest.toFixed(0)} µs`, `${theirPage.cpuUsPerRequest.toFixed(0)} µs`, minePage.cpuUsPerRequest / theirPage.cpuUsPerRequest)
  }

  const filePaths = [`${proxy.origin}/files/${cachedFile.project}/${cachedFile.filename}`, `${proxpi.origin}/index/${cachedFile.project}/${cachedFile.filename}`]
  await (await fetch(`${proxpi.origin}/index/${cachedFile.project}/`)).arrayBuffer()
  for (const url of filePaths) {
    for (let i = 0; i < 2; i += 1) {
      const result = await fetchOnce(url, 1)
      if (result.statuses[0] !== 200 || result.bytes[0] !== cachedFile.size) throw new Error(`priming ${url} failed: ${JSON.stringify(result)}`)
    }
  }
  const files = await compareTargets(
    context,
    [
      { label: 'tuf-proxy', url: filePaths[0] ?? '', headers: {}, pid: proxy.pid },
      { label: 'proxpi', url: filePaths[1] ?? '', headers: {}, pid: proxpi.pid, cpuSeconds: () => treeCpuSeconds(proxpi.pid) },
    ],
    FILE_CONNECTIONS,
  )
  const mineFile = files.get('tuf-proxy')
  const theirFile = files.get('proxpi')
  if (mineFile && theirFile) {
    row(`cached ${mb(cachedFile.size)} file, ${FILE_CONNECTIONS} conns: throughput`, mbPerSecond(mineFile.bytesPerSecond), mbPerSecond(theirFile.bytesPerSecond), mineFile.bytesPerSecond / theirFile.bytesPerSecond)
    row(`cached file: server CPU per MB`, `${mineFile.cpuMsPerMb.toFixed(2)} ms`, `${theirFile.cpuMsPerMb.toFixed(2)} ms`, mineFile.cpuMsPerMb / theirFile.cpuMsPerMb)
  }

  const mine: number[] = []
  const theirs: number[] = []
  for (let i = 0; i + 1 < coldFiles.length; i += 2) {
    const [a, b] = [coldFiles[i], coldFiles[i + 1]]
    if (!a || !b) continue
    const warmup = `${context.upstream.origin}/health`
    // Each proxy learns a file's URL from its project page, fetched first as a client would:
    // the figure is the file's relay alone.
    await (await fetch(`${proxy.origin}/simple/${a.project}/`)).arrayBuffer()
    mine.push(await coldWallMs(`${proxy.origin}/files/${a.project}/${a.filename}`, a.size, warmup))
    await (await fetch(`${proxpi.origin}/index/${b.project}/`)).arrayBuffer()
    theirs.push(await coldWallMs(`${proxpi.origin}/index/${b.project}/${b.filename}`, b.size, warmup))
  }
  const size = coldFiles[0]?.size ?? 0
  if (mine.length > 0) {
    const mineMs = median(mine)
    const theirMs = median(theirs)
    row(`cold ${mb(size)} file, 1 client: wall time`, `${ms(mineMs)} (${mbPerSecond((size / mineMs) * 1000)})`, `${ms(theirMs)} (${mbPerSecond((size / theirMs) * 1000)})`, mineMs / theirMs)
  }
  context.notes.push(`proxpi: ${proxpi.description}; in the cold row each proxy fetched the project page first, so the row times the file's relay alone`)
  return rows
}
