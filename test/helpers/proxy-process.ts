/**
 * The proxy under test as a real child process: the built CLI on port 0, a fresh cache dir, JSON
 * log lines parsed from stdout, and SIGKILL on demand for crash tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli.js')

export type LogLine = Record<string, unknown> & { event?: string }

export class ProxyProcess {
  readonly logs: LogLine[] = []
  stderr = ''
  port = 0
  #child: ChildProcess | undefined
  #waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = []
  #exited: Promise<number | null> | undefined

  constructor(
    readonly cacheDir: string,
    readonly args: readonly string[],
  ) {}

  /** Starts a proxy; `args` come after `serve --host 127.0.0.1 --port 0 --cache-dir DIR`. */
  static async start(args: readonly string[], options: { cacheDir?: string } = {}): Promise<ProxyProcess> {
    const cacheDir = options.cacheDir ?? mkdtempSync(join(tmpdir(), 'tuf-proxy-test-'))
    const proxy = new ProxyProcess(cacheDir, args)
    await proxy.#spawn()
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async #spawn(): Promise<void> {
    const child = spawn(process.execPath, ['--enable-source-maps', CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', this.cacheDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    })
    this.#child = child
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    let buffered = ''
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      buffered += text
      let newline
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const raw = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        let line: LogLine
        try {
          line = JSON.parse(raw) as LogLine
        } catch {
          line = { event: 'unparsed', raw }
        }
        this.logs.push(line)
        this.#waiters = this.#waiters.filter((waiter) => {
          if (!waiter.match(line)) return true
          waiter.resolve(line)
          return false
        })
      }
    })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text))
    const listening = await Promise.race([
      this.waitForLog((line) => line.event === 'listening'),
      this.#exited.then((code) => {
        throw new Error(`proxy exited with ${code} before listening: ${this.stderr}${JSON.stringify(this.logs)}`)
      }),
    ])
    this.port = Number(listening.port)
  }

  /** Whether the child process is running (it has not exited since the last start). */
  get isRunning(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.logs.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ match, resolve }))
  }

  events(name: string): LogLine[] {
    return this.logs.filter((line) => line.event === name)
  }

  /** Stops gracefully with SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (!this.#child || this.#child.exitCode !== null) return this.#child?.exitCode ?? null
    this.#child.kill('SIGTERM')
    return this.#exited ?? null
  }

  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL')
    await this.#exited
  }

  /** Starts again on the same cache dir (a restart), on a new port. */
  async restart(): Promise<void> {
    this.logs.length = 0
    await this.#spawn()
  }

  async dispose(): Promise<void> {
    await this.kill()
    rmSync(this.cacheDir, { recursive: true, force: true })
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text()
    const labelText = Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => `${key}="${value}"`)
      .join(',')
    const wanted = labelText ? `${name}{${labelText}}` : name
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${wanted} `))
    return line ? Number(line.slice(wanted.length + 1)) : 0
  }
}
