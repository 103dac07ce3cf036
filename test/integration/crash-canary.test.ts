/**
 * The crash canary of test/helpers/proxy-process.ts: a proxy process that dies while no test
 * stopped it fails the running test with the exit signal and the last log lines, and so does a
 * later stop(); a deliberate kill() is not a crash.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ProxyProcess } from '../helpers/proxy-process.js'

const HELPER_URL = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../helpers/proxy-process.js')).href
/** Nothing listens here: the proxy starts anyway (the upstream is only asked on demand). */
const DEAD_UPSTREAM = 'http://127.0.0.1:9/simple/'

test('a proxy killed behind the helper\'s back makes stop() throw the crash report: signal, pid, last log lines', async () => {
  const proxy = await ProxyProcess.start(['--upstream', DEAD_UPSTREAM])
  try {
    const pid = proxy.pid
    // Never process.kill(0): that is the whole process group, the test runner included.
    assert.ok(typeof pid === 'number' && pid > 0, 'the helper names the child pid')
    process.kill(pid, 'SIGKILL')
    await proxy.exited()
    assert.equal(proxy.hasCrashed, true)
    await assert.rejects(proxy.stop(), (error: Error) => {
      assert.match(error.message, /crash canary: the proxy process \(pid \d+, args --upstream .*\) killed by SIGKILL/)
      assert.match(error.message, /"event":"listening"/, 'the last log lines are quoted')
      return true
    })
    await proxy.stop()
  } finally {
    await proxy.dispose()
  }
})

test('a deliberate kill(), a restart and a stop() are not crashes', async () => {
  const proxy = await ProxyProcess.start(['--upstream', DEAD_UPSTREAM])
  await proxy.kill()
  assert.equal(proxy.hasCrashed, false)
  await proxy.restart()
  assert.equal(await proxy.stop(), 0)
  assert.equal(proxy.hasCrashed, false)
  await proxy.dispose()
})

test('a SIGTERM sent the moment the listening line is read is a graceful stop (exit 0), every time', async () => {
  // Before serve.ts installed its handlers ahead of the listening line, about one start in four
  // died of the default SIGTERM action here; several rounds make that race show.
  for (let round = 1; round <= 8; round++) {
    const proxy = await ProxyProcess.start(['--upstream', DEAD_UPSTREAM])
    try {
      assert.equal(await proxy.stop(), 0, `round ${round}: ${JSON.stringify(proxy.logs.map((line) => line.event))}`)
    } finally {
      await proxy.dispose()
    }
  }
})

test('the canary fails whichever test was running when the proxy died, even one that never looks at the proxy again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-canary-'))
  try {
    const file = join(dir, 'victim.test.mjs')
    writeFileSync(file, [
      `import { test } from 'node:test'`,
      `import { ProxyProcess } from ${JSON.stringify(HELPER_URL)}`,
      `let proxy`,
      `test('starts', async () => { proxy = await ProxyProcess.start(['--upstream', ${JSON.stringify(DEAD_UPSTREAM)}]) })`,
      `test('the victim', async () => { if (!(proxy.pid > 0)) throw new Error('no pid'); process.kill(proxy.pid, 'SIGKILL'); await proxy.exited() })`,
      `test('after', () => {})`,
    ].join('\n'))
    // Without NODE_TEST_CONTEXT, the child is a test run of its own rather than a subtest of this one.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'))
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], { encoding: 'utf8', timeout: 60_000, env })
    const output = run.stdout + run.stderr
    assert.notEqual(run.status, 0, output)
    assert.match(output, /✖ the victim/)
    assert.match(output, /killed by SIGKILL while no test had stopped it/)
    assert.match(output, /✔ starts/)
    assert.match(output, /✔ after/, 'only the test that was running is failed')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
