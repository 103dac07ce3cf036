/**
 * config/parse.ts: raw layers → frozen Settings. Every option kind's conversion, the precedence
 * defaults < file < env < flags, the allowed-host set, the TUF trio rule, and every error
 * message checked word for word (they are the operator's only guide).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, DEFAULTS, OPTIONS, envName, parseSettings, type RawLayer, type Settings } from '../../../src/config/index.js'

const CACHE = '/default/cache'

/** One layer from `flag → value`, every value attributed to `source` (or to `--flag` when omitted). */
function layer(values: Record<string, unknown>, source?: string): RawLayer {
  return new Map(Object.entries(values).map(([flag, value]) => [flag, { value, source: source ?? `--${flag}` }]))
}

function parse(...layers: RawLayer[]): Settings {
  return parseSettings(layers, CACHE)
}

function flags(values: Record<string, unknown>): Settings {
  return parse(layer(values))
}

function rejects(layers: RawLayer[], message: string): void {
  assert.throws(
    () => parseSettings(layers, CACHE),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
      assert.equal(error.message, message)
      assert.equal(error.code, 'config')
      return true
    },
  )
}

const TUF = {
  'tuf-root': '/etc/tuf/root.json',
  'tuf-metadata-url': 'https://tuf.example.org/metadata',
  'tuf-targets-url': 'https://files.example.org/targets/',
}

describe('defaults', () => {
  test('no layer at all gives the documented defaults', () => {
    const settings = parse()
    assert.deepEqual(settings, {
      upstream: 'https://pypi.org/simple/',
      host: '127.0.0.1',
      port: 8080,
      cacheDir: CACHE,
      indexTtlSeconds: 600,
      cacheMaxBytes: 10 * 1024 ** 3,
      requireHashes: false,
      allowedHosts: ['pypi.org', 'files.pythonhosted.org'],
      caBundleFile: undefined,
      upstreamTimeoutMs: 30_000,
      upstreamDeadlineMs: 60_000,
      upstreamMinBytesPerSecond: 16 * 1024,
      maxPageBytes: 128 * 1024 ** 2,
      maxFileBytes: 20 * 1024 ** 3,
      logLevel: 'info',
      tuf: undefined,
      offline: false,
      adminTokenFile: undefined,
      honorClientRevalidate: false,
      proxy: { http: '', https: '', noProxy: '', source: '' },
      offlineGraceSeconds: 0,
      workers: 1,
    })
    assert.equal(DEFAULTS.port, settings.port)
  })

  test('--offline refuses the verifying-mode flags (its TUF state is the import\'s); --offline-grace is a duration, only with --offline', () => {
    assert.equal(flags({ offline: 'true' }).offline, true)
    assert.throws(() => flags({ offline: 'true', 'tuf-root': '/r.json', 'tuf-metadata-url': 'https://m.example/', 'tuf-targets-url': 'https://t.example/' }), /--offline does not take the verifying-mode flags .*: the offline server takes its TUF state from the cache/)
    assert.equal(flags({ offline: 'true', 'offline-grace': '7d' }).offlineGraceSeconds, 7 * 86_400)
    assert.throws(() => flags({ 'offline-grace': '1h' }), /--offline-grace applies only with --offline/)
    assert.throws(() => flags({ offline: 'true', 'offline-grace': 'soon' }), /--offline-grace.*must be a duration/)
  })

  test('the result is frozen', () => {
    assert.ok(Object.isFrozen(parse()))
  })

  test('env names are TUF_PROXY_ + upper snake case of the flag', () => {
    assert.equal(envName('index-ttl'), 'TUF_PROXY_INDEX_TTL')
    assert.equal(envName('tuf-max-timestamp-bytes'), 'TUF_PROXY_TUF_MAX_TIMESTAMP_BYTES')
    assert.equal(new Set(OPTIONS.map((spec) => spec.flag)).size, OPTIONS.length, 'flags are unique')
  })
})

