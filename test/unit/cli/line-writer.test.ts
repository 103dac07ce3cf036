/**
 * The log line writer and the last words of a dying process, on a real pipe: each case runs a
 * small child process that writes through the production modules to its stdout, which this test
 * reads (or deliberately does not read for a while). The child, not the proxy, decides to crash,
 * so no crash trigger exists in production code (issue 7 items 14 and 3).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src')
const moduleUrl = (path: string) => JSON.stringify(pathToFileURL(resolve(SRC, path)).href)

const prelude = (routineMaxBytes: number) => `
import { writeSync } from 'node:fs'
import { createLineWriter } from ${moduleUrl('cli/line-writer.js')}
import { installLastWords } from ${moduleUrl('cli/last-words.js')}
import { createJsonLogger } from ${moduleUrl('base/index.js')}
const lost = {}
const out = createLineWriter({ fd: process.stdout.fd, routineMaxBytes: ${routineMaxBytes}, onLost: (level, reason) => { const key = level + ':' + reason; lost[key] = (lost[key] ?? 0) + 1 } })
const logger = createJsonLogger({ write: out.write, level: 'debug' })
installLastWords({ logger, writer: out, inFlight: () => [{ method: 'GET', path: '/files/demo/demo-1.0.tar.gz', ms: 12 }] })
const padding = 'p'.repeat(100)
/** tells the parent, on stderr (synchronous), that the child is at a point */
const say = (message) => writeSync(2, JSON.stringify(message) + '\\n')
`

interface ChildResult {
  readonly code: number | null
  readonly lines: Array<Record<string, unknown>>
  readonly said: Array<Record<string, unknown>>
  readonly stderr: string
}

/**
 * Runs `body` after the prelude. The parent does not read stdout until the child says
 * {"resume": true} on stderr (or from the start, when `pausedUntilSaid` is false).
 */
async function runChild(body: string, options: { pausedUntilSaid: boolean; routineMaxBytes?: number }): Promise<ChildResult> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${prelude(options.routineMaxBytes ?? 1024 * 1024)}\n${body}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  const read = () => child.stdout.on('data', (chunk: string) => (text += chunk))
  if (!options.pausedUntilSaid) read()
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (options.pausedUntilSaid && stderr.includes('"resume":true') && child.stdout.listenerCount('data') === 0) read()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (child.stdout.readable) await once(child.stdout, 'end')
  const said = stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  const lines = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  return { code, lines, said, stderr }
}

describe('line writer on a real pipe', () => {
  test('behind a reader that stops: warnings all arrive, in order and whole; routine lines past the bound are shed and counted', async () => {
    const result = await runChild(
      `
for (let i = 0; i < 4000; i++) {
  logger.info('routine', { i, padding })
  if (i % 20 === 0) logger.warn('drop', { i, padding })
}
say({ queuedBytes: out.queuedBytes, lost, resume: true })
`,
      { pausedUntilSaid: true, routineMaxBytes: 64 * 1024 },
    )
    assert.equal(result.code, 0, result.stderr)
    const [report] = result.said as [{ queuedBytes: number; lost: Record<string, number> }]
    assert.ok(report.queuedBytes > 0, 'the pipe was full, so lines were queued')
    assert.ok((report.lost['info:shed'] ?? 0) > 0, 'routine lines past the bound were shed')
    assert.deepEqual(Object.keys(report.lost), ['info:shed'], 'nothing but routine lines was lost')
    const warnings = result.lines.filter((line) => line.event === 'drop').map((line) => line.i)
    assert.deepEqual(warnings, Array.from({ length: 200 }, (_, k) => k * 20), 'every warning, in order')
    const routine = result.lines.filter((line) => line.event === 'routine').map((line) => Number(line.i))
    assert.equal(routine.length + (report.lost['info:shed'] ?? 0), 4000, 'each routine line arrived or was counted as shed')
    assert.deepEqual(routine, [...routine].sort((a, b) => a - b), 'routine lines stay in order')
  })

  test('an uncaught exception: the queued lines and a fatal line naming the error and the requests in flight are written before the exit', async () => {
    const result = await runChild(
      `
