/**
 * Runs Debian's pip as a real client. `python3` on PATH may be another interpreter, and the
 * machine's pip config may add indexes that would bypass the proxy, so both are pinned down.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PYTHON = process.env.TUF_PROXY_TEST_PYTHON ?? '/usr/bin/python3'

export interface PipResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly dest: string
  readonly files: string[]
}

/** Whether pip is usable; under CI a missing pip is an error, locally a loud skip. */
export function pipAvailability(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found (apt-get install python3-pip)` }
  const probe = spawnSync(PYTHON, ['-m', 'pip', '--version'], { encoding: 'utf8', env: pipEnv() })
  if (probe.status !== 0) return { ok: false, reason: `${PYTHON} -m pip does not run: ${probe.stderr.trim()}` }
  return { ok: true }
}

/** A test option object: skip loudly without pip, but fail under CI where .ci/run installs it. */
export function requirePip(): { skip?: string } {
  const availability = pipAvailability()
  if (availability.ok) return {}
  if (process.env.CI === 'true') throw new Error(`pip is required under CI: ${availability.reason}`)
  process.stderr.write(`SKIPPING pip tests: ${availability.reason}\n`)
  return { skip: availability.reason }
}

function pipEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PIP_CONFIG_FILE: '/dev/null', PIP_NO_INPUT: '1' }
}

/** Async, because the fake upstream runs in the test's own event loop. */
export function pipDownload(indexUrl: string, requirement: string, extraArgs: readonly string[] = []): Promise<PipResult> {
  const dest = mkdtempSync(join(tmpdir(), 'tuf-proxy-pip-'))
  const args = ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--retries', '0', '--timeout', '20', '--index-url', indexUrl, '--dest', dest, ...extraArgs, requirement]
  return new Promise((resolve) => {
    execFile(PYTHON, args, { encoding: 'utf8', env: pipEnv(), timeout: 120_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ status, stdout, stderr, dest, files: readdirSync(dest).sort() })
    })
  })
}

/**
 * `pip install --no-deps --target DIR`: the install path (wheel unpacked, RECORD checked), not
 * only the download. Async for the same reason as pipDownload.
 */
export function pipInstall(indexUrl: string, requirement: string): Promise<PipResult> {
  const dest = mkdtempSync(join(tmpdir(), 'tuf-proxy-pip-target-'))
  const args = ['-m', 'pip', 'install', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--retries', '0', '--timeout', '20', '--index-url', indexUrl, '--target', dest, requirement]
  return new Promise((resolve) => {
    execFile(PYTHON, args, { encoding: 'utf8', env: pipEnv(), timeout: 120_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ status, stdout, stderr, dest, files: readdirSync(dest).sort() })
    })
  })
}