describe('conversions, one row per form', () => {
  const cases: Array<{ name: string; set: Record<string, unknown>; pick: (s: Settings) => unknown; want: unknown }> = [
    // int
    { name: 'int from text', set: { port: '9000' }, pick: (s) => s.port, want: 9000 },
    { name: 'int with spaces', set: { port: ' 9000 ' }, pick: (s) => s.port, want: 9000 },
    { name: 'int from a file number', set: { port: 9000 }, pick: (s) => s.port, want: 9000 },
    { name: 'port 0 means any free port', set: { port: '0' }, pick: (s) => s.port, want: 0 },
    { name: 'port at its max', set: { port: '65535' }, pick: (s) => s.port, want: 65535 },
    { name: 'index-ttl 0', set: { 'index-ttl': '0' }, pick: (s) => s.indexTtlSeconds, want: 0 },
    { name: 'upstream-timeout in ms', set: { 'upstream-timeout': '7' }, pick: (s) => s.upstreamTimeoutMs, want: 7000 },
    { name: 'upstream-deadline in ms', set: { 'upstream-deadline': '9' }, pick: (s) => s.upstreamDeadlineMs, want: 9000 },
    // durations
    { name: 'index-ttl in minutes', set: { 'index-ttl': '15m' }, pick: (s) => s.indexTtlSeconds, want: 900 },
    { name: 'upstream-deadline in seconds with unit', set: { 'upstream-deadline': '90s' }, pick: (s) => s.upstreamDeadlineMs, want: 90_000 },
    { name: 'index-ttl in days from a file number', set: { 'index-ttl': 7 }, pick: (s) => s.indexTtlSeconds, want: 7 },
    { name: 'index-ttl in days', set: { 'index-ttl': '7d' }, pick: (s) => s.indexTtlSeconds, want: 604_800 },
    { name: 'upstream-min-rate in bytes', set: { 'upstream-min-rate': '4K' }, pick: (s) => s.upstreamMinBytesPerSecond, want: 4096 },
    { name: 'upstream-min-rate 0 turns the floor off', set: { 'upstream-min-rate': '0' }, pick: (s) => s.upstreamMinBytesPerSecond, want: 0 },
    // bytes
    { name: 'bytes plain', set: { 'max-page-bytes': '1234' }, pick: (s) => s.maxPageBytes, want: 1234 },
    { name: 'bytes B', set: { 'max-page-bytes': '1234B' }, pick: (s) => s.maxPageBytes, want: 1234 },
    { name: 'bytes K', set: { 'max-page-bytes': '3K' }, pick: (s) => s.maxPageBytes, want: 3 * 1024 },
    { name: 'bytes k lower case', set: { 'max-page-bytes': '3k' }, pick: (s) => s.maxPageBytes, want: 3 * 1024 },
    { name: 'bytes M', set: { 'max-page-bytes': '5M' }, pick: (s) => s.maxPageBytes, want: 5 * 1024 ** 2 },
    { name: 'bytes MB', set: { 'max-page-bytes': '5MB' }, pick: (s) => s.maxPageBytes, want: 5 * 1024 ** 2 },
    { name: 'bytes MiB', set: { 'max-page-bytes': '5MiB' }, pick: (s) => s.maxPageBytes, want: 5 * 1024 ** 2 },
    { name: 'bytes G with a space', set: { 'max-file-bytes': '2 G' }, pick: (s) => s.maxFileBytes, want: 2 * 1024 ** 3 },
    { name: 'bytes T', set: { 'max-file-bytes': '1T' }, pick: (s) => s.maxFileBytes, want: 1024 ** 4 },
    { name: 'bytes from a file number', set: { 'max-file-bytes': 4096 }, pick: (s) => s.maxFileBytes, want: 4096 },
    { name: 'cache-max-bytes 0 is unlimited', set: { 'cache-max-bytes': '0' }, pick: (s) => s.cacheMaxBytes, want: Infinity },
    { name: 'cache-max-bytes 500M', set: { 'cache-max-bytes': '500M' }, pick: (s) => s.cacheMaxBytes, want: 500 * 1024 ** 2 },
    // bool
    ...(['1', 'true', 'TRUE', 'yes', 'on', ' On '] as const).map((text) => ({
      name: `bool ${JSON.stringify(text)} is true`,
      set: { 'require-hashes': text },
      pick: (s: Settings) => s.requireHashes,
      want: true,
    })),
    ...(['0', 'false', 'no', 'off', 'False'] as const).map((text) => ({
      name: `bool ${JSON.stringify(text)} is false`,
      set: { 'require-hashes': text },
      pick: (s: Settings) => s.requireHashes,
      want: false,
    })),
    { name: 'bool from a bare flag / file boolean', set: { 'require-hashes': true }, pick: (s) => s.requireHashes, want: true },
    { name: 'bool false from a file boolean', set: { 'require-hashes': false }, pick: (s) => s.requireHashes, want: false },
    // url
    { name: 'url gains a trailing slash', set: { upstream: 'http://127.0.0.1:9/simple' }, pick: (s) => s.upstream, want: 'http://127.0.0.1:9/simple/' },
    { name: 'url keeps its trailing slash', set: { upstream: 'https://mirror.example/simple/' }, pick: (s) => s.upstream, want: 'https://mirror.example/simple/' },
    { name: 'url of a bare host gets /', set: { upstream: 'https://mirror.example' }, pick: (s) => s.upstream, want: 'https://mirror.example/' },
    { name: 'url host is lower-cased, default port dropped', set: { upstream: 'HTTPS://Mirror.Example:443/simple' }, pick: (s) => s.upstream, want: 'https://mirror.example/simple/' },
    { name: 'url is trimmed', set: { upstream: '  http://u.example/simple  ' }, pick: (s) => s.upstream, want: 'http://u.example/simple/' },
    { name: 'url with a bare "?" loses it', set: { upstream: 'http://u.example/simple?' }, pick: (s) => s.upstream, want: 'http://u.example/simple/' },
    { name: 'url with a bare "#" loses it', set: { upstream: 'http://u.example/simple#' }, pick: (s) => s.upstream, want: 'http://u.example/simple/' },
    // string / path / enum
    { name: 'host string', set: { host: '0.0.0.0' }, pick: (s) => s.host, want: '0.0.0.0' },
    { name: 'cache-dir path, trimmed', set: { 'cache-dir': ' /var/cache/tp ' }, pick: (s) => s.cacheDir, want: '/var/cache/tp' },
    { name: 'ca-bundle path', set: { 'ca-bundle': '/etc/ssl/extra.pem' }, pick: (s) => s.caBundleFile, want: '/etc/ssl/extra.pem' },
    ...(['debug', 'info', 'warn', 'error'] as const).map((level) => ({
      name: `log-level ${level}`,
      set: { 'log-level': level },
      pick: (s: Settings) => s.logLevel,
      want: level,
    })),
  ]
  for (const { name, set, pick, want } of cases) {
    test(name, () => {
      assert.deepEqual(pick(flags(set)), want)
    })
  }
})

