/**
 * http/error-response.ts: the one error → status map. Built from the real error classes of each
 * room, so a renamed code or a changed class hierarchy shows up here.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { IntegrityError, createJsonLogger } from '../../../src/base/index.js'
import { BadRequestError, errorResponse, statusFor } from '../../../src/http/error-response.js'
import { IndexFormatError } from '../../../src/index/index.js'
import { NotFoundError, UnavailableError } from '../../../src/mirror/index.js'
import { StaleUpstreamError } from '../../../src/policy/index.js'
import { CorruptBlobError, StoreError, StoreFullError } from '../../../src/store/index.js'
import {
  BadVersionError,
  EqualVersionError,
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  MalformedMetadataError,
  RepositoryError,
  TrustError,
  UnsignedMetadataError,
} from '../../../src/trust/index.js'
import {
  HostNotAllowedError,
  UpstreamHttpError,
  UpstreamOfflineError,
  UpstreamProtocolError,
  UpstreamSlowError,
  UpstreamTimeoutError,
  UpstreamTooLargeError,
} from '../../../src/upstream/index.js'

const URL_ = 'https://pypi.example/simple/x/'

const rows: Array<[string, unknown, number]> = [
  ['bad request (path attack)', new BadRequestError('.. in path'), 400],
  ['not found', new NotFoundError('no such project'), 404],
  ['unknown TUF target (mirror)', new NotFoundError('not a target', { code: 'unknown_target' }), 404],
  ['unavailable: miss while upstream down', new UnavailableError('down', { cause: new Error('refused') }), 503],
  ['integrity: hash mismatch', new IntegrityError('hash_mismatch', 'bad'), 502],
  ['integrity: length mismatch', new IntegrityError('length_mismatch', 'bad'), 502],
  ['integrity: no strong hash', new IntegrityError('no_strong_hash', 'none'), 502],
  ['upstream 404', new UpstreamHttpError(404, URL_), 404],
  ['upstream 500', new UpstreamHttpError(500, URL_), 502],
  ['upstream 403', new UpstreamHttpError(403, URL_), 502],
  ['upstream timeout', new UpstreamTimeoutError('slow'), 504],
  ['slow retrieval (deadline or rate floor)', new UpstreamSlowError('drip'), 504],
  ['upstream 410', new UpstreamHttpError(410, URL_), 404],
  ['unavailable: a timeout stays a timeout', new UnavailableError('slow', { cause: new UpstreamTimeoutError('slow') }), 504],
  ['upstream offline', new UpstreamOfflineError('refused', { cause: new Error('ECONNREFUSED') }), 503],
  ['upstream too large', new UpstreamTooLargeError(URL_, 10), 502],
  ['upstream protocol', new UpstreamProtocolError('truncated'), 502],
  ['host not allowed (SSRF)', new HostNotAllowedError('evil.example is not allowed'), 403],
  ['TUF bad signature', new UnsignedMetadataError('unsigned', 0), 502],
  ['TUF threshold not met', new UnsignedMetadataError('too few', 1), 502],
  ['TUF rollback', new BadVersionError('older'), 502],
  ['TUF equal version', new EqualVersionError('same'), 502],
  ['TUF expired', new ExpiredMetadataError('expired'), 502],
  ['TUF length or hash mismatch', new LengthOrHashMismatchError('mismatch'), 502],
  ['TUF malformed', new MalformedMetadataError('bad json'), 502],
  ['TUF mix and match', new TrustError('mix_and_match', 'mixed'), 502],
  ['TUF repository error', new RepositoryError('role vanished'), 502],
  ['TUF unknown target', new RepositoryError('no such target', 'unknown_target'), 404],
  ['serial regression', new StaleUpstreamError(10, 9), 502],
  ['malformed index page', new IndexFormatError('unclosed tag'), 502],
  ['store full', new StoreFullError('ENOSPC'), 507],
  ['store io', new StoreError('EIO'), 507],
  ['store corrupt', new CorruptBlobError('digest differs'), 507],
  ['a plain Error (our bug)', new Error('boom'), 500],
  ['a TypeError', new TypeError('x is undefined'), 500],
  ['a thrown string', 'boom', 500],
  ['undefined', undefined, 500],
]

describe('statusFor: one row per error family', () => {
  for (const [name, error, status] of rows) {
    test(`${name} → ${status}`, () => {
      assert.equal(statusFor(error), status)
    })
  }
})

describe('errorResponse', () => {
  test('a refusal answers JSON naming the code, the message, and the reason header; nothing is logged', async () => {
    const lines: string[] = []
    const logger = createJsonLogger({ write: (line) => lines.push(line) })
    const response = errorResponse(new IntegrityError('hash_mismatch', 'sha256 differs'), logger, '/files/x')
    assert.equal(response.status, 502)
    assert.equal(response.headers.get('content-type'), 'application/json')
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.equal(response.headers.get('x-tuf-proxy-reason'), 'hash_mismatch')
    assert.deepEqual(JSON.parse(await response.text()), { error: 'hash_mismatch', message: 'sha256 differs' })
    assert.deepEqual(lines, [])
  })

  test('an internal error hides its message from the client and logs the stack', async () => {
    const lines: string[] = []
    const logger = createJsonLogger({ write: (line) => lines.push(line) })
    const response = errorResponse(new Error('secret internal detail'), logger, '/simple/x/')
    assert.equal(response.status, 500)
    assert.equal(response.headers.get('x-tuf-proxy-reason'), 'internal')
    const text = await response.text()
    assert.deepEqual(JSON.parse(text), { error: 'internal', message: 'internal error; see the proxy log' })
    assert.ok(!text.includes('secret internal detail'))
    assert.equal(lines.length, 1)
    const logged = JSON.parse(lines[0] ?? '') as { event: string; path: string; detail: string }
    assert.equal(logged.event, 'internal_error')
    assert.equal(logged.path, '/simple/x/')
    assert.match(logged.detail, /secret internal detail/)
  })
})
