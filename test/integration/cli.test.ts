/**
 * The built CLI's flag handling end to end: `node dist/src/cli.js` as a child process, exit codes
 * (0 help, 2 usage or configuration error), messages naming the offending flag, variable or file,
 * and one real start that listens, answers /health and stops cleanly on SIGTERM. Also
 * `loadSettings` in-process, for the flag/env/file layering that needs no socket.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadSettings } from '../../src/cli/serve.js'
import { OPTIONS, envName } from '../../src/config/index.js'
import { CLI_PATH, ProxyProcess } from '../helpers/proxy-process.js'

const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-cli-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A port nothing listens on (discard); the proxy never contacts it in these tests. */
const DEAD_UPSTREAM = 'http://127.0.0.1:9/simple/'

/**
 * Runs the CLI with a clean environment. A configuration that unexpectedly parses would start a
 * server; the timeout turns that into a failed assertion instead of a hung test.
 */
function cli(args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], {
    encoding: 'utf8',
    timeout: 15_000,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
  })
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

const TRAILER = "Run 'tuf-proxy serve --help' for the flags.\n"

function assertConfigError(result: ReturnType<typeof cli>, message: string): void {
  assert.equal(result.signal, null, `the CLI did not exit by itself (it probably started serving): ${result.stdout}`)
  assert.equal(result.stderr, `tuf-proxy serve: ${message}\n${TRAILER}`)
  assert.equal(result.status, 2)
  assert.equal(result.stdout, '', 'nothing is logged before the settings are valid')
}

describe('tuf-proxy (no subcommand)', () => {
  test('no command: exit 2 with the usage on stderr', () => {
    const result = cli([])
    assert.equal(result.status, 2)
    assert.match(result.stderr, /^tuf-proxy: missing command\n/)
    assert.match(result.stderr, /Usage: tuf-proxy <command> \[flags\]/)
    assert.match(result.stderr, /^ {2}serve /m)
  })

  test('an unknown command: exit 2 naming it, with the usage', () => {
    const result = cli(['server'])
    assert.equal(result.status, 2)
    assert.match(result.stderr, /^tuf-proxy: unknown command "server"\n/)
    assert.match(result.stderr, /Usage: tuf-proxy <command> \[flags\]/)
  })

  test('--version and -V print the version of package.json and exit 0', () => {
    const { version } = JSON.parse(readFileSync(join(dirname(CLI_PATH), '../../package.json'), 'utf8')) as { version: string }
    for (const arg of ['--version', '-V']) {
      const result = cli([arg])
      assert.deepEqual([result.status, result.stdout, result.stderr], [0, `${version}\n`, ''], arg)
    }
  })

  test('help: exit 0 with the usage on stdout', () => {
    for (const arg of ['help', '--help', '-h']) {
      const result = cli([arg])
      assert.equal(result.status, 0, arg)
      assert.match(result.stdout, /^Usage: tuf-proxy <command> \[flags\]/, arg)
      assert.equal(result.stderr, '', arg)
    }
  })
})

