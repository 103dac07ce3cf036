/**
 * base/log.ts: JSON-line logger (level filtering, one object per line) and URL credential
 * masking (proxpi `_mask_password`): a secret in an upstream URL must never reach a log line.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createJsonLogger, maskUrl, type LogLevel } from '../../../src/base/index.js'

describe('maskUrl', () => {
  const rows: Array<[string, string, string]> = [
    ['user and password', 'https://alice:s3cret@pypi.example/simple/', 'https://alice:***@pypi.example/simple/'],
    ['a lone token', 'https://tok3n@pypi.example/simple/', 'https://***@pypi.example/simple/'],
    ['an empty password', 'https://alice:@h/', 'https://alice:***@h/'],
    ['no userinfo', 'https://pypi.org/simple/', 'https://pypi.org/simple/'],
    ['an @ in the path is not userinfo', 'https://h.example/~user/@scope/pkg', 'https://h.example/~user/@scope/pkg'],
    ['an @ in the query of a path-less URL is not userinfo', 'https://h.example?mail=a@b.example', 'https://h.example?mail=a@b.example'],
    ['an @ in the fragment of a path-less URL is not userinfo', 'https://h.example#a@b', 'https://h.example#a@b'],
    ['a raw @ inside the password is masked whole', 'https://alice:p@ss@h.example/simple/', 'https://alice:***@h.example/simple/'],
    ['the scheme is matched case-insensitively', 'HTTP://u:p@h/', 'HTTP://u:***@h/'],
    ['a port after the host is kept', 'http://u:p@127.0.0.1:3141/root/', 'http://u:***@127.0.0.1:3141/root/'],
    ['not a URL', 'just text with a:b@c', 'just text with a:b@c'],
    ['a password with a raw / that keeps the URL from parsing', 'http://alice:s3cr/et@proxy:3128', 'http://alice:***@proxy:3128'],
    ['a password with a raw ? or # that keeps the URL from parsing', 'http://alice:s3cr?et#x@proxy:3128/', 'http://alice:***@proxy:3128/'],
  ]
  for (const [name, input, want] of rows) {
    test(name, () => {
      assert.equal(maskUrl(input), want)
    })
  }

  test('no masked output still contains the secret', () => {
    for (const [, input] of rows) {
      if (/s3cr|tok3n|p@ss/.test(input)) {
        assert.ok(!/s3cr|tok3n|p@ss/.test(maskUrl(input)), input)
      }
    }
  })
})

describe('createJsonLogger', () => {
  function capture(level?: LogLevel) {
    const lines: string[] = []
    const logger = createJsonLogger({ write: (line) => lines.push(line), nowMs: () => Date.UTC(2024, 0, 2, 3, 4, 5, 6), ...(level ? { level } : {}) })
    return { lines, logger }
  }

  test('one JSON object per line: time, level, event, then the fields', () => {
    const { lines, logger } = capture()
    logger.info('listening', { port: 8080, host: '127.0.0.1' })
    assert.deepEqual(lines, ['{"time":"2024-01-02T03:04:05.006Z","level":"info","event":"listening","port":8080,"host":"127.0.0.1"}\n'])
  })

  test('a field with a newline stays on one line', () => {
    const { lines, logger } = capture()
    logger.warn('drop', { detail: 'a\nb' })
    assert.equal(lines.length, 1)
    assert.equal(lines[0]?.split('\n').length, 2, 'exactly one trailing newline')
    assert.equal((JSON.parse(lines[0] ?? '') as { detail: string }).detail, 'a\nb')
  })

  test('each field is written exactly as JSON.stringify writes it (the plain-text short cuts included)', () => {
    const values: Record<string, unknown> = {
      plain: '/simple/demo/',
      quote: 'a "quoted" name',
      backslash: 'C:\\path',
      control: 'tab\there\u0001',
      delete: 'del\u007f',
      unicode: 'naïve – ✓',
      loneSurrogate: 'x\ud800y',
      empty: '',
      integer: 200,
      fraction: 1.5,
      negativeZero: -0,
      huge: 1e21,
      notANumber: Number.NaN,
      infinite: Number.POSITIVE_INFINITY,
      yes: true,
      nothing: null,
      list: [1, 'two', { three: 3 }],
      object: { nested: 'va"lue' },
      'odd "key"\n': 'k',
    }
    const { lines, logger } = capture()
    logger.info('fields', values)
    const expected = Object.entries(values).map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`).join('')
    assert.equal(lines[0], `{"time":"2024-01-02T03:04:05.006Z","level":"info","event":"fields"${expected}}\n`)
  })

  test('a field never overwrites the header (time, level, event), and fields without a JSON form are left out', () => {
    const { lines, logger } = capture()
    logger.warn('drop', { time: 'forged', level: 'debug', event: 'other', reason: 'hash_mismatch', skipped: undefined, callback: () => 1 })
    logger.info('bare', {})
    logger.info('none')
    assert.deepEqual(lines, [
      '{"time":"2024-01-02T03:04:05.006Z","level":"warn","event":"drop","reason":"hash_mismatch"}\n',
      '{"time":"2024-01-02T03:04:05.006Z","level":"info","event":"bare"}\n',
      '{"time":"2024-01-02T03:04:05.006Z","level":"info","event":"none"}\n',
    ])
  })

  test('the time follows the clock from line to line', () => {
    let nowMs = Date.UTC(2024, 0, 2, 3, 4, 5, 6)
    const lines: string[] = []
    const logger = createJsonLogger({ write: (line) => lines.push(line), nowMs: () => nowMs })
    logger.info('a')
    logger.info('b')
    nowMs += 1
    logger.info('c')
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { time: string }).time),
      ['2024-01-02T03:04:05.006Z', '2024-01-02T03:04:05.006Z', '2024-01-02T03:04:05.007Z'],
    )
  })

  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error']
  const table: Array<[LogLevel | undefined, LogLevel[]]> = [
    [undefined, ['info', 'warn', 'error']],
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ]
  for (const [minimum, written] of table) {
    test(`level ${minimum ?? '(default info)'} writes ${written.join(', ')}`, () => {
      const { lines, logger } = capture(minimum)
      for (const level of levels) logger.log(level, `e_${level}`)
      logger.info('via_info')
      logger.warn('via_warn')
      logger.error('via_error')
      const events = lines.map((line) => (JSON.parse(line) as { level: string; event: string }))
      assert.deepEqual(events.filter((event) => event.event.startsWith('e_')).map((event) => event.level), written)
      const shortcuts = events.filter((event) => event.event.startsWith('via_')).map((event) => event.level)
      assert.deepEqual(shortcuts, (['info', 'warn', 'error'] as const).filter((level) => written.includes(level)))
    })
  }

  test('unfiltered events are written whatever the level; others still obey it', () => {
    const lines: string[] = []
    const logger = createJsonLogger({ write: (line) => lines.push(line), level: 'error', unfiltered: new Set(['listening']) })
    logger.info('listening', { port: 1 })
    logger.info('request')
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { event: string; level: string }).event), ['listening'])
    assert.equal((JSON.parse(lines[0] ?? '') as { level: string }).level, 'info')
  })
})
