/**
 * mirror/drops.ts decides from an error's fault alone whether it is a drop: refused upstream data
 * and slow retrieval are; outages, error statuses, misses, policy refusals and our bugs are not.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { IntegrityError, Metrics, silentLogger } from '../../../src/base/index.js'
import { IndexFormatError } from '../../../src/index/index.js'
import { DropLog, NotFoundError, UnavailableError } from '../../../src/mirror/index.js'
import { StoreFullError } from '../../../src/store/index.js'
import { TrustError } from '../../../src/trust/index.js'
import {
  HostNotAllowedError,
  UpstreamHttpError,
  UpstreamOfflineError,
  UpstreamProtocolError,
  UpstreamSlowError,
  UpstreamTooLargeError,
} from '../../../src/upstream/index.js'

const rows: Array<[string, unknown, boolean]> = [
  ['hash mismatch', new IntegrityError('hash_mismatch', 'x'), true],
  ['malformed page', new IndexFormatError('x'), true],
  ['TUF bad signature', new TrustError('bad_signature', 'x'), true],
  ['over-long body', new UpstreamTooLargeError('u', 1), true],
  ['truncated body', new UpstreamProtocolError('x'), true],
  ['slow drip', new UpstreamSlowError('x'), true],
  ['upstream 500', new UpstreamHttpError(500, 'u'), false],
  ['upstream 404', new UpstreamHttpError(404, 'u'), false],
  ['refused connection', new UpstreamOfflineError('x'), false],
  ['miss while down', new UnavailableError('x', { cause: new UpstreamOfflineError('x') }), false],
  ['unknown TUF target', new TrustError('unknown_target', 'x'), false],
  ['not found', new NotFoundError('x'), false],
  ['host not allowed', new HostNotAllowedError('x'), false],
  ['disk full', new StoreFullError('x'), false],
  ['our bug', new TypeError('x'), false],
]

describe('DropLog.recordRefusal: the fault decides', () => {
  for (const [name, error, isDrop] of rows) {
    test(`${name}: ${isDrop ? 'a drop' : 'not a drop'}`, async () => {
      const metrics = new Metrics()
      const drops = new DropLog({ logger: silentLogger, metrics, nowMs: () => 0 })
      assert.equal(drops.recordRefusal(error, { what: 'file', url: 'https://files.example/x.whl' }), isDrop)
      assert.equal(drops.recent().length, isDrop ? 1 : 0)
      if (isDrop) assert.match(await metrics.render(), /tuf_proxy_drops_total\{reason="[a-z_]+"\} 1/)
    })
  }
})

describe('DropLog.byReason: counts per reason with the latest example', () => {
  test('aggregates by reason, most frequent first, and keeps counting past the short ring', () => {
    let nowMs = 1_000
    const log = new DropLog({ logger: silentLogger, metrics: new Metrics(), nowMs: () => nowMs }, 3)
    for (let i = 0; i < 5; i++) {
      nowMs += 1
      log.record({ reason: 'hash_mismatch', what: 'file', url: `https://user:secret@files.example/f${i}.whl`, detail: `drop ${i}` })
    }
    nowMs += 1
    log.record({ reason: 'bad_signature', what: 'metadata', url: 'refresh', detail: 'once' })
    assert.equal(log.recent().length, 3, 'the ring is short')
    const summary = log.byReason()
    assert.deepEqual(summary.map((entry) => [entry.reason, entry.count]), [['hash_mismatch', 5], ['bad_signature', 1]])
    assert.equal(summary[0]?.latest.detail, 'drop 4', 'the latest example of its reason')
    assert.equal(summary[0]?.latest.url, 'https://user:***@files.example/f4.whl', 'credentials are masked in the example')
    assert.equal(summary[0]?.latest.atMs, 1_005)
  })
})

