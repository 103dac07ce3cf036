/**
 * The files that run the proxy as a service, exercised as far as this machine allows: the
 * Dockerfile's HEALTHCHECK command run with node against the real process on the port
 * TUF_PROXY_PORT names (there is no Docker engine in the test environment), the Dockerfile's
 * installs against the `prepare` build, and the systemd unit through `systemd-analyze verify`.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProxyProcess } from '../helpers/proxy-process.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

/** The HEALTHCHECK's exec-form command, e.g. ["node", "-e", "…"]. */
function healthcheckCommand(): string[] {
  const json = /^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1]
  assert.ok(json, 'the Dockerfile has an exec-form HEALTHCHECK CMD')
  return JSON.parse(json) as string[]
}

/** Runs the HEALTHCHECK command as Docker would inside the image, with `env`; resolves with its exit code. */
function runHealthcheck(env: Record<string, string>): Promise<number | null> {
  const [command, ...args] = healthcheckCommand()
  assert.equal(command, 'node')
  const child = spawn(process.execPath, args, { stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...env } })
  return new Promise((done) => child.once('exit', (code) => done(code)))
}

/** A port on which nothing listens (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise<void>((done) => server.close(() => done()))
  return typeof address === 'object' && address ? address.port : 0
}

describe('Dockerfile', () => {
  test('HEALTHCHECK probes /health on the port in TUF_PROXY_PORT: healthy when the proxy listens there, unhealthy when nothing does', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', 'http://127.0.0.1:9/simple/'])
    t.after(() => proxy.dispose())
    assert.equal(await runHealthcheck({ TUF_PROXY_PORT: String(proxy.port) }), 0)
    assert.equal(await runHealthcheck({ TUF_PROXY_PORT: String(await closedPort()) }), 1)
  })

  test("HEALTHCHECK's default port is the image's TUF_PROXY_PORT and its EXPOSE", () => {
    const dockerfile = read('Dockerfile')
    const envPort = /TUF_PROXY_PORT=(\d+)/.exec(dockerfile)?.[1]
    assert.equal(/^EXPOSE (\d+)$/m.exec(dockerfile)?.[1], envPort)
    assert.match(healthcheckCommand().join(' '), new RegExp(`process\\.env\\.TUF_PROXY_PORT\\|\\|${envPort}\\b`))
  })

  test('every npm ci skips the prepare build (no sources yet in the build stage, no tsc in the runtime one)', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    assert.ok(scripts.prepare, 'package.json builds at install')
    const installs = read('Dockerfile').split('\n').filter((line) => /^RUN npm ci\b/.test(line))
    assert.equal(installs.length, 2)
    for (const line of installs) assert.match(line, /--ignore-scripts/, line)
  })

  test('.dockerignore keeps local installs, build output and git history out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').filter((line) => line && !line.startsWith('#'))
    for (const entry of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(entry), entry)
  })
})

describe('systemd unit', () => {
  const unit = read('config/tuf-proxy.service')
  const setting = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1])

  test('restarts on failure, runs as its own user, and keeps its cache in the directory systemd manages', () => {
    assert.deepEqual(setting('Restart'), ['on-failure'])
    assert.deepEqual(setting('DynamicUser'), ['yes'])
    assert.deepEqual(setting('CacheDirectory'), ['tuf-proxy'])
    assert.ok(setting('Environment').includes('TUF_PROXY_CACHE_DIR=/var/cache/tuf-proxy'), 'the proxy is told the directory systemd creates')
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict']]) assert.deepEqual(setting(key ?? ''), [value], key)
  })

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
  const skip = analyze.status === 0 ? undefined : 'systemd-analyze is not installed'
  if (skip) process.stderr.write(`SKIPPING systemd-analyze verify: ${skip}\n`)
  test('systemd-analyze verify accepts it (ExecStart pointed at this node)', { skip }, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-unit-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'tuf-proxy.service')
    writeFileSync(path, unit.replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`))
    const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' })
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stderr.trim(), '', 'no warnings')
  })
})
