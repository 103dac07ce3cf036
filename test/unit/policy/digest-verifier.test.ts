/**
 * policy/digest-verifier.ts: streaming hash + length verification. The verdict must not depend
 * on how the body is chunked, an overlong body must be refused the moment it overflows (not after
 * it has all been buffered or hashed), and every digest the hash table can compute is checked.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'
import { IntegrityError } from '../../../src/base/index.js'
import { createDigestVerifier, decideFile, type DigestEvidence } from '../../../src/policy/index.js'

const body = new Uint8Array(randomBytes(1000))
const hex = (algorithm: string, bytes: Uint8Array = body) => createHash(algorithm).update(bytes).digest('hex')
const blake = (bytes: Uint8Array = body) => Buffer.from(blake2b(bytes, { dkLen: 32 })).toString('hex')

function oneByteChunks(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
}

/** Feeds `chunks` and finishes; returns the error code or 'ok'. */
function verdict(evidence: DigestEvidence, chunks: readonly Uint8Array[]): string {
  const verifier = createDigestVerifier(evidence)
  try {
    for (const chunk of chunks) verifier.update(chunk)
    verifier.finish()
    return 'ok'
  } catch (error) {
    if (error instanceof IntegrityError) return error.code
    throw error
  }
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[at] = (copy[at] ?? 0) ^ 0x01
  return copy
}

const ALGORITHMS: Array<[string, () => string]> = [
  ['sha256', () => hex('sha256')],
  ['sha384', () => hex('sha384')],
  ['sha512', () => hex('sha512')],
  ['blake2b_256', () => blake()],
]

describe('digest verifier: each allowlisted algorithm, any chunking', () => {
  for (const [algorithm, expected] of ALGORITHMS) {
    for (const [chunking, chunks] of [
      ['one chunk', [body]],
      ['1-byte chunks', oneByteChunks(body)],
      ['uneven chunks', [body.subarray(0, 7), body.subarray(7, 7), body.subarray(7, 513), body.subarray(513)]],
    ] as const) {
      test(`${algorithm}, ${chunking}: the right digest passes`, () => {
        assert.equal(verdict({ hashes: { [algorithm]: expected() }, expectedSize: body.byteLength }, chunks), 'ok')
      })
    }
    test(`${algorithm}: one flipped bit (first, middle or last byte) is a hash_mismatch`, () => {
      for (const at of [0, 500, 999]) {
        assert.equal(verdict({ hashes: { [algorithm]: expected() } }, oneByteChunks(flipped(body, at))), 'hash_mismatch', `byte ${at}`)
      }
    })
  }

  test('the expected digest is compared case-insensitively (upper-case hex in an index)', () => {
    assert.equal(verdict({ hashes: { sha256: hex('sha256').toUpperCase() } }, [body]), 'ok')
  })

  test('every listed SHA-2 digest is checked: one right and one wrong is refused', () => {
    assert.equal(verdict({ hashes: { sha256: hex('sha256'), sha512: hex('sha512', flipped(body, 3)) } }, [body]), 'hash_mismatch')
    assert.equal(verdict({ hashes: { sha256: hex('sha256', flipped(body, 3)), sha384: hex('sha384') } }, [body]), 'hash_mismatch')
  })

  test('BLAKE2b is skipped when a SHA-2 digest is present (a wrong blake2b_256 beside a right sha256 passes)', () => {
    assert.equal(verdict({ hashes: { sha256: hex('sha256'), blake2b_256: '00'.repeat(32) } }, [body]), 'ok')
    assert.equal(verdict({ hashes: { blake2b_256: '00'.repeat(32) } }, [body]), 'hash_mismatch', 'alone it is checked')
  })

  test('the mismatch message names the algorithm and both digests', () => {
    const wrong = '11'.repeat(32)
    const verifier = createDigestVerifier({ hashes: { sha256: wrong } })
    verifier.update(body)
    assert.throws(() => verifier.finish(), { name: 'IntegrityError', code: 'hash_mismatch', message: `sha256 is ${hex('sha256')}, expected ${wrong}` })
  })
})

