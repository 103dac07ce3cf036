/**
 * The outer TUF metadata envelope (TUF 4.2): `{ "signed": {...}, "signatures": [...] }`,
 * decoded from raw bytes. It keeps the parsed `signed` value so signatures are verified over
 * its canonical JSON, and it refuses duplicate signature keyids (TUF 4.2: keyid MUST be unique
 * in "signatures"; tuf-conformance test_duplicate_sig_keyids).
 */
import { canonicalJsonBytes } from '../canonical-json.js'
import { MalformedMetadataError } from '../errors.js'
import { expectObject, expectString, isObject, type JsonObject } from './guards.js'

export interface Signature {
  readonly keyid: string
  /** Hex-encoded signature bytes as served (may be empty or garbage: it then just fails). */
  readonly sig: string
}

export interface Envelope {
  readonly signed: JsonObject
  /** keyid → signature; insertion order as served. */
  readonly signatures: ReadonlyMap<string, Signature>
  /** Canonical JSON of `signed`: the bytes every signature covers. Computed once, lazily. */
  signedBytes(): Uint8Array
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Parses metadata bytes into an envelope.
 * @throws {MalformedMetadataError} not UTF-8, not JSON, wrong shape, duplicate signature keyids
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch (error) {
    throw new MalformedMetadataError('metadata is not valid UTF-8 JSON', { cause: error })
  }
  const root = expectObject(parsed, 'metadata')
  const signed = expectObject(root['signed'], 'metadata.signed')
  const rawSignatures = root['signatures']
  if (!Array.isArray(rawSignatures)) throw new MalformedMetadataError('metadata.signatures must be an array')
  const signatures = new Map<string, Signature>()
  for (const item of rawSignatures as readonly unknown[]) {
    if (!isObject(item)) throw new MalformedMetadataError('metadata.signatures[] must be objects')
    const keyid = expectString(item['keyid'], 'signature.keyid')
    const sig = expectString(item['sig'], 'signature.sig')
    if (signatures.has(keyid)) throw new MalformedMetadataError(`multiple signatures for keyid ${keyid}`)
    signatures.set(keyid, { keyid, sig })
  }
  let cached: Uint8Array | undefined
  return {
    signed,
    signatures,
    signedBytes: () => (cached ??= canonicalJsonBytes(signed)),
  }
}