describe('tuf-proxy serve: flag handling', () => {
  test('--help exits 0 and lists every flag of OPTIONS with its variable, and --config', () => {
    const result = cli(['serve', '--help'])
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stderr, '')
    assert.match(result.stdout, /^Usage: tuf-proxy serve \[flags\]/)
    for (const spec of OPTIONS) {
      assert.match(result.stdout, new RegExp(`^ {2}--${spec.flag}\\b`, 'm'), `--${spec.flag} is listed`)
      assert.ok(result.stdout.includes(envName(spec.flag)), `${envName(spec.flag)} is listed`)
    }
    assert.match(result.stdout, /^ {2}--config FILE/m)
  })

  test('--help after valid flags still only prints help', () => {
    const result = cli(['serve', '--port', '0', '--help'])
    assert.equal(result.status, 0)
    assert.match(result.stdout, /^Usage: tuf-proxy serve/)
  })

  const refusals: Array<{ name: string; args: string[]; env?: Record<string, string>; message: string }> = [
    { name: 'an unknown flag', args: ['--bogus', '1'], message: 'unknown flag --bogus (see --help)' },
    { name: 'an unknown flag after valid ones', args: ['--port', '0', '--portt=1'], message: 'unknown flag --portt (see --help)' },
    { name: 'a stray argument', args: ['extra'], message: 'unexpected argument "extra" (flags look like --port 8080; see --help)' },
    { name: 'a flag without its value', args: ['--port'], message: '--port needs a value' },
    { name: '--port abc', args: ['--port', 'abc'], message: '--port: must be a non-negative integer, got "abc"' },
    { name: '--port above 65535', args: ['--port=70000'], message: '--port: must be at most 65535' },
    { name: '--index-ttl -1', args: ['--index-ttl', '-1'], message: '--index-ttl: must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "-1"' },
    { name: '--cache-max-bytes 10Q', args: ['--cache-max-bytes', '10Q'], message: '--cache-max-bytes: must be a byte count such as 500M or 10G, got "10Q"' },
    { name: '--require-hashes=maybe', args: ['--require-hashes=maybe'], message: '--require-hashes: must be true or false, got "maybe"' },
    { name: '--log-level loud', args: ['--log-level', 'loud'], message: '--log-level: must be one of debug, info, warn, error, got "loud"' },
    { name: '--upstream without a scheme', args: ['--upstream', 'pypi.org/simple/'], message: '--upstream: is not a URL: "pypi.org/simple/"' },
    { name: 'TUF_PROXY_PORT=abc', args: [], env: { TUF_PROXY_PORT: 'abc' }, message: '--port (from TUF_PROXY_PORT): must be a non-negative integer, got "abc"' },
    { name: 'TUF_PROXY_INDEX_TTL=abc', args: [], env: { TUF_PROXY_INDEX_TTL: 'abc' }, message: '--index-ttl (from TUF_PROXY_INDEX_TTL): must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "abc"' },
    { name: 'an unknown TUF_PROXY_ variable', args: [], env: { TUF_PROXY_PROT: '1' }, message: 'TUF_PROXY_PROT: unknown setting (see tuf-proxy serve --help for the names)' },
    { name: '--config missing.yaml', args: ['--config', 'missing.yaml'], message: '--config missing.yaml: cannot read the file (ENOENT)' },
    { name: 'TUF_PROXY_CONFIG=missing.yaml', args: [], env: { TUF_PROXY_CONFIG: 'missing.yaml' }, message: '--config missing.yaml: cannot read the file (ENOENT)' },
    {
      name: 'only --tuf-root of the TUF trio',
      args: ['--tuf-root', 'root.json'],
      message: '--tuf-root, --tuf-metadata-url and --tuf-targets-url go together: verifying mode needs all three, but --tuf-metadata-url and --tuf-targets-url are missing',
    },
    {
      name: 'the TUF trio without --tuf-targets-url, split over env and flags',
      args: ['--tuf-root', 'root.json'],
      env: { TUF_PROXY_TUF_METADATA_URL: 'http://127.0.0.1:9/metadata/' },
      message: '--tuf-root, --tuf-metadata-url and --tuf-targets-url go together: verifying mode needs all three, but --tuf-targets-url is missing',
    },
  ]
  for (const { name, args, env, message } of refusals) {
    test(`${name}: exit 2, naming it`, () => {
      // A dead upstream and a throwaway cache dir come first, so a case's own --upstream wins (last flag wins).
      assertConfigError(cli(['serve', '--cache-dir', join(dir, 'unused'), '--upstream', DEAD_UPSTREAM, ...args], env), message)
    })
  }

  test('a bad value in the config file names the file; a flag overrides it', () => {
    const path = join(dir, 'bad-port.yaml')
    writeFileSync(path, 'port: abc\n')
    assertConfigError(cli(['serve', '--config', path]), `--port (from ${path}): must be a non-negative integer, got "abc"`)
    // With --port given, the file's bad port is never looked at; --index-ttl then fails, proving parsing went on.
    assertConfigError(cli(['serve', '--config', path, '--port', '0', '--index-ttl', 'x']), '--index-ttl: must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "x"')
  })

  test('a config file with an unknown key is refused by name', () => {
    const path = join(dir, 'unknown-key.json')
    writeFileSync(path, '{"index_ttl": 5}')
    assertConfigError(cli(['serve', '--config', path]), `--config ${path}: unknown key "index_ttl" (did you mean "index-ttl"?)`)
  })
})