describe('lists (allow-host)', () => {
  test('a comma-separated env value is split, trimmed and empty items dropped', () => {
    const settings = parse(layer({ 'allow-host': 'a.example, B.Example,,c.example:8443 ' }, 'TUF_PROXY_ALLOW_HOST'))
    assert.deepEqual(settings.allowedHosts, ['pypi.org', 'files.pythonhosted.org', 'a.example', 'b.example', 'c.example:8443'])
  })

  test('repeated flags arrive as an array', () => {
    const settings = flags({ upstream: 'http://u.example/simple/', 'allow-host': ['a.example', 'b.example'] })
    assert.deepEqual(settings.allowedHosts, ['u.example', 'a.example', 'b.example'])
  })

  test('an IPv6 literal with a port is a host', () => {
    assert.deepEqual(flags({ upstream: 'http://u.example/', 'allow-host': ['[::1]:8080'] }).allowedHosts, ['u.example', '[::1]:8080'])
  })
})

describe('precedence: defaults < file < env < flags', () => {
  const file = layer({ port: 1111, 'index-ttl': 5, 'log-level': 'debug', 'allow-host': ['file.example', 'shared.example'] }, '/etc/tp.yaml')
  const env = layer({ port: '2222', 'log-level': 'warn', 'allow-host': 'env.example' }, 'TUF_PROXY_PORT')
  const cli = layer({ port: '3333' })

  test('each key takes the highest layer that sets it', () => {
    const settings = parse(file, env, cli)
    assert.equal(settings.port, 3333, 'flag beats env and file')
    assert.equal(settings.logLevel, 'warn', 'env beats file')
    assert.equal(settings.indexTtlSeconds, 5, 'file beats default')
    assert.equal(settings.host, DEFAULTS.host, 'default when nobody sets it')
  })

  test('a higher layer replaces a list, it does not extend it', () => {
    assert.deepEqual(parse(file, env).allowedHosts, ['pypi.org', 'files.pythonhosted.org', 'env.example'])
    assert.deepEqual(parse(file, env, layer({ 'allow-host': ['cli.example'] })).allowedHosts, ['pypi.org', 'files.pythonhosted.org', 'cli.example'])
  })

  test('an invalid value in a lower layer is not looked at when a higher layer sets the key', () => {
    assert.equal(parse(layer({ port: 'junk' }, 'f.yaml'), layer({ port: '80' })).port, 80)
  })
})

