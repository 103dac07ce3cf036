/**
 * `tuf-proxy tuf-client` end to end: the built CLI as a child process against the repository
 * simulator served over HTTP on 127.0.0.1, checking exit codes, the request sequence, the files
 * left in the metadata and target dirs, and the artifact cache, as tuf-conformance does.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI_PATH } from '../helpers/proxy-process.js'
import { RepositorySimulator } from '../helpers/repository-simulator.js'

interface Run {
  readonly code: number | null
  readonly stderr: string
}

/** Async on purpose: the simulator's server runs in this process and must keep answering. */
function runClient(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'tuf-client', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stderr }))
  })
}

/** Serves `/metadata/<name>` and `/targets/<path>` from whichever simulator is current. */
class SimulatorHttp {
  sim = new RepositorySimulator()
  #server: Server | undefined
  #port = 0

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const url = req.url ?? '/'
      let bytes: Uint8Array | undefined
      if (req.method === 'GET' && url.startsWith('/metadata/')) bytes = this.sim.fetch(url.slice('/metadata/'.length))
      else if (req.method === 'GET' && url.startsWith('/targets/')) bytes = this.sim.fetchTarget(url.slice('/targets/'.length))
      res.writeHead(bytes ? 200 : 404, { 'content-length': bytes ? bytes.byteLength : 0 })
      res.end(bytes)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    this.#port = typeof address === 'object' && address ? address.port : 0
    this.#server = server
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()))
  }

  get metadataUrl(): string {
    return `http://127.0.0.1:${this.#port}/metadata/`
  }

  get targetsUrl(): string {
    return `http://127.0.0.1:${this.#port}/targets/`
  }

  targetRequests(): string[] {
    return this.sim.fetchLog.filter((entry) => entry.startsWith('targets/'))
  }
}

describe('tuf-proxy tuf-client (tuf-conformance client-under-test CLI)', () => {
  const http = new SimulatorHttp()
  let work: string
  let metadataDir: string
  let targetDir: string
  let caseNumber = 0

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tuf-client-test-'))
    await http.start()
  })
  after(async () => {
    await http.stop()
    rmSync(work, { recursive: true, force: true })
  })

  /** A fresh simulator and fresh, initialised dirs for each test. */
  async function freshClient(sim: RepositorySimulator): Promise<void> {
    http.sim = sim
    const dir = join(work, String(caseNumber++))
    metadataDir = join(dir, 'metadata')
    targetDir = join(dir, 'targets')
    for (const path of [metadataDir, targetDir]) mkdirSync(path, { recursive: true })
    const rootFile = join(dir, 'initial_root.json')
    writeFileSync(rootFile, sim.trustedRoot())
    const init = await runClient(['--metadata-dir', metadataDir, 'init', rootFile])
    assert.equal(init.code, 0, init.stderr)
  }

  function download(...names: string[]): Promise<Run> {
    const targetArgs = names.flatMap((name) => ['--target-name', name])
    return runClient(['--metadata-url', http.metadataUrl, '--metadata-dir', metadataDir, ...targetArgs, '--target-dir', targetDir, '--target-base-url', http.targetsUrl, 'download'])
  }

  test('init copies the trusted root byte for byte and makes no request', async () => {
    const sim = new RepositorySimulator()
    await freshClient(sim)
    assert.deepEqual(readdirSync(metadataDir), ['root.json'])
    assert.deepEqual(readFileSync(join(metadataDir, 'root.json')), Buffer.from(sim.trustedRoot()))
    assert.deepEqual(sim.fetchLog, [])
  })

  test('refresh fetches N+1 root, timestamp, snapshot, targets once each and stores them under plain names (TUF 5.3-5.6)', async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    await freshClient(sim)
    const run = await runClient(['--metadata-url', http.metadataUrl, '--metadata-dir', metadataDir, 'refresh'])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(sim.fetchLog, ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json'])
    assert.deepEqual(readdirSync(metadataDir).sort(), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json'])
    assert.deepEqual(readFileSync(join(metadataDir, 'timestamp.json')), Buffer.from(sim.currentBytes('timestamp')))
  })

  test('download of two targets in one run; a second run is served from the artifact cache', async () => {
    const sim = new RepositorySimulator({ consistentSnapshot: true })
    sim.addTarget('targets', 'a.txt', Buffer.from('first')).addTarget('targets', 'dir/b.txt', Buffer.from('second')).updateSnapshot()
    await freshClient(sim)
    const first = await download('a.txt', 'dir/b.txt')
    assert.equal(first.code, 0, first.stderr)
    assert.equal(http.targetRequests().length, 2)
    assert.match(http.targetRequests()[1] ?? '', /^targets\/dir\/[0-9a-f]{64}\.b\.txt$/, 'TUF 5.7.3: dir/HASH.name')
    assert.deepEqual(readdirSync(targetDir).sort(), ['a.txt', 'dir%2Fb.txt'])
    assert.equal(readFileSync(join(targetDir, 'dir%2Fb.txt'), 'utf8'), 'second')
    const second = await download('a.txt', 'dir/b.txt')
    assert.equal(second.code, 0, second.stderr)
    assert.equal(http.targetRequests().length, 2, 'no target was fetched again')
  })

  test('a tampered target is refused: exit 1, nothing written (TUF 5.7.3)', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'a.txt', Buffer.from('honest')).updateSnapshot()
    sim.corruptTarget('a.txt')
    await freshClient(sim)
    const run = await download('a.txt')
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^tuf-client: length_or_hash_mismatch: /)
    assert.deepEqual(readdirSync(targetDir), [])
  })

  test('the first unknown target stops the run with exit 1 before later targets are fetched', async () => {
    const sim = new RepositorySimulator()
    sim.addTarget('targets', 'a.txt', Buffer.from('honest')).updateSnapshot()
    await freshClient(sim)
    const run = await download('missing.txt', 'a.txt')
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^tuf-client: unknown_target: /)
    assert.deepEqual(http.targetRequests(), [])
    assert.deepEqual(readdirSync(targetDir), [])
  })

  test('bad usage exits with exactly 1, never 2', async () => {
    for (const args of [[], ['frobnicate'], ['--no-such-option', 'refresh'], ['--metadata-dir'], ['--metadata-dir', 'x', 'download'], ['--metadata-dir', 'x', 'init']]) {
      const run = await runClient(args)
      assert.equal(run.code, 1, `${JSON.stringify(args)}: ${run.stderr}`)
      assert.match(run.stderr, /^tuf-client: usage: /, JSON.stringify(args))
    }
  })
})
