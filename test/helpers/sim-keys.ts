/**
 * Signing keys for the repository simulator: generation with node:crypto (Ed25519 by default,
 * ECDSA P-256 and RSA-PSS on request), securesystemslib-style public key dicts and default
 * keyids, and signing over canonical JSON bytes. The canonical encoder here is the engine's,
 * but keyids and signatures are computed independently of the verifier.
 */
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { canonicalJsonBytes } from '../../src/trust/index.js'

export type KeyKind = 'ed25519' | 'ecdsa' | 'rsa'

export interface PublicKeyDict {
  keytype: string
  scheme: string
  keyval: { public: string }
  [field: string]: unknown
}

export interface SimKey {
  readonly keyid: string
  readonly kind: KeyKind
  readonly publicKey: PublicKeyDict
  readonly privateKey: KeyObject
}

/** A fresh key pair; the keyid is SHA-256 of the canonical public key dict (python-tuf default). */
export function generateKey(kind: KeyKind = 'ed25519'): SimKey {
  let publicKey: PublicKeyDict
  let privateKey: KeyObject
  if (kind === 'ed25519') {
    const pair = generateKeyPairSync('ed25519')
    privateKey = pair.privateKey
    const raw = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
    publicKey = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } }
  } else if (kind === 'ecdsa') {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    privateKey = pair.privateKey
    publicKey = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString() } }
  } else {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    privateKey = pair.privateKey
    publicKey = { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString() } }
  }
  const keyid = createHash('sha256').update(canonicalJsonBytes(publicKey)).digest('hex')
  return { keyid, kind, publicKey, privateKey }
}

/** Hex signature by `key` over `data`, in the scheme its public dict names. */
export function signData(key: SimKey, data: Uint8Array): string {
  if (key.kind === 'ed25519') return sign(null, data, key.privateKey).toString('hex')
  if (key.kind === 'ecdsa') return sign('sha256', data, key.privateKey).toString('hex')
  // securesystemslib's CryptoSigner signs PSS with salt length = digest length
  return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }).toString('hex')
}
