/**
 * `npm run fuzz`: many more seeded fault combinations than `npm test` runs, one proxy per seed
 * and mode. Usage: npm run fuzz -- [--seeds N] [--start S] [--count C] [--mode index|tuf|both]
 * [--include-known]; or FUZZ_SEEDS, FUZZ_START, FUZZ_COUNT, FUZZ_MODE, FUZZ_INCLUDE_KNOWN=1.
 * Prints every failing combination with its seed (replay with --start SEED --seeds 1) and exits 1
 * if any failed.
 */
import { parseArgs } from 'node:util'
import { describeCombination, generateCombinations, knownBugOf, type Mode } from '../helpers/fault-combinations.js'
import { runBatch } from '../helpers/fault-run.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: process.env.FUZZ_SEEDS ?? '20' },
    start: { type: 'string', default: process.env.FUZZ_START ?? String(Date.now() % 100_000) },
    count: { type: 'string', default: process.env.FUZZ_COUNT ?? '24' },
    mode: { type: 'string', default: process.env.FUZZ_MODE ?? 'both' },
    'include-known': { type: 'boolean', default: process.env.FUZZ_INCLUDE_KNOWN === '1' },
  },
})

function positive(name: string, text: string | undefined): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer (got ${text})`)
  return value
}

const seeds = positive('seeds', values.seeds)
const start = positive('start', values.start)
const count = positive('count', values.count)
const modes: Mode[] = values.mode === 'both' ? ['index', 'tuf'] : values.mode === 'index' || values.mode === 'tuf' ? [values.mode] : []
if (modes.length === 0) throw new Error(`--mode must be index, tuf or both (got ${values.mode})`)

let ran = 0
let skipped = 0
const failures: string[] = []
process.stdout.write(`fuzz: seeds ${start}..${start + seeds - 1}, ${count} combinations per seed and mode (${modes.join(', ')})${values['include-known'] ? ', known bugs included' : ''}\n`)
for (let seed = start; seed < start + seeds; seed++) {
  for (const mode of modes) {
    const all = generateCombinations(seed, mode, count)
    const chosen = values['include-known'] ? all : all.filter((combination) => knownBugOf(combination) === undefined)
    skipped += all.length - chosen.length
    const result = await runBatch(mode, chosen, (combination, problems, notes) => {
      process.stdout.write(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${describeCombination(combination)}: ${notes.join('; ')}\n`)
    })
    ran += result.ran
    failures.push(...result.failures.map((failure) => failure.message))
  }
}
process.stdout.write(`\nfuzz: ran ${ran} combinations, ${failures.length} failed, ${skipped} left out as known bugs\n`)
for (const failure of failures) process.stdout.write(`\n${failure}\n`)
process.exitCode = failures.length > 0 ? 1 : 0
