/**
 * Issue 12's figures: `tuf-proxy mirror` throughput from the loopback upstream (against `cp` of
 * the same files, the least a copy can cost) and `tuf-proxy import` verification rate (against
 * `sha256sum` over the bundle's files, the least a verification can cost). Wall-clock time of the
 * real CLI processes, median of a few rounds, page cache warm for both sides.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { BenchFile } from './fixtures.js'
import { judge, mbPerSecond, median, type Row } from './report.js'

const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js')
const ROUNDS = 3

function timed(run: () => void): number {
  const startedMs = performance.now()
  run()
  return performance.now() - startedMs
}

function cli(args: readonly string[]): void {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`tuf-proxy ${args[0] ?? ''} exited ${result.status}: ${result.stderr}`)
}

export function measureMirror(options: { tempDir: string; wwwDir: string; upstreamUrl: string; project: string; files: readonly BenchFile[] }): { rows: Row[]; notes: string[] } {
  const { tempDir, wwwDir, upstreamUrl, project, files } = options
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0)
  const sources = files.map((file) => join(wwwDir, 'files', file.filename))
  const mirrorMs: number[] = []
  const cpMs: number[] = []
  const importMs: number[] = []
  const sumMs: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const bundle = join(tempDir, `mirror-bundle-${round}`)
    const copies = join(tempDir, `mirror-cp-${round}`)
    const cache = join(tempDir, `mirror-cache-${round}`)
    mkdirSync(copies)
    cpMs.push(timed(() => execFileSync('cp', [...sources, copies])))
    mirrorMs.push(timed(() => cli(['mirror', '--out', bundle, '--upstream', upstreamUrl, '--project', project, '--jobs', '4'])))
    const bundled = files.map((file) => join(bundle, 'files', file.sha256))
    sumMs.push(timed(() => execFileSync('sha256sum', bundled, { maxBuffer: 16 * 1024 * 1024 })))
    importMs.push(timed(() => cli(['import', bundle, '--cache-dir', cache])))
    for (const dir of [bundle, copies, cache]) rmSync(dir, { recursive: true, force: true })
  }
  const rate = (msList: readonly number[]) => totalBytes / (median(msList) / 1000)
  const filesPerSecond = files.length / (median(mirrorMs) / 1000)
  return {
    rows: [
      { figure: `mirror, ${files.length} files, jobs 4`, proxy: `${mbPerSecond(rate(mirrorMs))}, ${filesPerSecond.toFixed(0)} files/s`, reference: `cp ${mbPerSecond(rate(cpMs))}`, ratio: `${(median(mirrorMs) / median(cpMs)).toFixed(2)}x time`, target: '—', result: 'n/a' },
      { figure: 'import (verify + add)', proxy: mbPerSecond(rate(importMs)), reference: `sha256sum ${mbPerSecond(rate(sumMs))}`, ...judge({ ratio: median(importMs) / median(sumMs), target: 1.2, atLeast: false }) },
    ],
    notes: [`mirror/import: ${files.length} files, ${(totalBytes / 1e6).toFixed(0)} MB; wall-clock of the CLI processes (start-up included), median of ${ROUNDS} rounds; ratio = tuf-proxy time / reference time`],
  }
}