describe('loadSettings: flags, env and file layered in-process', () => {
  test('defaults < file < env < flags, and --config beats TUF_PROXY_CONFIG', () => {
    const fileA = join(dir, 'a.yaml')
    const fileB = join(dir, 'b.yaml')
    writeFileSync(fileA, 'port: 1\nindex-ttl: 2\nhost: 10.0.0.1\nlog-level: debug\n')
    writeFileSync(fileB, 'port: 7\n')
    const { settings, help } = loadSettings(['--config', fileA, '--port', '3'], {
      TUF_PROXY_CONFIG: fileB,
      TUF_PROXY_PORT: '4',
      TUF_PROXY_INDEX_TTL: '5',
      XDG_CACHE_HOME: '/xdg',
    })
    assert.equal(help, false)
    assert.deepEqual([settings.port, settings.indexTtlSeconds, settings.host, settings.logLevel, settings.upstreamTimeoutMs], [3, 5, '10.0.0.1', 'debug', 30_000])
    assert.equal(settings.cacheDir, '/xdg/tuf-proxy', 'the default cache dir follows XDG_CACHE_HOME')
  })

  test('TUF_PROXY_CONFIG is read when no --config is given', () => {
    const path = join(dir, 'env-config.yaml')
    writeFileSync(path, 'index-ttl: 42\n')
    assert.equal(loadSettings([], { TUF_PROXY_CONFIG: path }).settings.indexTtlSeconds, 42)
  })

  test('a relative XDG_CACHE_HOME is ignored (XDG Base Directory spec: must be absolute)', () => {
    const { settings } = loadSettings([], { XDG_CACHE_HOME: 'relative/cache', HOME: '/home/u' })
    assert.ok(!settings.cacheDir.startsWith('relative'), settings.cacheDir)
    assert.ok(settings.cacheDir.endsWith('/.cache/tuf-proxy'), settings.cacheDir)
  })
})

describe('tuf-proxy serve: a real start', () => {
  test('logs a JSON listening line, answers /health 200, and exits 0 on SIGTERM after logging stopped', async (t) => {
    const proxy = await ProxyProcess.start(['--upstream', DEAD_UPSTREAM])
    t.after(() => proxy.dispose())
    const listening = await proxy.waitForLog((line) => line.event === 'listening')
    assert.equal(listening.level, 'info')
    assert.equal(typeof listening.time, 'string')
    assert.equal(listening.host, '127.0.0.1')
    assert.ok(typeof listening.port === 'number' && listening.port > 0, `a real port was chosen: ${String(listening.port)}`)
    assert.equal(listening.upstream, DEAD_UPSTREAM)
    assert.equal(listening.cacheDir, proxy.cacheDir)
    assert.equal(listening.mode, 'hash-only')

    const response = await fetch(`${proxy.url}/health`)
    assert.equal(response.status, 200)
    const health = (await response.json()) as { ready?: unknown; mode?: unknown }
    assert.deepEqual([health.ready, health.mode], [true, 'hash-only'])

    await proxy.waitForStderr(/\n/)
    assert.equal(await proxy.stop(), 0)
    const events = proxy.logs.map((line) => line.event)
    assert.deepEqual(events.slice(-2), ['shutting_down', 'stopped'])
    assert.equal(proxy.events('shutting_down')[0]?.signal, 'SIGTERM')
    assert.ok(proxy.logs.every((line) => line.event !== 'unparsed'), 'every stdout line is JSON')
    const { version } = JSON.parse(readFileSync(join(dirname(CLI_PATH), '../../package.json'), 'utf8')) as { version: string }
    const index = `http://127.0.0.1:${proxy.port}/simple/`
    assert.equal(
      proxy.stderr,
      `tuf-proxy ${version} listening on http://127.0.0.1:${proxy.port}/; pip: pip install --index-url ${index} PACKAGE; ` +
        `uv: uv pip install --default-index ${index} PACKAGE (or UV_DEFAULT_INDEX=${index}); poetry: poetry source add --priority=primary tuf-proxy ${index}\n`,
      'stderr carries the one human start line and nothing else',
    )
  })
})
