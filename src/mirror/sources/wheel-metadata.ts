/**
 * The core metadata of a wheel (PEP 658's `.metadata` file): a wheel is a zip, and its
 * `{name}-{version}.dist-info/METADATA` entry is found through the zip's central directory (APPNOTE
 * 4.3.16 end of central directory, 4.3.12 central directory header, 4.3.7 local file header) and
 * inflated with node:zlib. Only stored and deflated entries of a classic (non-ZIP64) archive are
 * read; anything else means "no metadata", and the page says so (`core-metadata: false`).
 */
import { inflateRawSync } from 'node:zlib'

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export type ReadAt = (position: number, length: number) => Promise<Uint8Array>

/** METADATA files are a few KiB; a larger one is refused rather than inflated without bound. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024
const EOCD_SIGNATURE = 0x06054b50
const CENTRAL_SIGNATURE = 0x02014b50
const LOCAL_SIGNATURE = 0x04034b50
/**
 * A wheel's central directory is tens of KiB (a few MiB for the largest on PyPI); a larger claim
 * is refused before anything is read, so a crafted archive cannot make the proxy allocate its size.
 */
const MAX_CENTRAL_DIRECTORY_BYTES = 16 * 1024 * 1024
/** The end record is 22 bytes plus a comment of at most 65535. */
const EOCD_SEARCH_BYTES = 22 + 0xffff

/**
 * @returns the METADATA bytes, or undefined when the wheel has none that can be read
 */
export async function readWheelMetadata(readAt: ReadAt, fileSize: number): Promise<Uint8Array | undefined> {
  const tailStart = Math.max(0, fileSize - EOCD_SEARCH_BYTES)
  const tail = Buffer.from(await readAt(tailStart, fileSize - tailStart))
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i
      break
    }
  }
  if (eocd < 0) return undefined
  const entries = tail.readUInt16LE(eocd + 10)
  const centralSize = tail.readUInt32LE(eocd + 12)
  const centralOffset = tail.readUInt32LE(eocd + 16)
  // 0xffff / 0xffffffff mean ZIP64 (APPNOTE 4.4.1.4): not read here.
  if (entries === 0xffff || centralOffset === 0xffffffff || centralOffset + centralSize > fileSize) return undefined
  if (centralSize > MAX_CENTRAL_DIRECTORY_BYTES) return undefined
  const central = Buffer.from(await readAt(centralOffset, centralSize))
  const found: Array<{ method: number; compressedSize: number; size: number; localOffset: number }> = []
  let at = 0
  for (let n = 0; n < entries && at + 46 <= central.length; n++) {
    if (central.readUInt32LE(at) !== CENTRAL_SIGNATURE) return undefined
    const method = central.readUInt16LE(at + 10)
    const compressedSize = central.readUInt32LE(at + 20)
    const size = central.readUInt32LE(at + 24)
    const nameLength = central.readUInt16LE(at + 28)
    const extraLength = central.readUInt16LE(at + 30)
    const commentLength = central.readUInt16LE(at + 32)
    const localOffset = central.readUInt32LE(at + 42)
    const name = central.toString('utf8', at + 46, at + 46 + nameLength)
    // The binary distribution format: exactly one top-level `.dist-info` directory holds METADATA.
    if (/^[^/]+\.dist-info\/METADATA$/.test(name)) found.push({ method, compressedSize, size, localOffset })
    at += 46 + nameLength + extraLength + commentLength
  }
  const entry = found.length === 1 ? found[0] : undefined
  if (!entry || entry.size > MAX_METADATA_BYTES || entry.compressedSize > MAX_METADATA_BYTES) return undefined
  const local = Buffer.from(await readAt(entry.localOffset, 30))
  if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_SIGNATURE) return undefined
  const dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
  const data = await readAt(dataStart, entry.compressedSize)
  if (data.byteLength !== entry.compressedSize) return undefined
  try {
    if (entry.method === 0) return data
    if (entry.method === 8) {
      const inflated = inflateRawSync(data, { maxOutputLength: MAX_METADATA_BYTES })
      return inflated.byteLength === entry.size ? inflated : undefined
    }
  } catch {
    return undefined
  }
  return undefined
}

/** Core metadata 2.1 §Requires-Python: the header's value, if present. */
export function requiresPythonOf(metadata: Uint8Array): string | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(metadata)
  // Headers end at the first blank line (RFC 822 style); the description body may follow.
  const headers = text.split(/\r?\n\r?\n/, 1)[0] ?? ''
  const match = /^Requires-Python:[ \t]*(.+?)[ \t]*$/im.exec(headers)
  return match?.[1]
}
