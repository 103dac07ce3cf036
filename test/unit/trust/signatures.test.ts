import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyCache, decodeEnvelope, isValidSignature, verifyThreshold, UnsignedMetadataError, type Key } from '../../../src/trust/index.js'
import { generateKey, signData, type KeyKind, type SimKey } from '../../helpers/sim-keys.js'

function asKey(sim: SimKey, overrides: Partial<Key> = {}): Key {
  return { keyid: sim.keyid, keytype: sim.publicKey.keytype, scheme: sim.publicKey.scheme, publicValue: sim.publicKey.keyval.public, unrecognized: {}, ...overrides }
}

function tamperHex(hex: string): string {
  const last = hex.at(-1) === '0' ? '1' : '0'
  return hex.slice(0, -1) + last
}

const data = Buffer.from('{"_type":"timestamp"}')

describe('signature schemes (TUF 4.2 keys, securesystemslib SSlibKey)', () => {
  const kinds: KeyKind[] = ['ed25519', 'ecdsa', 'rsa']
  for (const kind of kinds) {
    const key = generateKey(kind)
    const other = generateKey(kind)
    const sig = signData(key, data)
    test(`${kind}: a valid signature verifies`, () => assert.equal(isValidSignature(asKey(key), sig, data, new KeyCache()), true))
    test(`${kind}: the wrong key does not verify`, () => assert.equal(isValidSignature(asKey(other), sig, data, new KeyCache()), false))
    test(`${kind}: a tampered signature does not verify`, () => assert.equal(isValidSignature(asKey(key), tamperHex(sig), data, new KeyCache()), false))
    test(`${kind}: tampered data does not verify`, () => assert.equal(isValidSignature(asKey(key), sig, Buffer.from('{"_type":"snapshot"}'), new KeyCache()), false))
  }

  test('ecdsa keys may use keytype "ecdsa-sha2-nistp256" as securesystemslib allows', () => {
    const key = generateKey('ecdsa')
    assert.equal(isValidSignature(asKey(key, { keytype: 'ecdsa-sha2-nistp256' }), signData(key, data), data, new KeyCache()), true)
  })

  test('an ecdsa scheme on an rsa key is refused, not crashed on', () => {
    const key = generateKey('rsa')
    assert.equal(isValidSignature(asKey(key, { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256' }), signData(key, data), data, new KeyCache()), false)
  })

  test('unknown keytype or scheme never verifies (kept, not fatal)', () => {
    const key = generateKey('ed25519')
    assert.equal(isValidSignature(asKey(key, { scheme: 'ed448' }), signData(key, data), data, new KeyCache()), false)
  })

  test('empty, odd-length and non-hex signatures simply fail', () => {
    const key = asKey(generateKey('ed25519'))
    for (const sig of ['', 'abc', 'zz'.repeat(64)]) assert.equal(isValidSignature(key, sig, data, new KeyCache()), false)
  })

  test('rsassa-pss verifies any salt length (securesystemslib PSS.AUTO)', async () => {
    const { constants, sign } = await import('node:crypto')
    const key = generateKey('rsa')
    const maxSalt = sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN }).toString('hex')
    assert.equal(isValidSignature(asKey(key), maxSalt, data, new KeyCache()), true)
  })
})

describe('threshold counting (TUF 5.3.4 / 5.4.2 / 5.5.3 / 5.6.3)', () => {
  function envelopeSignedBy(signed: object, keys: SimKey[], extra: Array<{ keyid: string; sig: string }> = []): ReturnType<typeof decodeEnvelope> {
    const probe = decodeEnvelope(Buffer.from(JSON.stringify({ signed, signatures: [] })))
    const signatures = [...keys.map((key) => ({ keyid: key.keyid, sig: signData(key, probe.signedBytes()) })), ...extra]
    return decodeEnvelope(Buffer.from(JSON.stringify({ signed, signatures })))
  }
  const a = generateKey()
  const b = generateKey()
  const keys = new Map([a, b].map((key) => [key.keyid, asKey(key)]))
  const roleKeys = { keyids: [a.keyid, b.keyid], threshold: 2 }

  test('two of two distinct keys meet threshold 2', () => {
    verifyThreshold({ roleName: 'snapshot', roleKeys, keys, envelope: envelopeSignedBy({ x: 1 }, [a, b]), cache: new KeyCache() })
  })

  test('one of two is "threshold_not_met"', () => {
    assert.throws(
      () => verifyThreshold({ roleName: 'snapshot', roleKeys, keys, envelope: envelopeSignedBy({ x: 1 }, [a]), cache: new KeyCache() }),
      (error: unknown) => error instanceof UnsignedMetadataError && error.code === 'threshold_not_met',
    )
  })

  test('no valid signature at all is "bad_signature"', () => {
    assert.throws(
      () => verifyThreshold({ roleName: 'snapshot', roleKeys, keys, envelope: envelopeSignedBy({ x: 1 }, [], [{ keyid: a.keyid, sig: 'ab'.repeat(64) }]), cache: new KeyCache() }),
      (error: unknown) => error instanceof UnsignedMetadataError && error.code === 'bad_signature',
    )
  })

  test('signatures by keys the role does not list do not count', () => {
    const stranger = generateKey()
    assert.throws(() => verifyThreshold({ roleName: 'snapshot', roleKeys, keys, envelope: envelopeSignedBy({ x: 1 }, [a, stranger]), cache: new KeyCache() }), UnsignedMetadataError)
  })

  test('one key listed under two keyids counts once (key compromise cannot double-count)', () => {
    const alias = { ...asKey(a), keyid: 'alias' }
    const aliasKeys = new Map([[a.keyid, asKey(a)], ['alias', alias]])
    const probe = envelopeSignedBy({ x: 1 }, [a])
    const sig = probe.signatures.get(a.keyid)?.sig ?? ''
    const envelope = envelopeSignedBy({ x: 1 }, [a], [{ keyid: 'alias', sig }])
    assert.throws(() => verifyThreshold({ roleName: 'snapshot', roleKeys: { keyids: [a.keyid, 'alias'], threshold: 2 }, keys: aliasKeys, envelope, cache: new KeyCache() }), UnsignedMetadataError)
  })

  test('the same keyid twice in signatures is malformed metadata (TUF 4.2: keyid MUST be unique)', () => {
    const sig = { keyid: a.keyid, sig: 'ab' }
    assert.throws(() => decodeEnvelope(Buffer.from(JSON.stringify({ signed: {}, signatures: [sig, sig] }))), (error: unknown) => error instanceof Error && 'code' in error && error.code === 'malformed')
  })
})