describe('digest verifier: weak digests are checked; strength only decides --require-hashes', () => {
  for (const algorithm of ['md5', 'sha1', 'sha224']) {
    test(`${algorithm} only: the right digest passes, a tampered body is a hash_mismatch`, () => {
      assert.equal(verdict({ hashes: { [algorithm]: hex(algorithm) } }, oneByteChunks(body)), 'ok')
      assert.equal(verdict({ hashes: { [algorithm]: hex(algorithm) } }, [flipped(body, 999)]), 'hash_mismatch')
    })
  }

  test('md5 only is no strong hash for decideFile: allowed as weak evidence, refused under --require-hashes', () => {
    const evidence = { hashes: { md5: hex('md5') } }
    assert.equal(decideFile(evidence, { requireHashes: false }).kind, 'weak')
    assert.throws(() => decideFile(evidence, { requireHashes: true }), { name: 'IntegrityError', code: 'no_strong_hash' })
  })

  test('a weak digest beside a strong one is checked too; unknown names are not', () => {
    assert.equal(verdict({ hashes: { whirlpool: 'junk', sha1: hex('sha1'), sha256: hex('sha256') } }, [body]), 'ok')
    assert.equal(verdict({ hashes: { sha1: '00'.repeat(20), sha256: hex('sha256') } }, [body]), 'hash_mismatch')
    assert.equal(verdict({ hashes: { sha1: hex('sha1'), sha256: hex('sha256', flipped(body, 0)) } }, [body]), 'hash_mismatch')
  })

  test('the TUF spelling blake2b-256 is checked like blake2b_256', () => {
    assert.equal(verdict({ hashes: { 'blake2b-256': blake() } }, [body]), 'ok')
    assert.equal(verdict({ hashes: { 'blake2b-256': blake() } }, [flipped(body, 1)]), 'hash_mismatch')
  })
})

describe('digest verifier: length', () => {
  test('an empty body with expected size 0 and the empty digest passes', () => {
    const empty = new Uint8Array(0)
    assert.equal(verdict({ hashes: { sha256: hex('sha256', empty) }, expectedSize: 0 }, []), 'ok')
    assert.equal(verdict({ hashes: { sha256: hex('sha256', empty) } }, [empty]), 'ok')
  })

  test('an empty body where bytes were expected is a length_mismatch', () => {
    assert.equal(verdict({ hashes: {}, expectedSize: 1 }, []), 'length_mismatch')
  })

  test('one byte too many is refused in the update that crosses the limit, not at finish', () => {
    const verifier = createDigestVerifier({ hashes: { sha256: hex('sha256') }, expectedSize: body.byteLength })
    for (const chunk of oneByteChunks(body)) verifier.update(chunk)
    assert.equal(verifier.receivedBytes, body.byteLength)
    assert.throws(() => verifier.update(new Uint8Array([0])), {
      name: 'IntegrityError',
      code: 'length_mismatch',
      message: `received more than the expected ${body.byteLength} bytes`,
    })
  })

  test('a single oversized chunk is refused at once', () => {
    const verifier = createDigestVerifier({ hashes: {}, expectedSize: 10 })
    verifier.update(body.subarray(0, 4))
    assert.throws(() => verifier.update(body.subarray(0, 7)), { code: 'length_mismatch' })
  })

  test('a short body is refused at finish, even with no hash at all', () => {
    const verifier = createDigestVerifier({ hashes: {}, expectedSize: body.byteLength })
    verifier.update(body.subarray(0, 999))
    assert.throws(() => verifier.finish(), { code: 'length_mismatch', message: `received 999 bytes, expected ${body.byteLength}` })
  })

  test('a short body whose digest was computed over the short bytes is still refused for its length', () => {
    const short = body.subarray(0, 10)
    assert.equal(verdict({ hashes: { sha256: hex('sha256', short) }, expectedSize: 11 }, [short]), 'length_mismatch')
  })

  test('receivedBytes counts what was fed', () => {
    const verifier = createDigestVerifier({ hashes: {} })
    verifier.update(body.subarray(0, 3))
    verifier.update(body.subarray(0, 0))
    verifier.update(body.subarray(0, 5))
    assert.equal(verifier.receivedBytes, 8)
  })
})

describe('digest verifier: misuse is a programming error, not an IntegrityError', () => {
  test('update after finish, and finish twice, throw plain Errors', () => {
    const verifier = createDigestVerifier({ hashes: {} })
    verifier.finish()
    assert.throws(() => verifier.update(body), (error: unknown) => error instanceof Error && !(error instanceof IntegrityError))
    assert.throws(() => verifier.finish(), (error: unknown) => error instanceof Error && !(error instanceof IntegrityError))
  })
})