describe('allowed hosts', () => {
  test('the upstream host, with its port', () => {
    assert.deepEqual(flags({ upstream: 'http://127.0.0.1:3141/root/pypi/+simple/' }).allowedHosts, ['127.0.0.1:3141'])
  })

  test('pypi.org implies files.pythonhosted.org, test.pypi.org its own file host', () => {
    assert.deepEqual(flags({ upstream: 'https://pypi.org/simple' }).allowedHosts, ['pypi.org', 'files.pythonhosted.org'])
    assert.deepEqual(flags({ upstream: 'https://test.pypi.org/simple/' }).allowedHosts, ['test.pypi.org', 'test-files.pythonhosted.org'])
  })

  test('--allow-host adds, duplicates collapse', () => {
    assert.deepEqual(flags({ upstream: 'https://u.example/', 'allow-host': ['U.example', 'cdn.example'] }).allowedHosts, ['u.example', 'cdn.example'])
  })

  test('the TUF metadata and targets hosts are added in verifying mode', () => {
    const settings = flags({ upstream: 'https://u.example/simple/', ...TUF })
    assert.deepEqual(settings.allowedHosts, ['u.example', 'tuf.example.org', 'files.example.org'])
  })
})

describe('verifying mode (the TUF trio)', () => {
  test('all three give a TufSettings with defaults and normalised URLs', () => {
    assert.deepEqual(flags(TUF).tuf, {
      rootFile: '/etc/tuf/root.json',
      metadataUrl: 'https://tuf.example.org/metadata/',
      targetsUrl: 'https://files.example.org/targets/',
      layout: 'paths',
      refreshSeconds: 60,
      maxRootBytes: 512 * 1024,
      maxTimestampBytes: 16 * 1024,
      maxDelegations: 32,
    })
  })

  test('the TUF knobs convert', () => {
    const tuf = flags({
      ...TUF,
      'tuf-layout': 'warehouse',
      'tuf-refresh': '5',
      'tuf-max-root-bytes': '1M',
      'tuf-max-timestamp-bytes': '2K',
      'tuf-max-delegations': '3',
    }).tuf
    assert.deepEqual(
      tuf && [tuf.layout, tuf.refreshSeconds, tuf.maxRootBytes, tuf.maxTimestampBytes, tuf.maxDelegations],
      ['warehouse', 5, 1024 ** 2, 2048, 3],
    )
  })

  test('none of the three: hash-only mode', () => {
    assert.equal(flags({ 'tuf-layout': 'warehouse' }).tuf, undefined)
  })

  const partial: Array<[Record<string, string>, string]> = [
    [{ 'tuf-root': TUF['tuf-root'] }, '--tuf-metadata-url and --tuf-targets-url are missing'],
    [{ 'tuf-metadata-url': TUF['tuf-metadata-url'] }, '--tuf-root and --tuf-targets-url are missing'],
    [{ 'tuf-root': TUF['tuf-root'], 'tuf-metadata-url': TUF['tuf-metadata-url'] }, '--tuf-targets-url is missing'],
    [{ 'tuf-metadata-url': TUF['tuf-metadata-url'], 'tuf-targets-url': TUF['tuf-targets-url'] }, '--tuf-root is missing'],
  ]
  for (const [given, missing] of partial) {
    test(`only ${Object.keys(given).join(' + ')} is refused, naming what is missing`, () => {
      rejects([layer(given)], `--tuf-root, --tuf-metadata-url and --tuf-targets-url go together: verifying mode needs all three, but ${missing}`)
    })
  }

  test('the trio may be spread over layers', () => {
    const settings = parse(layer({ 'tuf-root': TUF['tuf-root'] }, 'f.yaml'), layer({ 'tuf-metadata-url': TUF['tuf-metadata-url'] }, 'TUF_PROXY_TUF_METADATA_URL'), layer({ 'tuf-targets-url': TUF['tuf-targets-url'] }))
    assert.equal(settings.tuf?.rootFile, TUF['tuf-root'])
  })

  test('a bad TUF knob is reported even outside verifying mode', () => {
    rejects([layer({ 'tuf-refresh': 'soon' })], '--tuf-refresh: must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "soon"')
    rejects([layer({ 'tuf-layout': 'flat' })], '--tuf-layout: must be one of paths, warehouse, got "flat"')
  })
})

