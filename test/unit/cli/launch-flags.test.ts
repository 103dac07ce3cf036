// Every way the proxy is launched passes the same V8 flags as the CLI's shebang (see src/cli.ts
// for why there are any): `npm start`, the Dockerfile's entrypoint, the systemd unit and the
// bench's launcher.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchFlags } from '../../../bench/proxy.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

test('npm start, the Dockerfile, the systemd unit and the bench launch the proxy with the V8 flags of the CLI shebang', () => {
  const flags = launchFlags(read('src/cli.ts'))
  assert.ok(flags.includes('--max-semi-space-size=1'), `the shebang carries the young-generation size, got ${JSON.stringify(flags)}`)
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start ?? ''
  assert.match(start, new RegExp(`\\bnode ${flags.join(' ')} dist/src/cli\\.js serve\\b`))
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1] ?? '[]'
  assert.deepEqual(JSON.parse(entrypoint), ['node', ...flags, 'dist/src/cli.js'])
  const execStart = /^ExecStart=(.*)$/m.exec(read('config/tuf-proxy.service'))?.[1] ?? ''
  assert.deepEqual(execStart.split(' '), ['/usr/bin/node', ...flags, '/opt/tuf-proxy/dist/src/cli.js', 'serve'])
})
