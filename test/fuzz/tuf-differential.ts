/**
 * Many seeded histories through the differential test of verifying mode (issue 8), beyond the
 * fixed seeds `npm test` runs. Not a node:test file, so `npm test` never picks it up.
 *
 *   npm run fuzz:tuf -- [--seeds N] [--start S] [--steps N] [--jobs J] [--pip-every N]
 *   npm run fuzz:tuf -- --seed S [--steps N]        replay one history, step by step
 *   --keep-going                                    run every step after a failure too
 *
 * Defaults come from TUF_FUZZ_SEEDS (50), TUF_FUZZ_START (1), TUF_FUZZ_STEPS (16) and
 * TUF_FUZZ_JOBS (2). Every failure prints its seed, step and history; the exit status is 1 when
 * any history failed.
 */
import { parseArgs } from 'node:util'
import { formatFailure, runHistory, type HistoryResult } from '../helpers/tuf-differential.js'
import { generateHistory } from '../helpers/tuf-history.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    start: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    jobs: { type: 'string' },
    'pip-every': { type: 'string' },
    'keep-going': { type: 'boolean' },
  },
})

function count(flag: string | undefined, env: string | undefined, fallback: number): number {
  const text = flag ?? env
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a count: ${text}`)
  return value
}

const single = values.seed === undefined ? undefined : count(values.seed, undefined, 0)
const start = single ?? count(values.start, process.env.TUF_FUZZ_START, 1)
const seeds = single === undefined ? count(values.seeds, process.env.TUF_FUZZ_SEEDS, 50) : 1
const steps = count(values.steps, process.env.TUF_FUZZ_STEPS, 16)
const jobs = Math.max(1, count(values.jobs, process.env.TUF_FUZZ_JOBS, 2))
const pipEvery = count(values['pip-every'], process.env.TUF_FUZZ_PIP_EVERY, 4)

const results: HistoryResult[] = []
let next = start
const startedMs = Date.now()
async function worker(): Promise<void> {
  while (next < start + seeds) {
    const seed = next++
    const spec = generateHistory(seed, steps, pipEvery)
    const keepGoing = values['keep-going'] ?? false
    const result = await runHistory(spec, single === undefined ? { keepGoing } : { keepGoing, log: (line) => console.log(line) })
    results.push(result)
    console.log(result.failed ? formatFailure(result) : `seed ${seed} (${spec.layout}, consistent_snapshot ${spec.consistentSnapshot}): ${steps} steps ok`)
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, seeds) }, worker))

const failures = results.filter((result) => result.failed).sort((a, b) => a.spec.seed - b.spec.seed)
console.log(`\n${results.length} histories of ${steps} steps from seed ${start} in ${Math.round((Date.now() - startedMs) / 1000)} s: ${results.length - failures.length} passed, ${failures.length} failed`)
for (const result of failures) {
  const failed = result.failed
  if (!failed) continue
  const later = result.steps.filter((step) => step.index > failed.index && step.violations.length).length
  console.log(`  seed ${result.spec.seed} (${result.spec.layout}) step ${failed.index} ${failed.label}: ${[...new Set(failed.violations.map((v) => v.invariant))].join(', ')}${later ? ` (+${later} later failing steps)` : ''}`)
}
process.exitCode = failures.length ? 1 : 0
