/**
 * The upstream and reference server for the bench: nginx when it is installed (started here with a
 * generated config in the bench's temp dir, one worker, sendfile, no access log; the system
 * nginx and its config are never touched), else bench/static-server.js as a child process.
 * Also the small process helpers the bench needs (free ports, waiting for HTTP).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StaticServer {
  readonly kind: 'nginx' | 'node'
  /** e.g. `nginx/1.22.1`, or why nginx is not used */
  readonly description: string
  readonly origin: string
  /** the process that serves (with master_process off, nginx's only process) */
  readonly pid: number
  stop(): Promise<void>
}

/** USER_HZ, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100
/** nginx's per-request rate under /slow/ (100 MB/s, a fast uplink). */
export const SLOW_BYTES_PER_SECOND = 100_000_000
const HERE = dirname(fileURLToPath(import.meta.url))

/** A port that was free a moment ago (the OS picks it; a race with other programs is accepted). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Polls `url` until it answers 200; throws after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs
  for (;;) {
    try {
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {
      // not listening yet
    }
    if (!isAlive()) throw new Error(`the server for ${url} exited before answering`)
    if (Date.now() > deadlineMs) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** User plus system CPU time of a process so far (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** `nginx -v` output, or undefined when nginx cannot be run. */
export function nginxVersion(): string | undefined {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) return undefined
  return /nginx\/[\d.]+/.exec(`${probe.stderr}${probe.stdout}`)?.[0] ?? 'nginx'
}

function nginxConfig(options: { prefix: string; wwwDir: string; port: number }): string {
  const { prefix, wwwDir, port } = options
  const temp = (name: string) => `${name}_temp_path ${join(prefix, `${name}_temp`)};`
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  types { application/vnd.pypi.simple.v1+json json; application/octet-stream whl; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${wwwDir};
    index index.json;
    # A fast real upstream, for the cold-file figure at a realistic link speed.
    location /slow/ { alias ${join(wwwDir, 'files')}/; limit_rate ${SLOW_BYTES_PER_SECOND}; }
  }
}
`
}

async function startNginx(options: { tempDir: string; wwwDir: string; port: number; version: string }): Promise<StaticServer> {
  const prefix = join(options.tempDir, 'nginx')
  mkdirSync(prefix, { recursive: true })
  const configPath = join(prefix, 'nginx.conf')
  writeFileSync(configPath, nginxConfig({ prefix, wwwDir: options.wwwDir, port: options.port }))
  // -e: even the error log opened before the config is read stays in the temp dir.
  const child = spawn('nginx', ['-p', prefix, '-c', configPath, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] })
  const origin = `http://127.0.0.1:${options.port}`
  await waitForHttp(`${origin}/health`, 10_000, () => child.exitCode === null).catch(async (error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  return {
    kind: 'nginx',
    description: options.version,
    origin,
    pid: child.pid ?? 0,
    async stop() {
      child.kill('SIGQUIT')
      await exited(child)
    },
  }
}

async function startNodeStatic(options: { wwwDir: string; port: number; why: string }): Promise<StaticServer> {
  const child = spawn(process.execPath, [join(HERE, 'static-server.js'), options.wwwDir, String(options.port)], { stdio: ['ignore', 'ignore', 'inherit'] })
  const origin = `http://127.0.0.1:${options.port}`
  await waitForHttp(`${origin}/health`, 10_000, () => child.exitCode === null)
  return {
    kind: 'node',
    description: `node static server (${options.why})`,
    origin,
    pid: child.pid ?? 0,
    async stop() {
      child.kill('SIGTERM')
      await exited(child)
    },
  }
}

/**
 * bench/ram-page-server.js on a free port, answering every request with `body` and `headers`
 * (written to `dir` for it): the Node ceiling the page figures are compared with.
 */
export async function startRamPageServer(options: { dir: string; body: Uint8Array; headers: Readonly<Record<string, string>> }): Promise<StaticServer> {
  mkdirSync(options.dir, { recursive: true })
  const bodyPath = join(options.dir, 'ram-page.body')
  const headersPath = join(options.dir, 'ram-page.headers.json')
  writeFileSync(bodyPath, options.body)
  writeFileSync(headersPath, JSON.stringify(options.headers))
  return startCeilingServer('ram-page-server.js', [bodyPath, headersPath], 'minimal node server answering from RAM')
}

/**
 * bench/disk-file-server.js on a free port, answering every request with the file at `path`,
 * read from disk the cheapest way Node allows: the Node ceiling the cached-file figures are
 * compared with.
 */
export async function startDiskFileServer(path: string): Promise<StaticServer> {
  return startCeilingServer('disk-file-server.js', [path], 'minimal node server reading the file from disk')
}

/** One of the bench's minimal Node servers, `node <script> ...args <port>`, once it answers. */
async function startCeilingServer(script: string, args: readonly string[], description: string): Promise<StaticServer> {
  const port = await freePort()
  const child = spawn(process.execPath, [join(HERE, script), ...args, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
  const origin = `http://127.0.0.1:${port}`
  await waitForHttp(`${origin}/`, 10_000, () => child.exitCode === null).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  return {
    kind: 'node',
    description,
    origin,
    pid: child.pid ?? 0,
    async stop() {
      child.kill('SIGTERM')
      await exited(child)
    },
  }
}

/**
 * bench/relay-server.js on a free port, relaying `upstreamOrigin` (with `sha256`, hashing what it
 * relays): the Node ceiling the cold-file figures are compared with. `nodeFlags` are the proxy's
 * launch flags, so the two run under the same V8 settings.
 */
export async function startRelayServer(options: { upstreamOrigin: string; isHashing: boolean; nodeFlags: readonly string[] }): Promise<StaticServer> {
  const port = await freePort()
  const args = [...options.nodeFlags, join(HERE, 'relay-server.js'), options.upstreamOrigin, String(port), ...(options.isHashing ? ['sha256'] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  const origin = `http://127.0.0.1:${port}`
  await waitForHttp(`${origin}/health`, 10_000, () => child.exitCode === null).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  return {
    kind: 'node',
    description: `minimal node relay${options.isHashing ? ' + SHA-256' : ''}`,
    origin,
    pid: child.pid ?? 0,
    async stop() {
      child.kill('SIGTERM')
      await exited(child)
    },
  }
}

/** Starts nginx on `port` serving `wwwDir`, or the Node fallback when nginx is not installed. */
export async function startStaticServer(options: { tempDir: string; wwwDir: string; port: number }): Promise<StaticServer> {
  const version = nginxVersion()
  if (version) return startNginx({ ...options, version })
  return startNodeStatic({ ...options, why: 'nginx is not installed' })
}
