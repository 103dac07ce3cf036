/**
 * The proxy under measurement: the built CLI as a child process, its stdout (JSON log lines) sent
 * to a file in the bench's temp dir as a log collector would take it, and its memory read from
 * /proc/<pid>/status. Does not drive any load.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exited, freePort, waitForHttp } from './servers.js'

const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js')

/** The node flags of the CLI's `#!/usr/bin/env -S node ...` line: the proxy is measured as it is launched. */
export function launchFlags(cliSource: string): string[] {
  const shebang = /^#!\/usr\/bin\/env (?:-S )?node(.*)$/m.exec(cliSource.split('\n', 1)[0] ?? '')
  if (!shebang) throw new Error('the CLI does not start with a node shebang')
  return (shebang[1] ?? '').trim().split(/\s+/).filter((flag) => flag !== '')
}

/** The node flags the built proxy is launched with (its CLI's shebang line). */
export function proxyLaunchFlags(): string[] {
  return launchFlags(readFileSync(CLI_PATH, 'utf8'))
}

export type LogLevel = 'info' | 'warn'

export interface ProxyOptions {
  readonly upstreamUrl: string
  readonly cacheDir: string
  readonly logPath: string
  readonly logLevel: LogLevel
  /** extra node flags, e.g. --cpu-prof */
  readonly nodeFlags?: readonly string[]
  /** `--workers N` (default: the CLI's, 1); with more, start waits until every worker listens */
  readonly workers?: number
}

export class BenchProxy {
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
    readonly logPath: string,
  ) {}

  /**
   * Starts the CLI with `--port 0` and reads the port from its `listening` line. That line is
   * logged at info, so under a quieter level the bench picks a free port itself and waits for
   * `/health`.
   * @throws if the proxy exits or does not listen within 15 s
   */
  static async start(options: ProxyOptions): Promise<BenchProxy> {
    const chosenPort = options.logLevel === 'info' ? 0 : await freePort()
    const args = [
      ...proxyLaunchFlags(),
      ...(options.nodeFlags ?? []),
      CLI_PATH,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(chosenPort),
      '--cache-dir',
      options.cacheDir,
      '--upstream',
      options.upstreamUrl,
      '--log-level',
      options.logLevel,
      ...(options.workers === undefined ? [] : ['--workers', String(options.workers)]),
    ]
    const out = openSync(options.logPath, 'w')
    const child = spawn(process.execPath, args, { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } })
    closeSync(out)
    const isAlive = () => child.exitCode === null && child.signalCode === null
    try {
      const port = chosenPort || (await listeningPort(options.logPath, isAlive))
      const origin = `http://127.0.0.1:${port}`
      await waitForHttp(`${origin}/health`, 15_000, isAlive)
      if ((options.workers ?? 1) > 1) await allWorkersListening(options.logPath, isAlive)
      return new BenchProxy(child, origin, options.logPath)
    } catch (error) {
      child.kill('SIGKILL')
      throw new Error(`the proxy did not start: ${String(error)}\n${readFileSync(options.logPath, 'utf8').slice(-2000)}`)
    }
  }

  get pid(): number {
    return this.child.pid ?? 0
  }

  /** Resident set now and its high-water mark since start or the last resetPeak(), in bytes. */
  memory(): { rssBytes: number; peakRssBytes: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024
    return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') }
  }

  /** Resets VmHWM to the current RSS (Linux >= 4.0); false when the kernel refuses. */
  resetPeak(): boolean {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5')
      return true
    } catch {
      return false
    }
  }

  /** Counts log lines with this event, e.g. `request`. */
  logCount(event: string): number {
    const needle = `"event":"${event}"`
    return readFileSync(this.logPath, 'utf8').split('\n').filter((line) => line.includes(needle)).length
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000)
    await exited(this.child)
    clearTimeout(timer)
  }
}

/** The primary's `listening` line (it names the number of workers) follows every worker's. */
async function allWorkersListening(logPath: string, isAlive: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 15_000
  while (!readFileSync(logPath, 'utf8').split('\n').some((line) => line.includes('"event":"listening"') && line.includes('"workers":'))) {
    if (!isAlive() || Date.now() > deadlineMs) throw new Error('the workers did not all listen')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function listeningPort(logPath: string, isAlive: () => boolean): Promise<number> {
  const deadlineMs = Date.now() + 15_000
  while (Date.now() < deadlineMs && isAlive()) {
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      if (!line.includes('"listening"')) continue
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed === 'object' && parsed !== null && 'event' in parsed && parsed.event === 'listening' && 'port' in parsed) return Number(parsed.port)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('no "listening" line on the proxy\'s stdout')
}
