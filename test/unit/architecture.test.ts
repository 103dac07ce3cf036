/**
 * The import-direction rules of the architecture (../shared/docs/architecture.md §7), enforced:
 * which room may import which, the pure rooms' bans on I/O and clocks, and env reads.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src')

const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  base: [],
  trust: ['base'],
  index: ['base'],
  policy: ['index', 'base'],
  upstream: ['base'],
  store: ['base'],
  'tuf-client': ['trust', 'base'],
  mirror: ['upstream', 'store', 'trust', 'index', 'policy', 'tuf-client', 'base'],
  bundle: ['mirror', 'tuf-client', 'trust', 'upstream', 'store', 'index', 'policy', 'base'],
  http: ['mirror', 'index', 'base'],
  config: ['base'],
  cli: ['base', 'config', 'trust', 'index', 'policy', 'upstream', 'store', 'tuf-client', 'mirror', 'bundle', 'http', 'cli'],
}
const PURE = new Set(['trust', 'index', 'policy'])
/** Rooms that do I/O only through ports handed to them. */
const NO_DIRECT_IO = new Set([...PURE, 'tuf-client'])
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|http2|dgram|child_process)$|^undici$|^hono(\/|$)|^@hono\//

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : []
  })
}

function roomOf(path: string): string {
  const rel = relative(ROOT, path)
  if (rel === 'cli.ts') return 'cli'
  return rel.split('/')[0] ?? ''
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

interface Import {
  readonly specifier: string
  readonly isTypeOnly: boolean
}

function importsOf(source: string): Import[] {
  const found: Import[] = []
  const pattern = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"`;]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g
  for (const match of source.matchAll(pattern)) {
    const specifier = match[3] ?? match[4]
    if (specifier) found.push({ specifier, isTypeOnly: Boolean(match[2]) })
  }
  return found
}

const files = sourceFiles(ROOT).map((path) => ({ path, room: roomOf(path), source: stripComments(readFileSync(path, 'utf8')) }))

describe('architecture', () => {
  test('every source file belongs to a known room', () => {
    for (const file of files) assert.ok(file.room in ALLOWED, `${relative(ROOT, file.path)} is outside every room`)
  })

  test('imports point only downward, and only through a room\'s index.ts', () => {
    const violations: string[] = []
    for (const file of files) {
      for (const { specifier, isTypeOnly } of importsOf(file.source)) {
        if (!specifier.startsWith('.')) continue
        const target = resolve(dirname(file.path), specifier)
        const targetRoom = roomOf(target.replace(/\.js$/, '.ts'))
        if (targetRoom === file.room) continue
        // config/ may import types from the rooms whose options it assembles.
        const allowed = (ALLOWED[file.room] ?? []).includes(targetRoom) || (file.room === 'config' && isTypeOnly)
        if (!allowed) violations.push(`${relative(ROOT, file.path)} imports ${specifier} (${file.room} → ${targetRoom})`)
        else if (file.room !== 'cli' && !target.endsWith('/index.js')) violations.push(`${relative(ROOT, file.path)} reaches into ${specifier} instead of ${targetRoom}/index.ts`)
      }
    }
    assert.deepEqual(violations, [])
  })

  test('pure rooms (trust, index, policy) and tuf-client import no I/O, network or HTTP module', () => {
    const violations = files
      .filter((file) => NO_DIRECT_IO.has(file.room))
      .flatMap((file) => importsOf(file.source).filter(({ specifier }) => IO_MODULES.test(specifier)).map(({ specifier }) => `${relative(ROOT, file.path)}: ${specifier}`))
    assert.deepEqual(violations, [])
  })

  test('trust/ is synchronous: no async, await or Promise', () => {
    const violations = files.filter((file) => file.room === 'trust' && /\b(async|await|Promise)\b/.test(file.source)).map((file) => relative(ROOT, file.path))
    assert.deepEqual(violations, [])
  })

  test('only cli/ and config/ read process.env', () => {
    const violations = files.filter((file) => !['cli', 'config'].includes(file.room) && /process\.env/.test(file.source)).map((file) => relative(ROOT, file.path))
    assert.deepEqual(violations, [])
  })

  test('trust, index, policy, tuf-client and mirror never read the clock themselves', () => {
    const violations = files
      .filter((file) => ['trust', 'index', 'policy', 'tuf-client', 'mirror'].includes(file.room) && /Date\.now\(\)|new Date\(\s*\)/.test(file.source))
      .map((file) => relative(ROOT, file.path))
    assert.deepEqual(violations, [])
  })

  test('the checker itself sees violations (a planted bad import is reported)', () => {
    const planted = importsOf("import { x } from '../upstream/index.js'\nexport type { Y } from './y.js'\nconst m = await import('./cli/serve.js')")
    assert.deepEqual(planted.map((entry) => entry.specifier), ['../upstream/index.js', './y.js', './cli/serve.js'])
    assert.equal(planted[1]?.isTypeOnly, true)
  })
})
