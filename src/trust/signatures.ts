/**
 * Signature verification and threshold counting (TUF 5.3.4, 5.4.2, 5.5.3, 5.6.3): which listed
 * keys produced a valid signature over the canonical `signed` bytes, and whether that reaches
 * the delegator's threshold. Key types and schemes follow securesystemslib's SSlibKey table
 * (ed25519; ecdsa P-256/P-384/P-521; RSA PSS with MGF1 and an auto-detected salt length, and
 * PKCS#1 v1.5). A signature that is malformed, made by an unknown or unusable key, or simply
 * wrong does not count; it is not an error by itself (tuf-conformance
 * test_invalid_sig_in_valid_metadata).
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { UnsignedMetadataError } from './errors.js'
import type { Envelope } from './models/envelope.js'
import type { Key, RoleKeys } from './models/keys.js'

interface Scheme {
  readonly keyType: 'ed25519' | 'ec' | 'rsa'
  readonly hash: string | null
  readonly curve?: string
  readonly padding?: number
}

const ECDSA: Readonly<Record<string, { curve: string; hash: string }>> = {
  'ecdsa-sha2-nistp256': { curve: 'prime256v1', hash: 'sha256' },
  'ecdsa-sha2-nistp384': { curve: 'secp384r1', hash: 'sha384' },
  'ecdsa-sha2-nistp521': { curve: 'secp521r1', hash: 'sha512' },
}

function schemeFor(key: Key): Scheme | undefined {
  if (key.keytype === 'ed25519' && key.scheme === 'ed25519') return { keyType: 'ed25519', hash: null }
  const ec = ECDSA[key.scheme]
  // securesystemslib accepts keytype "ecdsa" or the scheme name itself for ECDSA keys
  if (ec && (key.keytype === 'ecdsa' || key.keytype === key.scheme)) return { keyType: 'ec', hash: ec.hash, curve: ec.curve }
  const rsa = /^(rsassa-pss|rsa-pkcs1v15)-(sha224|sha256|sha384|sha512)$/.exec(key.scheme)
  if (key.keytype === 'rsa' && rsa?.[1] && rsa[2]) {
    return { keyType: 'rsa', hash: rsa[2], padding: rsa[1] === 'rsassa-pss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING }
  }
  return undefined
}

// SubjectPublicKeyInfo header for a raw 32-byte Ed25519 key (RFC 8410)
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const HEX = /^(?:[0-9a-fA-F]{2})*$/

function parsePublicKey(key: Key, scheme: Scheme): KeyObject | null {
  try {
    if (scheme.keyType === 'ed25519') {
      if (!HEX.test(key.publicValue) || key.publicValue.length !== 64) return null
      return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(key.publicValue, 'hex')]), format: 'der', type: 'spki' })
    }
    const object = createPublicKey({ key: key.publicValue, format: 'pem' })
    if (object.asymmetricKeyType !== scheme.keyType) return null
    if (scheme.curve && object.asymmetricKeyDetails?.namedCurve !== scheme.curve) return null
    return object
  } catch {
    // An unparsable public key is a key that can never sign: it just fails to count.
    return null
  }
}

/**
 * Parsed public keys, by key material: parsing PEM is far slower than verifying, and the same
 * few keys sign thousands of hash bins. Share one cache across trusted sets.
 */
export class KeyCache {
  readonly #keys = new Map<string, KeyObject | null>()

  get(key: Key, scheme: Scheme): KeyObject | null {
    const id = `${key.keytype}\0${key.scheme}\0${key.publicValue}`
    let object = this.#keys.get(id)
    if (object === undefined) {
      object = parsePublicKey(key, scheme)
      this.#keys.set(id, object)
    }
    return object
  }
}

/** Whether `sigHex` is a valid signature by `key` over `data`; never throws. */
export function isValidSignature(key: Key, sigHex: string, data: Uint8Array, cache: KeyCache): boolean {
  const scheme = schemeFor(key)
  if (!scheme || !HEX.test(sigHex) || sigHex.length === 0) return false
  const publicKey = cache.get(key, scheme)
  if (!publicKey) return false
  const signature = Buffer.from(sigHex, 'hex')
  try {
    if (scheme.padding === constants.RSA_PKCS1_PSS_PADDING) {
      return verify(scheme.hash, data, { key: publicKey, padding: scheme.padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature)
    }
    if (scheme.padding !== undefined) return verify(scheme.hash, data, { key: publicKey, padding: scheme.padding }, signature)
    return verify(scheme.hash, data, publicKey, signature)
  } catch {
    // OpenSSL throws on some malformed signatures (bad DER) instead of returning false.
    return false
  }
}

/**
 * Counts valid signatures by the keys `roleKeys` lists and checks the threshold.
 * Each distinct key counts once: keyids are unique per role (checked at decode), and two
 * keyids carrying the same key material count as one key, so a threshold cannot be met by
 * listing one key twice under different ids.
 * @throws {UnsignedMetadataError} fewer than `threshold` distinct keys signed
 */
export function verifyThreshold(options: {
  readonly roleName: string
  readonly roleKeys: RoleKeys
  readonly keys: ReadonlyMap<string, Key>
  readonly envelope: Envelope
  readonly cache: KeyCache
}): void {
  const { roleName, roleKeys, keys, envelope, cache } = options
  const signers = new Set<string>()
  for (const keyid of roleKeys.keyids) {
    const key = keys.get(keyid)
    const signature = envelope.signatures.get(keyid)
    if (!key || !signature) continue
    const material = `${key.keytype}\0${key.publicValue}`
    if (signers.has(material)) continue
    if (isValidSignature(key, signature.sig, envelope.signedBytes(), cache)) signers.add(material)
  }
  if (signers.size < roleKeys.threshold) {
    throw new UnsignedMetadataError(`${roleName} is signed by ${signers.size} of the ${roleKeys.threshold} required keys`, signers.size)
  }
}
