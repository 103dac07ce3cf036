/**
 * The multi-machine recipe (config/replicas/nginx.conf) on 127.0.0.1: three replicas, each with
 * its own cache directory, behind the real nginx with the recipe's project affinity and passive
 * health checks. pip installs through nginx; one project's pages and files land in one replica's
 * cache only; with that replica killed, pip still works (the next replica of the hash ring takes
 * the project over).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { blobDigests } from '../helpers/http-client.js'
import { PYTHON, requirePip } from '../helpers/pip.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

const RECIPE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/replicas/nginx.conf')
const NGINX = process.env.TUF_PROXY_TEST_NGINX ?? '/usr/sbin/nginx'

/** Skip loudly without nginx, but fail under CI, where .ci/run installs it. */
function requireNginx(): { skip?: string } {
  if (existsSync(NGINX)) return {}
  const reason = `${NGINX} not found (apt-get install nginx)`
  if (process.env.CI === 'true') throw new Error(`nginx is required under CI: ${reason}`)
  process.stderr.write(`SKIPPING nginx recipe tests: ${reason}\n`)
  return { skip: reason }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise<void>((done) => server.close(() => done()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

/** The recipe with this test's ports, inside a minimal main config that runs nginx in the foreground as one process. */
function nginxConfig(dir: string, listenPort: number, replicaPorts: readonly number[]): string {
  let recipe = readFileSync(RECIPE, 'utf8')
  const servers = [...recipe.matchAll(/server 127\.0\.0\.1:(\d+)/g)].map((match) => match[1])
  assert.equal(servers.length, replicaPorts.length, 'the recipe lists three replicas')
  servers.forEach((port, i) => (recipe = recipe.replace(`server 127.0.0.1:${port} `, `server 127.0.0.1:${replicaPorts[i]} `)))
  recipe = recipe.replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${listenPort};`)
  const temp = (name: string) => `${name} ${join(dir, name)};`
  return [
    'daemon off;',
    'master_process off;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    ...['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((name) => `  ${temp(name)}`),
    recipe,
    '}',
  ].join('\n')
}

function pipInstall(indexUrl: string, requirement: string): Promise<{ status: number; stderr: string; installed: string[] }> {
  const target = mkdtempSync(join(tmpdir(), 'tuf-proxy-pip-target-'))
  const args = ['-m', 'pip', 'install', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--retries', '0', '--timeout', '20', '--index-url', indexUrl, '--target', target, requirement]
  return new Promise((done) => {
    execFile(PYTHON, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PIP_CONFIG_FILE: '/dev/null', PIP_NO_INPUT: '1' }, timeout: 120_000 }, (error, _stdout, stderr) => {
      const installed = readdirSync(target).sort()
      rmSync(target, { recursive: true, force: true })
      done({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, installed })
    })
  })
}

/** Which replicas logged a request for a path of `project`. */
function replicasServing(replicas: readonly ProxyProcess[], project: string): number[] {
  return replicas.flatMap((replica, i) => (replica.logs.some((line) => line.event === 'request' && typeof line.path === 'string' && (line.path.startsWith(`/simple/${project}/`) || line.path.startsWith(`/files/${project}/`))) ? [i] : []))
}

describe('nginx recipe: three replicas with project affinity', () => {
  let upstream: FakeUpstream
  const replicas: ProxyProcess[] = []
  let nginx: ChildProcess | undefined
  let nginxDir = ''
  let url = ''
  const wheels = ['alpha', 'bravo', 'charlie', 'delta'].map((name) => buildWheel(name, '1.0'))

  before(async () => {
    if (requireNginx().skip !== undefined || requirePip().skip !== undefined) return
    upstream = await new FakeUpstream().start()
    wheels.forEach((wheel, i) => upstream.addProject(wheel.filename.split('-')[0] ?? '', [{ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata }], 1 + i))
    for (let i = 0; i < 3; i += 1) replicas.push(await ProxyProcess.start(['--upstream', upstream.simpleUrl]))
    nginxDir = mkdtempSync(join(tmpdir(), 'tuf-proxy-nginx-'))
    const port = await freePort()
    writeFileSync(join(nginxDir, 'nginx.conf'), nginxConfig(nginxDir, port, replicas.map((replica) => replica.port)))
    const child = spawn(NGINX, ['-c', join(nginxDir, 'nginx.conf'), '-p', nginxDir], { stdio: ['ignore', 'ignore', 'pipe'] })
    nginx = child
    url = `http://127.0.0.1:${port}`
    // Ready once it answers (through it, a replica's /health).
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${readFileSync(join(nginxDir, 'error.log'), 'utf8')}`)
      const answered = await fetch(`${url}/health`).then(
        (response) => response.ok,
        () => false,
      )
      if (answered) break
      await new Promise((done) => setTimeout(done, 50))
    }
  })

  after(async () => {
    nginx?.kill('SIGTERM')
    for (const replica of replicas) await replica.dispose()
    await upstream?.stop()
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true })
  })

  test('pip installs through nginx, and each project is served and cached by one replica only', requireNginx(), async () => {
    if (requirePip().skip !== undefined) return
    for (const wheel of wheels) {
      const project = wheel.filename.split('-')[0] ?? ''
      const result = await pipInstall(`${url}/simple/`, `${project}==1.0`)
      assert.equal(result.status, 0, result.stderr)
      assert.ok(result.installed.includes(`${project}-1.0.dist-info`), `installed: ${result.installed.join(', ')}`)
      const serving = replicasServing(replicas, project)
      assert.equal(serving.length, 1, `${project}'s page and file went to replicas ${serving.join(', ')}`)
      const holding = replicas.flatMap((replica, i) => (blobDigests(replica.cacheDir).includes(wheel.sha256) ? [i] : []))
      assert.deepEqual(holding, serving, `${project}'s file is cached by the replica that served it, and only there`)
    }
    const used = new Set(wheels.flatMap((wheel) => replicasServing(replicas, wheel.filename.split('-')[0] ?? '')))
    assert.ok(used.size >= 2, 'the projects are spread over several replicas')
  })

  test('with the replica of a project killed, pip keeps working through another replica', requireNginx(), async () => {
    if (requirePip().skip !== undefined) return
    const wheel = wheels[0]
    assert.ok(wheel)
    const project = wheel.filename.split('-')[0] ?? ''
    const [owner] = replicasServing(replicas, project)
    assert.ok(owner !== undefined)
    await replicas[owner]?.kill()
    const result = await pipInstall(`${url}/simple/`, `${project}==1.0`)
    assert.equal(result.status, 0, result.stderr)
    assert.ok(result.installed.includes(`${project}-1.0.dist-info`))
    const nowServing = replicasServing(replicas, project).filter((i) => i !== owner)
    assert.equal(nowServing.length, 1, 'one other replica took the project over')
    assert.ok(blobDigests(replicas[nowServing[0] ?? 0]?.cacheDir ?? '').includes(wheel.sha256))
  })
})