describe('errors name the option, its source and the value, word for word', () => {
  const env = (flag: string, value: unknown): RawLayer => layer({ [flag]: value }, envName(flag))
  const cases: Array<{ name: string; layers: RawLayer[]; message: string }> = [
    { name: 'int from env', layers: [env('index-ttl', 'abc')], message: '--index-ttl (from TUF_PROXY_INDEX_TTL): must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "abc"' },
    { name: 'negative int', layers: [layer({ 'index-ttl': '-1' })], message: '--index-ttl: must be a duration such as 90s, 15m, 12h or 7d (a bare number is seconds), got "-1"' },
    { name: 'fractional int from a file', layers: [layer({ port: 80.5 }, 'tp.yaml')], message: '--port (from tp.yaml): must be a non-negative integer, got 80.5' },
    { name: 'port above max', layers: [layer({ port: '65536' })], message: '--port: must be at most 65535' },
    { name: 'timeout below min', layers: [layer({ 'upstream-timeout': '0' })], message: '--upstream-timeout: must be at least 1s' },
    { name: 'unsafe integer', layers: [layer({ port: '99999999999999999999' })], message: '--port: is too large' },
    { name: 'empty int', layers: [env('port', '')], message: '--port (from TUF_PROXY_PORT): must be a non-negative integer, got ""' },
    { name: 'a mapping where an int belongs', layers: [layer({ port: { value: 1 } }, 'tp.yaml')], message: '--port (from tp.yaml): must be a non-negative integer, got {"value":1}' },
    { name: 'unknown byte suffix', layers: [layer({ 'cache-max-bytes': '10Q' })], message: '--cache-max-bytes: must be a byte count such as 500M or 10G, got "10Q"' },
    { name: '"iB" without a unit letter', layers: [layer({ 'cache-max-bytes': '10iB' })], message: '--cache-max-bytes: must be a byte count such as 500M or 10G, got "10iB"' },
    { name: 'negative bytes', layers: [env('max-file-bytes', '-5M')], message: '--max-file-bytes (from TUF_PROXY_MAX_FILE_BYTES): must be a byte count such as 500M or 10G, got "-5M"' },
    { name: 'fractional bytes', layers: [layer({ 'max-file-bytes': '1.5G' })], message: '--max-file-bytes: must be a byte count such as 500M or 10G, got "1.5G"' },
    { name: 'bytes that overflow', layers: [layer({ 'max-file-bytes': '9999999T' })], message: '--max-file-bytes: is too large' },
    { name: 'a zero page limit would refuse every page', layers: [layer({ 'max-page-bytes': '0' })], message: '--max-page-bytes: must be at least 1 byte' },
    { name: 'bool', layers: [env('require-hashes', 'maybe')], message: '--require-hashes (from TUF_PROXY_REQUIRE_HASHES): must be true or false, got "maybe"' },
    { name: 'bool from a file number', layers: [layer({ 'require-hashes': 1 }, 'tp.yaml')], message: '--require-hashes (from tp.yaml): must be true or false, got 1' },
    { name: 'url that is not one', layers: [layer({ upstream: 'pypi.org/simple' })], message: '--upstream: is not a URL: "pypi.org/simple"' },
    { name: 'url of another scheme', layers: [env('upstream', 'ftp://u.example/simple/')], message: '--upstream (from TUF_PROXY_UPSTREAM): must be an http:// or https:// URL' },
    { name: 'url with a query', layers: [layer({ upstream: 'https://u.example/simple/?x=1' })], message: '--upstream: must not have a query or fragment' },
    { name: 'url with a fragment', layers: [layer({ 'tuf-metadata-url': 'https://u.example/m/#f' })], message: '--tuf-metadata-url: must not have a query or fragment' },
    { name: 'empty string', layers: [layer({ host: '  ' })], message: '--host: must be a non-empty string' },
    { name: 'a number where a path belongs', layers: [layer({ 'cache-dir': 5 }, 'tp.yaml')], message: '--cache-dir (from tp.yaml): must be a non-empty string' },
    { name: 'enum', layers: [layer({ 'log-level': 'verbose' })], message: '--log-level: must be one of debug, info, warn, error, got "verbose"' },
    { name: 'enum is case-sensitive', layers: [layer({ 'log-level': 'INFO' })], message: '--log-level: must be one of debug, info, warn, error, got "INFO"' },
    { name: 'a URL where a host belongs', layers: [layer({ 'allow-host': ['https://cdn.example/'] })], message: '--allow-host: "https://cdn.example/" is not a host name (write files.example.org, or host:port)' },
    { name: 'userinfo in a host', layers: [env('allow-host', 'ok.example,user@cdn.example')], message: '--allow-host (from TUF_PROXY_ALLOW_HOST): "user@cdn.example" is not a host name (write files.example.org, or host:port)' },
    { name: 'a list of numbers', layers: [layer({ 'allow-host': [1, 2] }, 'tp.yaml')], message: '--allow-host (from tp.yaml): must be a list of strings' },
    { name: 'a mapping where a list belongs', layers: [layer({ 'allow-host': { a: 1 } }, 'tp.yaml')], message: '--allow-host (from tp.yaml): must be a list of strings' },
    { name: 'an option nobody declared', layers: [layer({ prot: '1' }, 'tp.yaml')], message: 'tp.yaml: unknown option "prot"' },
  ]
  for (const { name, layers, message } of cases) {
    test(name, () => rejects(layers, message))
  }
})