for (let i = 0; i < 3000; i++) logger.info('routine', { i, padding })
say({ queuedBytes: out.queuedBytes, resume: true })
setImmediate(() => { throw new Error('deliberate crash in the test child') })
`,
      { pausedUntilSaid: true },
    )
    assert.notEqual(result.code, 0, 'the process still dies')
    assert.match(result.stderr, /deliberate crash in the test child/, "Node's own report is still printed")
    const [report] = result.said as [{ queuedBytes: number }]
    assert.ok(report.queuedBytes > 0, 'lines were queued behind the full pipe when the process died')
    const routine = result.lines.filter((line) => line.event === 'routine').map((line) => line.i)
    assert.deepEqual(routine, Array.from({ length: 3000 }, (_, i) => i), 'no queued line was lost')
    const fatal = result.lines.at(-1)
    assert.equal(fatal?.event, 'fatal')
    assert.equal(fatal?.level, 'error')
    assert.equal(fatal?.origin, 'uncaughtException')
    assert.equal(fatal?.detail, 'deliberate crash in the test child')
    assert.deepEqual(fatal?.inFlight, [{ method: 'GET', path: '/files/demo/demo-1.0.tar.gz', ms: 12 }])
  })

  test('lines of every size and width, queued behind a stopped reader, arrive whole and in order when the process dies', async () => {
    // Queued lines are kept as bytes in fixed-size chunks: a line that does not fit where the last
    // one ended, one longer than a chunk, or one whose UTF-8 is wider than its length must each
    // still go out whole, in order, with the rest.
    const result = await runChild(
      `
const sizes = [1, 70, 300, 5000, 40000, 70000, 200000]
const glyphs = ['a', '\u00e9', '\u6f22', '\ud83d\ude00']
let n = 0
for (let round = 0; round < 4; round++) {
  for (const size of sizes) {
    const glyph = glyphs[n % glyphs.length]
    logger.info('sized', { n, text: glyph.repeat(Math.ceil(size / glyph.length)) })
    n++
  }
}
say({ queuedBytes: out.queuedBytes, resume: true })
setImmediate(() => { throw new Error('deliberate crash in the test child') })
`,
      { pausedUntilSaid: true, routineMaxBytes: 64 * 1024 * 1024 },
    )
    assert.notEqual(result.code, 0, 'the process still dies')
    const [report] = result.said as [{ queuedBytes: number }]
    assert.ok(report.queuedBytes > 0, 'lines were queued behind the full pipe when the process died')
    const sizes = [1, 70, 300, 5000, 40000, 70000, 200000]
    const glyphs = ['a', '\u00e9', '\u6f22', '\ud83d\ude00']
    const sized = result.lines.filter((line) => line.event === 'sized')
    assert.equal(sized.length, 4 * sizes.length, 'every line arrived')
    sized.forEach((line, n) => {
      const glyph = glyphs[n % glyphs.length] ?? ''
      assert.equal(line.n, n, 'in order')
      assert.equal(line.text, glyph.repeat(Math.ceil((sizes[n % sizes.length] ?? 0) / glyph.length)), `line ${n} is whole`)
    })
    assert.equal(result.lines.at(-1)?.event, 'fatal')
  })

  test('an unhandled rejection: routine lines still waiting for their batch are written, then the fatal line', async () => {
    const result = await runChild(
      `
for (let i = 0; i < 5; i++) logger.info('routine', { i })
void Promise.reject(new Error('deliberate rejection in the test child'))
`,
      { pausedUntilSaid: false },
    )
    assert.notEqual(result.code, 0)
    assert.deepEqual(
      result.lines.map((line) => line.event),
      ['routine', 'routine', 'routine', 'routine', 'routine', 'fatal'],
    )
    assert.equal(result.lines.at(-1)?.origin, 'unhandledRejection')
    assert.equal(result.lines.at(-1)?.detail, 'deliberate rejection in the test child')
  })

  test('a reader that goes away mid-batch: exactly the lines the pipe did not take whole are counted lost, by level', async () => {
    // The child fills the pipe (nobody reads it), so its writer holds a partly written batch and
    // more lines behind it; then the reader goes and the writer finds out on its next flush. A
    // warning every 20 lines of 3 KB makes batches of ~60 KB: over PIPE_BUF, so the kernel takes
    // part of the one that fills the pipe, whole lines and a cut one (smaller writes to a pipe are
    // all or nothing).
    const body = `
