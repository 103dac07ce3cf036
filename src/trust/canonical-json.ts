/**
 * OLPC canonical JSON exactly as securesystemslib's `encode_canonical` writes it: object keys
 * sorted by Unicode code point (Python's `sorted` on `str`), no whitespace, strings escaping
 * only `"` and `\`, integers only, UTF-8 output. Signatures in TUF are made over these bytes of
 * the `signed` object, so this must match byte for byte.
 *
 * It does not parse; decoding untrusted JSON lives in models/envelope.ts.
 */
import { MalformedMetadataError } from './errors.js'

const NEEDS_ESCAPE = /["\\]/
const ESCAPE_ALL = /["\\]/g
/** A surrogate or a character above it: only then do UTF-16 and code-point orders differ. */
const HIGH_RANGE = /[\uD800-\uFFFF]/

function encodeString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPE_ALL, '\\$&')}"` : `"${value}"`
}

function compareCodePoints(a: string, b: string): number {
  const left = [...a]
  const right = [...b]
  const length = Math.min(left.length, right.length)
  for (let i = 0; i < length; i++) {
    const diff = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0)
    if (diff !== 0) return diff
  }
  return left.length - right.length
}

function sortedKeys(object: Readonly<Record<string, unknown>>): string[] {
  const keys = Object.keys(object)
  // JS sorts by UTF-16 code unit; Python by code point. They disagree only when an astral
  // character (surrogate pair) meets one in U+E000..U+FFFF, so take the slow path only then.
  if (keys.some((key) => HIGH_RANGE.test(key))) return keys.sort(compareCodePoints)
  return keys.sort()
}

function encodeInto(value: unknown, out: string[]): void {
  if (typeof value === 'string') {
    out.push(encodeString(value))
  } else if (typeof value === 'number') {
    // securesystemslib refuses floats; JSON.parse cannot tell 1.0 from 1, which is harmless
    // because a signer can only ever have signed the integer form.
    if (!Number.isSafeInteger(value)) throw new MalformedMetadataError(`canonical JSON allows only integers, got ${value}`)
    out.push(String(value))
  } else if (value === true) {
    out.push('true')
  } else if (value === false) {
    out.push('false')
  } else if (value === null) {
    out.push('null')
  } else if (Array.isArray(value)) {
    out.push('[')
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',')
      encodeInto(value[i], out)
    }
    out.push(']')
  } else if (typeof value === 'object') {
    const object = value as Readonly<Record<string, unknown>>
    out.push('{')
    let first = true
    for (const key of sortedKeys(object)) {
      if (!first) out.push(',')
      first = false
      out.push(encodeString(key), ':')
      encodeInto(object[key], out)
    }
    out.push('}')
  } else {
    throw new MalformedMetadataError(`canonical JSON cannot encode a ${typeof value}`)
  }
}

/**
 * Canonical JSON text of a JSON value (as produced by JSON.parse).
 * @throws {MalformedMetadataError} on floats, unsafe integers or non-JSON values
 */
export function canonicalJsonString(value: unknown): string {
  const out: string[] = []
  encodeInto(value, out)
  return out.join('')
}

/**
 * Canonical JSON bytes (UTF-8) of a JSON value: what TUF signatures are made over.
 * @throws {MalformedMetadataError} on floats, unsafe integers or non-JSON values
 */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalJsonString(value), 'utf8')
}
