/**
 * Runs a one-shot subcommand of the built CLI (`mirror`, `import`) as a real child process,
 * asynchronously (the fake upstream lives in the test's own event loop), with its stdout lines
 * observable as they arrive and SIGKILL on demand.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { CLI_PATH } from './proxy-process.js'

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** stdout lines that are JSON objects */
  readonly lines: Array<Record<string, unknown>>
}

export interface CliRun {
  readonly child: ChildProcess
  readonly done: Promise<CliResult>
  /** Resolves once `count` stdout JSON lines satisfy `match`. */
  waitForLines(match: (line: Record<string, unknown>) => boolean, count: number): Promise<void>
}

export function startCli(args: readonly string[]): CliRun {
  const child = spawn(process.execPath, ['--enable-source-maps', CLI_PATH, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
  })
  let stdout = ''
  let stderr = ''
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; count: number; resolve: () => void }> = []
  const settle = () => {
    for (const waiter of [...waiters]) {
      if (lines.filter(waiter.match).length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text
    partial += text
    const complete = partial.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      try {
        const parsed: unknown = JSON.parse(line)
        if (typeof parsed === 'object' && parsed !== null) lines.push(parsed as Record<string, unknown>)
      } catch {
        // not a JSON line
      }
    }
    settle()
  })
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  const done = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, lines })))
  return {
    child,
    done,
    waitForLines: (match, count) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ match, count, resolve })
        settle()
        void done.then((result) => reject(new Error(`the command exited (${result.code ?? result.signal}) before ${count} matching lines:\n${result.stdout}\n${result.stderr}`)))
      }),
  }
}

export function runCli(args: readonly string[]): Promise<CliResult> {
  return startCli(args).done
}
