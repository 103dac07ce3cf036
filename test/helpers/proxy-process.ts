/**
 * The proxy under test as a real child process: the built CLI on port 0, a fresh cache dir, JSON
 * log lines parsed from stdout, and SIGKILL on demand for crash tests.
 *
 * Also the crash canary (issue 7): a proxy process that exits when the test did not stop or kill
 * it fails the test that was running (an `afterEach` on the file's root suite, registered by
 * importing this module), and again any later stop()/dispose() that has not reported it yet, with
 * the exit code or signal, the end of stderr and the last log lines.
 */
import { afterEach } from 'node:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli.js')

export type LogLine = Record<string, unknown> & { event?: string }

/** How much of the dead process's output a crash report quotes. */
const REPORT_LOG_LINES = 12
const REPORT_STDERR_CHARS = 4000

/** Proxies that exited on their own and whose exit no test has failed on yet. */
const unreportedCrashes = new Set<ProxyProcess>()

// node:test runs a root-level afterEach after every test of the file, nested suites included.
afterEach(() => {
  const crashed = [...unreportedCrashes]
  unreportedCrashes.clear()
  if (crashed.length > 0) throw new Error(crashed.map((proxy) => proxy.crashReport).join('\n'))
})

export class ProxyProcess {
  readonly logs: LogLine[] = []
  stderr = ''
  port = 0
  #child: ChildProcess | undefined
  #waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = []
  #stderrWaiters: Array<{ pattern: RegExp; resolve: (match: RegExpExecArray) => void }> = []
  #exited: Promise<number | null> | undefined
  /** set before the helper itself signals the process, so that exit is not a crash */
  #isExitExpected = false
  /** why the process died when no one asked it to, or undefined while it lives or was stopped */
  crashReport: string | undefined

  constructor(
    readonly cacheDir: string,
    readonly args: readonly string[],
    /** added to the child's environment (HTTPS_PROXY, NO_PROXY, ...) */
    readonly env: Readonly<Record<string, string>> = {},
  ) {}

  /** Starts a proxy; `args` come after `serve --host 127.0.0.1 --port 0 --cache-dir DIR`. */
  static async start(args: readonly string[], options: { cacheDir?: string; env?: Readonly<Record<string, string>> } = {}): Promise<ProxyProcess> {
    const cacheDir = options.cacheDir ?? mkdtempSync(join(tmpdir(), 'tuf-proxy-test-'))
    const proxy = new ProxyProcess(cacheDir, args, options.env)
    await proxy.#spawn()
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async #spawn(): Promise<void> {
    this.port = 0
    const child = spawn(process.execPath, ['--enable-source-maps', CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', this.cacheDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...this.env },
    })
    this.#child = child
    this.#isExitExpected = false
    this.crashReport = undefined
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.#isExitExpected && this.port !== 0) this.#recordCrash(code, signal)
        resolve(code)
      }),
    )
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
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text
      this.#stderrWaiters = this.#stderrWaiters.filter((waiter) => {
        const match = waiter.pattern.exec(this.stderr)
        if (match) waiter.resolve(match)
        return !match
      })
    })
    const listening = await Promise.race([
      this.waitForLog((line) => line.event === 'listening'),
      this.#exited.then((code) => {
        throw new Error(`proxy exited with ${code} before listening: ${this.stderr}${JSON.stringify(this.logs)}`)
      }),
    ])
    this.port = Number(listening.port)
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Resolves with the exit code once the current process has exited, however it ended. */
  exited(): Promise<number | null> {
    return this.#exited ?? Promise.resolve(null)
  }

  /** True once the process exited without being asked to. */
  get hasCrashed(): boolean {
    return this.crashReport !== undefined
  }

  #recordCrash(code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`
    const lastLogs = this.logs.slice(-REPORT_LOG_LINES).map((line) => JSON.stringify(line))
    this.crashReport = [
      `crash canary: the proxy process (pid ${this.#child?.pid}, args ${this.args.join(' ')}) ${how} while no test had stopped it`,
      `stderr (last ${REPORT_STDERR_CHARS} chars):`,
      this.stderr.slice(-REPORT_STDERR_CHARS) || '(empty)',
      `last ${lastLogs.length} log lines:`,
      ...lastLogs,
    ].join('\n')
    unreportedCrashes.add(this)
  }

  /** Throws the crash report if the process died on its own and no test has failed on it yet. */
  #throwUnreportedCrash(): void {
    if (!unreportedCrashes.delete(this)) return
    throw new Error(this.crashReport)
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

  /** Resolves once stderr (the human start line, a crash's stack) matches `pattern`; stderr and stdout are separate pipes, read in no fixed order. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray> {
    const seen = pattern.exec(this.stderr)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#stderrWaiters.push({ pattern, resolve }))
  }

  events(name: string): LogLine[] {
    return this.logs.filter((line) => line.event === name)
  }

  /**
   * Stops gracefully with SIGTERM; resolves with the exit code.
   * @throws {Error} the crash report, when the process had already died on its own unreported.
   */
  async stop(): Promise<number | null> {
    this.#throwUnreportedCrash()
    if (!this.#child || this.#child.exitCode !== null || this.#child.signalCode !== null) return this.#child?.exitCode ?? null
    this.#isExitExpected = true
    this.#child.kill('SIGTERM')
    return this.#exited ?? null
  }

  /** SIGKILL on purpose (a crash test); not reported by the canary. */
  async kill(): Promise<void> {
    this.#isExitExpected = true
    this.#child?.kill('SIGKILL')
    await this.#exited
  }

  /** Starts again on the same cache dir (a restart), on a new port. */
  async restart(): Promise<void> {
    this.logs.length = 0
    await this.#spawn()
  }

  /** @throws {Error} the crash report, when the process had died on its own unreported. */
  async dispose(): Promise<void> {
    await this.kill()
    rmSync(this.cacheDir, { recursive: true, force: true })
    this.#throwUnreportedCrash()
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
