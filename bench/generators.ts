/**
 * Load generators, always in a process of their own: Debian's `wrk` when installed (its text
 * output parsed here), else bench/loader.js. Both report the same figures, so the proxy and the
 * reference server are always measured by one generator at one concurrency.
 */
import { execFile, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { LoadJob, LoadResult, OnceJob, OnceResult } from './loader.js'

const run = promisify(execFile)
const LOADER_PATH = join(dirname(fileURLToPath(import.meta.url)), 'loader.js')

export interface LoadFigures {
  readonly requestsPerSecond: number
  readonly bytesPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly requests: number
  readonly errors: number
}

export interface LoadSpec {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly connections: number
  readonly durationSeconds: number
}

export type Generator = 'wrk' | 'node'

/** `wrk` when it runs here, else the Node loader. */
export function pickGenerator(): { generator: Generator; description: string } {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  const text = `${probe.stdout ?? ''}${probe.stderr ?? ''}`
  const version = /wrk \S+/.exec(text)?.[0]
  if (!probe.error && version) return { generator: 'wrk', description: `${version}, 1 thread` }
  return { generator: 'node', description: 'bench/loader.js (undici Pool; wrk is not installed)' }
}

export async function generateLoad(generator: Generator, spec: LoadSpec): Promise<LoadFigures> {
  return generator === 'wrk' ? runWrk(spec) : runNodeLoad(spec)
}

/** One GET by each of `clients` concurrent clients, through the Node loader. */
export async function fetchOnce(url: string, clients: number, warmupUrl?: string): Promise<OnceResult> {
  const job: OnceJob = { mode: 'once', url, headers: {}, clients, warmupUrl }
  return JSON.parse((await run(process.execPath, [LOADER_PATH, JSON.stringify(job)], { maxBuffer: 1 << 20 })).stdout) as OnceResult
}

/** One GET of each of `urls`, all at once (a client per URL), through the Node loader. */
export async function fetchEach(urls: readonly string[], warmupUrl?: string): Promise<OnceResult> {
  const job: OnceJob = { mode: 'once', url: urls[0] ?? '', headers: {}, clients: urls.length, urls, warmupUrl }
  return JSON.parse((await run(process.execPath, [LOADER_PATH, JSON.stringify(job)], { maxBuffer: 1 << 20 })).stdout) as OnceResult
}

async function runNodeLoad(spec: LoadSpec): Promise<LoadFigures> {
  const job: LoadJob = { mode: 'load', url: spec.url, headers: spec.headers, connections: spec.connections, durationMs: spec.durationSeconds * 1000 }
  const result = JSON.parse((await run(process.execPath, [LOADER_PATH, JSON.stringify(job)], { maxBuffer: 1 << 20 })).stdout) as LoadResult
  const seconds = result.elapsedMs / 1000
  return {
    requestsPerSecond: result.requests / seconds,
    bytesPerSecond: result.bytes / seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    requests: result.requests,
    errors: result.errors,
  }
}

async function runWrk(spec: LoadSpec): Promise<LoadFigures> {
  const headerArgs = Object.entries(spec.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationSeconds}s`, '--timeout', '10s', '--latency', ...headerArgs, spec.url]
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 })
  return parseWrk(stdout)
}

const TIME_UNITS_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }
const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }

/** Reads wrk 4's summary; sizes in its output are binary units. @throws when a figure is missing */
export function parseWrk(text: string): LoadFigures {
  const need = (pattern: RegExp): RegExpExecArray => {
    const match = pattern.exec(text)
    if (!match) throw new Error(`unexpected wrk output (no ${pattern.source}):\n${text}`)
    return match
  }
  const latency = (percent: string) => {
    const match = need(new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'))
    return Number(match[1]) * (TIME_UNITS_MS[match[2] ?? ''] ?? Number.NaN)
  }
  const transfer = need(/^Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)\s*$/m)
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const socketErrors = sockets ? sockets.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0)
  return {
    requestsPerSecond: Number(need(/^Requests\/sec:\s+([\d.]+)/m)[1]),
    bytesPerSecond: Number(transfer[1]) * (SIZE_UNITS[transfer[2] ?? ''] ?? Number.NaN),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    requests: Number(need(/^\s+(\d+) requests in/m)[1]),
    errors: socketErrors + non2xx,
  }
}
