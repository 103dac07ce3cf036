/**
 * The checks on one file entry that HTML and JSON pages share: the URL (absolute http(s) only),
 * the hashes (hex, of the length base/'s hash table gives when the algorithm is known, names
 * spelled as the table spells them), the filename (a plain name that matches the URL's last path
 * segment) and the api-version. It deliberately does not judge hosts: an off-host absolute link
 * is kept as is, and the caller's host allowlist decides.
 */
import { findHashAlgorithm } from '../base/index.js'
import { IndexFormatError } from './errors.js'

const HASH_NAME = /^[a-z0-9_]{1,32}$/
const HEX = /^[0-9a-f]+$/
// C0 controls, DEL, and both slashes: a filename that is not one plain path segment.
const UNSAFE_FILENAME = /[\u0000-\u001f\u007f/\\]/
const API_VERSION = /^(\d+)\.(\d+)$/

/** Shortens untrusted text for an error message (a hostile value may be megabytes). */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
}

/**
 * PEP 503 / 691: resolves a link against the page and refuses any scheme but http(s)
 * (javascript:, data:, file:, ftp:) — after entity decoding and WHATWG URL parsing, so
 * `&#x6a;avascript:` and `java\tscript:` cannot slip through.
 * @throws {IndexFormatError} on an unparsable URL or a refused scheme
 */
export function resolveHttpUrl(href: string, baseUrl: string, where: string): URL {
  let url: URL
  try {
    url = new URL(href, baseUrl)
  } catch (error) {
    throw new IndexFormatError(`${where}: link ${quote(href)} is not a valid URL`, { cause: error })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new IndexFormatError(`${where}: link ${quote(href)} uses the ${quote(url.protocol)} scheme; only http and https are allowed`)
  }
  return url
}

/**
 * Checks algorithm names and hex digests and lower-cases them (PEP 691: values are hex). A known
 * algorithm takes the hash table's name (`blake2b-256` becomes `blake2b_256`); an unknown one
 * is kept as written, lower-cased, for clients that know it.
 * @throws {IndexFormatError} on a bad name, non-hex value, wrong length or conflicting duplicate
 */
export function checkHashes(entries: Iterable<readonly [string, unknown]>, where: string): Readonly<Record<string, string>> {
  const hashes = new Map<string, string>()
  for (const [rawName, rawValue] of entries) {
    const algorithm = findHashAlgorithm(rawName)
    const name = algorithm?.name ?? rawName.toLowerCase()
    if (!HASH_NAME.test(name)) throw new IndexFormatError(`${where}: hash name ${quote(rawName)} is not a hash algorithm name`)
    if (typeof rawValue !== 'string') throw new IndexFormatError(`${where}: hash ${quote(name)} must be a string of hex digits`)
    const value = rawValue.toLowerCase()
    const expectedLength = algorithm?.hexLength
    if (!HEX.test(value) || (expectedLength !== undefined && value.length !== expectedLength)) {
      throw new IndexFormatError(`${where}: hash ${quote(name)} value ${quote(rawValue)} is not ${expectedLength ?? 'some'} hex digits`)
    }
    const previous = hashes.get(name)
    if (previous !== undefined && previous !== value) throw new IndexFormatError(`${where}: hash ${quote(name)} is listed twice with different values`)
    hashes.set(name, value)
  }
  // fromEntries defines own properties, so a `__proto__` key cannot reach the prototype.
  return Object.freeze(Object.fromEntries(hashes))
}

/**
 * PEP 503: the hash travels in the fragment as `#<name>=<hex>`. Other fragment parts pip knows
 * (`egg=`, `subdirectory=`) and anything unrecognised carry no hash and are ignored.
 * @throws {IndexFormatError} when a part names a known algorithm but its value is malformed
 */
export function fragmentHashes(fragment: string, where: string): Readonly<Record<string, string>> {
  const entries: Array<[string, string]> = []
  for (const part of fragment.replace(/^#/, '').split('&')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const name = part.slice(0, eq)
    if (findHashAlgorithm(name) !== undefined) entries.push([name, part.slice(eq + 1)])
  }
  return checkHashes(entries, where)
}

/**
 * PEP 503: the link text is the filename and MUST match the URL's final path component. The
 * caller maps files to proxy paths by filename while pip reads the name from the URL, so a
 * mismatch would let a page advertise one file and deliver another; refuse it. An empty text
 * takes the URL's name.
 * @throws {IndexFormatError} when the name is not one safe path segment or differs from the URL's
 */
export function checkFilename(text: string, url: URL, where: string): string {
  const lastSegment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1)
  let fromUrl: string
  try {
    fromUrl = decodeURIComponent(lastSegment)
  } catch (error) {
    throw new IndexFormatError(`${where}: URL path segment ${quote(lastSegment)} is not valid percent-encoding`, { cause: error })
  }
  const filename = text === '' ? fromUrl : text
  if (filename === '' || filename === '.' || filename === '..' || UNSAFE_FILENAME.test(filename)) {
    throw new IndexFormatError(`${where}: filename ${quote(filename)} is not a plain file name`)
  }
  if (filename !== fromUrl) {
    throw new IndexFormatError(`${where}: filename ${quote(filename)} does not match the URL's file name ${quote(fromUrl)} (PEP 503)`)
  }
  return filename
}

/**
 * PEP 629 / 691: a 1.x api-version; a client MUST refuse a major version it does not know.
 * @throws {IndexFormatError} on anything but `1.<minor>`
 */
export function checkApiVersion(value: string, where: string): string {
  const match = API_VERSION.exec(value)
  if (match === null) throw new IndexFormatError(`${where}: api-version ${quote(value)} is not "<major>.<minor>"`)
  if (match[1] !== '1') throw new IndexFormatError(`${where}: api-version ${quote(value)} has a major version this proxy does not understand (only 1.x)`)
  return value
}