const ends = []
let total = 0
const levels = []
const counting = createJsonLogger({ write: (line, level) => { total += line.length; ends.push(total); levels.push(level); out.write(line, level) }, level: 'debug' })
const wide = padding.repeat(30)
for (let i = 0; i < 400; i++) counting.log(i % 20 === 19 ? 'warn' : 'info', 'line', { i, wide })
const accepted = total - out.queuedBytes
const expected = {}
ends.forEach((end, i) => { if (end > accepted) { const key = levels[i] + ':closed'; expected[key] = (expected[key] ?? 0) + 1 } })
say({ filled: true, expected, accepted })
process.stdin.once('data', () => { out.flush(); say({ lost }); process.exit(0) })`
    const child = spawn(process.execPath, ['--input-type=module', '-e', `${prelude(16 * 1024 * 1024)}\n${body}`], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      if (stderr.includes('"filled":true') && !child.stdout.destroyed) {
        child.stdout.destroy()
        child.stdin.end('go\n')
      }
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, stderr)
    const said = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { expected?: Record<string, number>; accepted?: number; lost?: Record<string, number> })
    const filled = said.find((message) => message.expected)
    const report = said.find((message) => message.lost)
    assert.ok(filled?.expected && report?.lost, stderr)
    assert.ok((filled.accepted ?? 0) > 0 && (filled.expected['info:closed'] ?? 0) > 0 && (filled.expected['warn:closed'] ?? 0) > 0, `the pipe took some lines and not others: ${stderr}`)
    assert.deepEqual(report.lost, filled.expected)
  })

  test('a reader that is gone: lines are counted as lost, the process goes on', async () => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `${prelude(1024 * 1024)}\nprocess.stdin.once('data', () => { for (let i = 0; i < 10; i++) logger.warn('drop', { i }); out.flush(); say({ lost }) ; process.exit(0) })`],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.stdout.destroy()
    child.stdin.end('go\n')
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, stderr)
    const report = JSON.parse(stderr.split('\n').find((line) => line.startsWith('{')) ?? '{}') as { lost: Record<string, number> }
    assert.deepEqual(report.lost, { 'warn:closed': 10 })
  })

  test('several processes on one pipe (--workers): with isShared every line arrives whole, each process\'s in order', async () => {
    // Four writers inherit the one stdout pipe, as cluster workers do, and queue lines of 300 to
    // 1,000 bytes behind it while it is full (this test reads it only once all four have queued
    // theirs); then they all write at once: without line-atomic writes their partial writes
    // interleave inside lines.
    const WRITERS = 4
    const LINES = 1500
    const writer = `
import { createLineWriter } from ${moduleUrl('cli/line-writer.js')}
const out = createLineWriter({ fd: process.stdout.fd, routineMaxBytes: 64 * 1024 * 1024, isShared: true })
const id = Number(process.env.WRITER)
for (let i = 0; i < ${LINES}; i++) out.write(JSON.stringify({ id, i, pad: 'x'.repeat(300 + ((i * 37) % 700)) }) + '\\n', 'info')
process.stderr.write('queued\\n', () => out.flushSync(60_000))
`
    const parent = `
import { spawn } from 'node:child_process'
import { once } from 'node:events'
const children = []
for (let id = 0; id < ${WRITERS}; id++) {
  children.push(spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(writer)}], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WRITER: String(id) } }))
}
await Promise.all(children.map((child) => once(child, 'exit')))
`
    const child = spawn(process.execPath, ['--input-type=module', '-e', parent], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      if (child.stdout.listenerCount('data') === 0 && stderr.split('queued').length - 1 === WRITERS) child.stdout.setEncoding('utf8').on('data', (data: string) => (text += data))
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    if (child.stdout.readable) await once(child.stdout, 'end')
    assert.equal(code, 0, stderr)
    const next = new Array<number>(WRITERS).fill(0)
    const broken: string[] = []
    for (const line of text.split('\n').filter((line) => line !== '')) {
      let parsed: { id: number; i: number }
      try {
        parsed = JSON.parse(line) as { id: number; i: number }
      } catch {
        broken.push(line.slice(0, 80))
        continue
      }
      assert.equal(parsed.i, next[parsed.id], `writer ${parsed.id}'s lines in order`)
      next[parsed.id] = parsed.i + 1
    }
    assert.deepEqual(broken, [], 'no line was cut by another process\'s write')
    assert.deepEqual(next, new Array<number>(WRITERS).fill(LINES), 'every line arrived')
  })
})
