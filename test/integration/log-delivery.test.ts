/**
 * Issue 7 items 14 and 3: log lines reach a slow reader, and a stopping process writes out what it
 * had queued. The built CLI runs with its stdout piped to this test, which stops reading while the
 * proxy refuses 300 tampered files (so the pipe fills and the proxy's writes find it full), asks
 * for /metrics, sends SIGTERM while still not reading, and only then reads everything to the end.
 * Every drop line must be there, and so must the access-log lines (far under the shedding bound).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { CLI_PATH, type LogLine } from '../helpers/proxy-process.js'
import { bulkBytes } from '../helpers/wheels.js'

const DROPS = 300
// A long project name makes every drop and request line a few hundred bytes, so 300 of each are
// well past what the pipe (64 KiB) and this process's stream buffer together hold.
const PROJECT = `noisy-${'x'.repeat(120)}`

describe('log lines behind a slow stdout reader (items 14 and 3)', () => {
  let upstream: FakeUpstream
  let cacheDir: string
  const filenames = Array.from({ length: DROPS }, (_, i) => `${PROJECT.replace(/-/g, '_')}-1.0.${i}-py3-none-any.whl`)
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.format = 'json'
    upstream.addProject(PROJECT, filenames.map((filename, i) => ({ filename, bytes: bulkBytes(512, i + 1) })))
    // Each file is its own download, so each refusal is its own drop (no coalescing, no negative cache).
    for (const filename of filenames) upstream.tamper(`/files/${filename}`)
    cacheDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-logs-'))
  })
  after(async () => {
    await upstream.stop()
    rmSync(cacheDir, { recursive: true, force: true })
  })

  test('every drop line of 300 arrives, including those queued when SIGTERM came', async (t) => {
    const child = spawn(process.execPath, [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', cacheDir, '--upstream', upstream.simpleUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    })
    t.after(() => child.kill('SIGKILL'))
    const exited = once(child, 'exit')
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    let text = ''
    child.stdout.setEncoding('utf8')
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: string) => {
        text += chunk
        const listening = text.split('\n').find((line) => line.includes('"event":"listening"'))
        if (!listening) return
        child.stdout.off('data', onData)
        // From here on nothing reads the pipe until SIGTERM has been sent.
        child.stdout.pause()
        resolve(Number((JSON.parse(listening) as LogLine).port))
      }
      child.stdout.on('data', onData)
      child.once('exit', (code) => reject(new Error(`proxy exited with ${code}: ${stderr}`)))
    })
    const base = `http://127.0.0.1:${port}`

    const page = await get(`${base}/simple/${PROJECT}/`)
    assert.equal(page.status, 200)
    for (const filename of filenames) {
      const refused = await get(`${base}/files/${PROJECT}/${filename}`)
      assert.equal(refused.status, 502)
      assert.equal(refused.headers['x-tuf-proxy-reason'], 'hash_mismatch')
    }
    const metrics = (await get(`${base}/metrics`)).text
    assert.match(metrics, /^tuf_proxy_drops_total\{reason="hash_mismatch"\} 300$/m)
    assert.match(metrics, /^# TYPE tuf_proxy_log_lines_lost_total counter$/m)
    assert.doesNotMatch(metrics, /^tuf_proxy_log_lines_lost_total\{level="(warn|error)"/m, 'no warning or error was lost')

    child.kill('SIGTERM')
    child.stdout.resume()
    child.stdout.on('data', (chunk: string) => (text += chunk))
    await once(child.stdout, 'end')
    const [code] = (await exited) as [number | null]
    assert.equal(code, 0, stderr)

    const lines = text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LogLine)
    const drops = lines.filter((line) => line.event === 'drop' && line.reason === 'hash_mismatch')
    assert.equal(drops.length, DROPS, 'every drop line arrived')
    assert.ok(text.length > 256 * 1024, `the log (${text.length} bytes) is larger than the pipe and stream buffers together`)
    assert.deepEqual(new Set(drops.map((line) => String(line.url).split('/').pop())), new Set(filenames), 'one per refused file')
    const refusedRequests = lines.filter((line) => line.event === 'request' && line.status === 502)
    assert.equal(refusedRequests.length, DROPS, 'routine lines under the shedding bound are kept too')
    assert.deepEqual(lines.slice(-2).map((line) => line.event), ['shutting_down', 'stopped'])
  })
})
