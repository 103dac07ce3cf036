// Runs every compiled test file under dist/test with node's test runner. The files are listed
// here rather than globbed so unit files run before integration files and a filter can pick some.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function collect(dir) {
  let out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out = out.concat(collect(path))
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const filter = process.argv.slice(2)
const roots = ['dist/test/unit', 'dist/test/contract', 'dist/test/integration']
let files = roots.flatMap((root) => {
  try { return collect(root) } catch { return [] }
})
if (filter.length) files = files.filter((file) => filter.some((word) => file.includes(word)))
if (files.length === 0) {
  console.error('test/run.mjs: no test files found (did the build run?)')
  process.exit(1)
}
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