describe('upstream proxy: --upstream-proxy, else HTTPS_PROXY / HTTP_PROXY, and NO_PROXY (as curl, pip and uv read them)', () => {
  const proxyOf = (layers: RawLayer[], env: Record<string, string>) => parseSettings(layers, CACHE, env).proxy

  test('the variables, lower case winning over upper case; a value without a scheme is http://', () => {
    assert.deepEqual(proxyOf([], { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'lower:3128', HTTP_PROXY: 'http://plain:8080', NO_PROXY: '.corp,localhost' }), {
      https: 'http://lower:3128/',
      http: 'http://plain:8080/',
      noProxy: '.corp,localhost',
      source: 'https_proxy, HTTP_PROXY',
    })
  })

  test('--upstream-proxy replaces both variables; NO_PROXY still applies', () => {
    assert.deepEqual(proxyOf([layer({ 'upstream-proxy': 'http://u:p@proxy.corp:3128' })], { HTTPS_PROXY: 'http://other:1', no_proxy: 'files.corp' }), {
      https: 'http://u:p@proxy.corp:3128/',
      http: 'http://u:p@proxy.corp:3128/',
      noProxy: 'files.corp',
      source: '--upstream-proxy',
    })
  })

  test('a bad proxy is named with its source, the password masked', () => {
    assert.throws(() => proxyOf([], { HTTPS_PROXY: 'socks5://u:secret@proxy:1080' }), { message: 'HTTPS_PROXY: must be an http:// or https:// proxy URL, got "socks5://u:***@proxy:1080"' })
    rejects([layer({ 'upstream-proxy': 'http://u:secret@bad host' })], '--upstream-proxy: is not a URL: "http://u:***@bad host"')
  })
})

describe('workers', () => {
  test('a number of processes, or auto (resolved to the cores at start)', () => {
    assert.equal(flags({ workers: '4' }).workers, 4)
    assert.equal(flags({ workers: 'auto' }).workers, 'auto')
    assert.equal(parse(layer({ workers: 2 }, 'config.yaml')).workers, 2)
  })

  test('zero, a fraction or a word is refused with the option named', () => {
    rejects([layer({ workers: '0' })], '--workers: must be a number of processes from 1 to 256, or auto, got "0"')
    rejects([layer({ workers: '1.5' })], '--workers: must be a number of processes from 1 to 256, or auto, got "1.5"')
    rejects([layer({ workers: 'many' }, 'TUF_PROXY_WORKERS')], '--workers (from TUF_PROXY_WORKERS): must be a number of processes from 1 to 256, or auto, got "many"')
  })
})
