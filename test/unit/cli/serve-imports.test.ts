// What `tuf-proxy serve` loads at start is resident for the life of the process (issue 9: the
// idle RSS is part of every peak). Modules only a config file, another command or a page an
// operator may never open needs are loaded where they are used, not by serve's static imports.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../src')

/** Value imports and re-exports (`import type` and `export type` load nothing), comments removed. */
function staticImportsOf(path: string): string[] {
  const source = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
  const pattern = /(?:^|\n)\s*(?:import|export)\s+(?!type\s)(?:[^'"`;]*?\sfrom\s+)?['"]([^'"]+)['"]/g
  return [...source.matchAll(pattern)].flatMap((match) => (match[1] ? [match[1]] : []))
}

/** The files and packages serve's entry point loads through static imports, transitively. */
function serveClosure(): { files: Map<string, string>; packages: Set<string> } {
  const files = new Map<string, string>()
  const packages = new Set<string>()
  const pending = [resolve(SRC, 'cli/serve.ts')]
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (files.has(path)) continue
    files.set(path, readFileSync(path, 'utf8'))
    for (const specifier of staticImportsOf(path)) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(path), specifier).replace(/\.js$/, '.ts'))
      else if (!specifier.startsWith('node:')) packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? specifier))
    }
  }
  return { files, packages }
}

test('serve does not load the YAML or TOML parsers, the bundle tools or the mirror command at start', () => {
  const { files, packages } = serveClosure()
  assert.ok(packages.has('undici') && packages.has('hono'), `the closure is followed: ${[...packages].join(', ')}`)
  for (const name of ['yaml', 'smol-toml']) assert.ok(!packages.has(name), `${name} is loaded by serve's static imports`)
  const others = [...files.keys()].map((path) => relative(SRC, path)).filter((path) => path.startsWith('bundle/') || ['cli/mirror.ts', 'cli/import.ts', 'cli/cache.ts', 'cli/tuf-client.ts'].includes(path))
  assert.deepEqual(others, [])
})

test('no module serve loads builds an Intl formatter: the first one maps about 6 MB of ICU data', () => {
  const users = [...serveClosure().files].filter(([, source]) => /\bIntl\.\w/.test(source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')))
  assert.deepEqual(users.map(([path]) => relative(SRC, path)), [])
})
