/**
 * config/load.ts: reading the raw layers. argv forms, `TUF_PROXY_*` variables, YAML and JSON
 * config files (real temp files), and the refusals, each message checked word for word.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, OPTIONS, envName, parseArgv, parseSettings, readConfigFile, readEnv, usage, type RawLayer } from '../../../src/config/index.js'

const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function entries(layer: RawLayer): Record<string, { value: unknown; source: string }> {
  return Object.fromEntries([...layer].map(([flag, raw]) => [flag, { value: raw.value, source: raw.source }]))
}

function throwsConfig(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    assert.equal(error.message, message)
    return true
  })
}

describe('parseArgv', () => {
  test('--name value and --name=value; each value keeps its flag as source', () => {
    const line = parseArgv(['--port', '9000', '--host=0.0.0.0', '--upstream=http://u/simple/?a=b=c'])
    assert.deepEqual(entries(line.flags), {
      port: { value: '9000', source: '--port' },
      host: { value: '0.0.0.0', source: '--host' },
      upstream: { value: 'http://u/simple/?a=b=c', source: '--upstream' },
    })
    assert.equal(line.configFile, undefined)
    assert.equal(line.help, false)
  })

  test('a bare boolean flag is true; --flag=false is text for parse.ts', () => {
    assert.deepEqual(entries(parseArgv(['--require-hashes']).flags), { 'require-hashes': { value: true, source: '--require-hashes' } })
    assert.deepEqual(entries(parseArgv(['--require-hashes=false']).flags), { 'require-hashes': { value: 'false', source: '--require-hashes' } })
  })

  test('a list flag accumulates when repeated; a scalar flag keeps the last', () => {
    const line = parseArgv(['--allow-host', 'a.example', '--port', '1', '--allow-host=b.example', '--port', '2'])
    assert.deepEqual(line.flags.get('allow-host')?.value, ['a.example', 'b.example'])
    assert.equal(line.flags.get('port')?.value, '2')
  })

  test('a value may start with a single dash (so that --index-ttl -1 is judged by parse.ts)', () => {
    assert.equal(parseArgv(['--index-ttl', '-1']).flags.get('index-ttl')?.value, '-1')
  })

  test('--config is not a setting: it names the file', () => {
    const line = parseArgv(['--config', '/etc/tp.yaml', '--port', '1'])
    assert.equal(line.configFile, '/etc/tp.yaml')
    assert.equal(line.flags.has('config'), false)
    assert.equal(parseArgv(['--config=/x.json']).configFile, '/x.json')
  })

  test('--help and -h anywhere set help', () => {
    assert.equal(parseArgv(['--port', '1', '--help']).help, true)
    assert.equal(parseArgv(['-h']).help, true)
  })

  test('every option in OPTIONS is accepted as a flag', () => {
    for (const spec of OPTIONS) {
      const argv = spec.kind === 'bool' ? [`--${spec.flag}`] : [`--${spec.flag}`, 'x']
      assert.ok(parseArgv(argv).flags.has(spec.flag), spec.flag)
    }
  })

  const refusals: Array<[string, string[], string]> = [
    ['an unknown flag', ['--prot', '80'], 'unknown flag --prot (see --help)'],
    ['a snake_case flag', ['--index_ttl', '5'], 'unexpected argument "--index_ttl" (flags look like --port 8080; see --help)'],
    ['a stray argument', ['serve'], 'unexpected argument "serve" (flags look like --port 8080; see --help)'],
    ['a single-dash flag', ['-p', '80'], 'unexpected argument "-p" (flags look like --port 8080; see --help)'],
    ['a value missing at the end', ['--port'], '--port needs a value'],
    ['a value swallowed by the next flag', ['--port', '--host', 'h'], '--port needs a value'],
    ['--config without a file', ['--config'], '--config needs a value'],
    ['a stray word after a boolean flag', ['--require-hashes', 'false'], 'unexpected argument "false" (flags look like --port 8080; see --help)'],
  ]
  for (const [name, argv, message] of refusals) {
    test(`refuses ${name}`, () => throwsConfig(() => parseArgv(argv), message))
  }
})

describe('readEnv', () => {
  test('TUF_PROXY_* names map to flags with the variable as source; other variables are ignored', () => {
    const { layer, configFile } = readEnv({
      TUF_PROXY_PORT: '9000',
      TUF_PROXY_ALLOW_HOST: 'a.example,b.example',
      TUF_PROXY_REQUIRE_HASHES: 'yes',
      TUF_PROXY_CONFIG: '/etc/tp.yaml',
      HOME: '/root',
      TUF_PROXY_LOG_LEVEL: undefined,
    })
    assert.deepEqual(entries(layer), {
      port: { value: '9000', source: 'TUF_PROXY_PORT' },
      'allow-host': { value: 'a.example,b.example', source: 'TUF_PROXY_ALLOW_HOST' },
      'require-hashes': { value: 'yes', source: 'TUF_PROXY_REQUIRE_HASHES' },
    })
    assert.equal(configFile, '/etc/tp.yaml')
  })

  test('every option has a variable', () => {
    const env = Object.fromEntries(OPTIONS.map((spec) => [envName(spec.flag), 'x']))
    assert.equal(readEnv(env).layer.size, OPTIONS.length)
  })

  test('an unknown TUF_PROXY_ variable is refused by name', () => {
    throwsConfig(() => readEnv({ TUF_PROXY_PROT: '80' }), 'TUF_PROXY_PROT: unknown setting (see tuf-proxy serve --help for the names)')
  })

  test('the env layer feeds parse.ts with its source named', () => {
    throwsConfig(
      () => parseSettings([readEnv({ TUF_PROXY_INDEX_TTL: 'abc' }).layer], '/c'),
      '--index-ttl (from TUF_PROXY_INDEX_TTL): must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "abc"',
    )
  })
})

describe('readConfigFile', () => {
  test('YAML: keys are flag names, scalars and lists keep their parsed types', () => {
    const path = file(
      'ok.yaml',
      ['# comment', 'upstream: http://u.example/simple', 'port: 9000', 'require-hashes: true', 'cache-max-bytes: 5G', 'allow-host:', '  - a.example', '  - b.example', 'ca-bundle: ~', ''].join('\n'),
    )
    assert.deepEqual(entries(readConfigFile(path)), {
      upstream: { value: 'http://u.example/simple', source: path },
      port: { value: 9000, source: path },
      'require-hashes': { value: true, source: path },
      'cache-max-bytes': { value: '5G', source: path },
      'allow-host': { value: ['a.example', 'b.example'], source: path },
    })
    const settings = parseSettings([readConfigFile(path)], '/c')
    assert.deepEqual([settings.upstream, settings.port, settings.requireHashes, settings.cacheMaxBytes, settings.allowedHosts, settings.caBundleFile], [
      'http://u.example/simple/',
      9000,
      true,
      5 * 1024 ** 3,
      ['u.example', 'a.example', 'b.example'],
      undefined,
    ])
  })

  test('JSON, chosen by the .json extension', () => {
    const path = file('ok.json', JSON.stringify({ 'index-ttl': 30, 'log-level': 'debug' }))
    const settings = parseSettings([readConfigFile(path)], '/c')
    assert.equal(settings.indexTtlSeconds, 30)
    assert.equal(settings.logLevel, 'debug')
  })

  test('an empty file sets nothing', () => {
    assert.equal(readConfigFile(file('empty.yaml', '')).size, 0)
    assert.equal(readConfigFile(file('comments.yaml', '# nothing here\n')).size, 0)
  })

  test('a wrong type in the file is named with the file as source', () => {
    const path = file('badtype.yaml', 'port:\n  number: 80\n')
    throwsConfig(() => parseSettings([readConfigFile(path)], '/c'), `--port (from ${path}): must be a non-negative integer, got {"number":80}`)
  })

  test('file < env < flags end to end through the loaders', () => {
    const path = file('layers.yaml', 'port: 1\nindex-ttl: 2\nhost: file.host\n')
    const settings = parseSettings([readConfigFile(path), readEnv({ TUF_PROXY_PORT: '3', TUF_PROXY_INDEX_TTL: '4' }).layer, parseArgv(['--port', '5']).flags], '/c')
    assert.deepEqual([settings.port, settings.indexTtlSeconds, settings.host], [5, 4, 'file.host'])
  })

  test('refuses a file that is not a mapping', () => {
    for (const [name, text] of [
      ['list.yaml', '- port\n- 80\n'],
      ['scalar.yaml', 'port 80\n'],
      ['list.json', '[1, 2]'],
      ['number.json', '42'],
    ] as const) {
      const path = file(name, text)
      throwsConfig(() => readConfigFile(path), `--config ${path}: must be a mapping of option names to values`)
    }
  })

  test('refuses an unknown key, suggesting the flag name when one is meant', () => {
    const snake = file('snake.yaml', 'index_ttl: 5\n')
    throwsConfig(() => readConfigFile(snake), `--config ${snake}: unknown key "index_ttl" (did you mean "index-ttl"?)`)
    const camel = file('camel.json', '{"cacheMaxBytes": "1G"}')
    throwsConfig(() => readConfigFile(camel), `--config ${camel}: unknown key "cacheMaxBytes" (did you mean "cache-max-bytes"?)`)
    const other = file('other.yaml', 'listen: 80\n')
    throwsConfig(() => readConfigFile(other), `--config ${other}: unknown key "listen" (keys are the flag names without the dashes, e.g. "index-ttl")`)
    const nested = file('config-key.yaml', 'config: other.yaml\n')
    throwsConfig(() => readConfigFile(nested), `--config ${nested}: unknown key "config" (keys are the flag names without the dashes, e.g. "index-ttl")`)
  })

  test('refuses a file that does not parse, naming the format', () => {
    const json = file('broken.json', '{"port": ')
    assert.throws(() => readConfigFile(json), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`--config ${json}: not valid JSON: `))
    const yaml = file('broken.yaml', 'port: [1, 2\n')
    assert.throws(() => readConfigFile(yaml), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`--config ${yaml}: not valid YAML: `))
    const duplicate = file('dup.yaml', 'port: 1\nport: 2\n')
    assert.throws(() => readConfigFile(duplicate), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`--config ${duplicate}: not valid YAML: `))
  })

  test('refuses a missing file, a directory and an unreadable file', () => {
    const missing = join(dir, 'missing.yaml')
    throwsConfig(() => readConfigFile(missing), `--config ${missing}: cannot read the file (ENOENT)`)
    throwsConfig(() => readConfigFile(dir), `--config ${dir}: cannot read the file (EISDIR)`)
    const locked = file('locked.yaml', 'port: 1\n')
    chmodSync(locked, 0o000)
    if (process.getuid?.() === 0) {
      // root reads any file regardless of mode; the error path is covered by the two cases above.
      assert.equal(readConfigFile(locked).size, 1)
    } else {
      throwsConfig(() => readConfigFile(locked), `--config ${locked}: cannot read the file (EACCES)`)
    }
  })
})

describe('usage', () => {
  test('lists every option with its variable, and --config', () => {
    const text = usage()
    for (const spec of OPTIONS) {
      assert.match(text, new RegExp(`^  --${spec.flag}\\b`, 'm'), spec.flag)
      assert.ok(text.includes(`env ${envName(spec.flag)}`), envName(spec.flag))
    }
    assert.match(text, /^ {2}--config FILE/m)
    assert.match(text, /^ {2}-h, --help/m)
  })
})
