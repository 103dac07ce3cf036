/**
 * The Node load generator, run as its own process (`node dist/bench/loader.js '<json>'`) so it
 * never shares an event loop with the proxy or the upstream. Two modes:
 * - `load`: fixed concurrency for a fixed duration over keep-alive connections; reports
 *   requests/s, bytes/s and latency percentiles from every request's own latency;
 * - `once`: `clients` concurrent GETs of one URL (or one GET of each of `urls`), one each, over raw sockets (a Node HTTP client
 *   reads a 50 MB body 2-4x slower than curl here, which would hide the server's speed); reports
 *   each one's wall time.
 * It prints one JSON line on stdout. It does not decide what to measure; run.ts does.
 */
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'

export interface LoadJob {
  readonly mode: 'load'
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly connections: number
  readonly durationMs: number
}

export interface OnceJob {
  readonly mode: 'once'
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly clients: number
  /** when set, client i GETs urls[i] instead of `url` (as many clients as urls) */
  readonly urls?: readonly string[] | undefined
  /** fetched once before the timed GETs, so a fresh process's first big read is not what is timed */
  readonly warmupUrl?: string | undefined
}

export interface LoadResult {
  readonly requests: number
  readonly errors: number
  readonly bytes: number
  readonly elapsedMs: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export interface OnceResult {
  readonly wallMs: readonly number[]
  readonly bytes: readonly number[]
  readonly statuses: readonly number[]
  readonly totalMs: number
}

/** Sends one GET and consumes the body; resolves with status and body length. */
async function get(pool: Pool, path: string, headers: Readonly<Record<string, string>>): Promise<{ status: number; bytes: number }> {
  const { statusCode, body } = await pool.request({ path, method: 'GET', headers })
  let bytes = 0
  for await (const chunk of body as AsyncIterable<Buffer>) bytes += chunk.byteLength
  return { status: statusCode, bytes }
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN
}

async function runLoad(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url)
  const pool = new Pool(target.origin, { connections: job.connections, pipelining: 1 })
  const path = `${target.pathname}${target.search}`
  let latencies = new Float64Array(1 << 16)
  let requests = 0
  let errors = 0
  let bytes = 0
  const startMs = performance.now()
  const endMs = startMs + job.durationMs
  const worker = async () => {
    while (performance.now() < endMs) {
      const t0 = performance.now()
      try {
        const response = await get(pool, path, job.headers)
        if (response.status !== 200) errors += 1
        bytes += response.bytes
      } catch {
        errors += 1
      }
      if (requests === latencies.length) {
        const grown = new Float64Array(latencies.length * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[requests] = performance.now() - t0
      requests += 1
    }
  }
  await Promise.all(Array.from({ length: job.connections }, worker))
  const elapsedMs = performance.now() - startMs
  await pool.close()
  const sorted = latencies.subarray(0, requests).sort()
  return { requests, errors, bytes, elapsedMs, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
}

const HEAD_END = Buffer.from('\r\n\r\n')

/**
 * One HTTP/1.1 GET on a fresh connection (`Connection: close`), counting body bytes as they
 * arrive: up to Content-Length, else to the close. Status 0 means the exchange failed.
 */
function rawGet(url: URL, headers: Readonly<Record<string, string>>): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, 'connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)]
    const socket = connect(Number(url.port || 80), url.hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`))
    let head: Buffer | undefined = Buffer.alloc(0)
    let status = 0
    let expectedBytes = Number.POSITIVE_INFINITY
    let bytes = 0
    const finish = (isComplete: boolean) => {
      socket.destroy()
      resolve({ status: isComplete ? status : 0, bytes })
    }
    socket.on('data', (chunk: Buffer) => {
      if (head) {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf(HEAD_END)
        if (end === -1) return
        const text = head.subarray(0, end).toString('latin1')
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)
        const length = /^content-length:\s*(\d+)\s*$/im.exec(text)?.[1]
        if (length !== undefined) expectedBytes = Number(length)
        bytes = head.byteLength - end - HEAD_END.byteLength
        head = undefined
      } else {
        bytes += chunk.byteLength
      }
      if (bytes >= expectedBytes) finish(true)
    })
    socket.on('end', () => finish(head === undefined && (expectedBytes === Number.POSITIVE_INFINITY || bytes === expectedBytes)))
    socket.on('error', () => finish(false))
  })
}

async function runOnce(job: OnceJob): Promise<OnceResult> {
  const target = new URL(job.url)
  if (job.warmupUrl) await rawGet(new URL(job.warmupUrl), {})
  const startMs = performance.now()
  const runs = await Promise.all(
    Array.from({ length: job.urls?.length ?? job.clients }, async (_unused, i) => {
      const t0 = performance.now()
      const own = job.urls?.[i]
      const response = await rawGet(own === undefined ? target : new URL(own), job.headers)
      return { ...response, ms: performance.now() - t0 }
    }),
  )
  const totalMs = performance.now() - startMs
  return { wallMs: runs.map((run) => run.ms), bytes: runs.map((run) => run.bytes), statuses: runs.map((run) => run.status), totalMs }
}

function decodeJob(text: string | undefined): LoadJob | OnceJob {
  const value: unknown = JSON.parse(text ?? '')
  if (typeof value !== 'object' || value === null) throw new TypeError('loader: the argument must be a JSON job')
  const job = value as Record<string, unknown>
  if (typeof job.url !== 'string' || typeof job.headers !== 'object' || job.headers === null) throw new TypeError('loader: url and headers are required')
  const headers = job.headers as Record<string, string>
  if (job.mode === 'load' && typeof job.connections === 'number' && typeof job.durationMs === 'number') {
    return { mode: 'load', url: job.url, headers, connections: job.connections, durationMs: job.durationMs }
  }
  if (job.mode === 'once' && typeof job.clients === 'number') {
    const urls = Array.isArray(job.urls) && job.urls.every((url) => typeof url === 'string') ? (job.urls as string[]) : undefined
    return { mode: 'once', url: job.url, headers, clients: job.clients, urls, warmupUrl: typeof job.warmupUrl === 'string' ? job.warmupUrl : undefined }
  }
  throw new TypeError(`loader: unknown job ${text}`)
}

const job = decodeJob(process.argv[2])
const result = job.mode === 'load' ? await runLoad(job) : await runOnce(job)
process.stdout.write(`${JSON.stringify(result)}\n`)
