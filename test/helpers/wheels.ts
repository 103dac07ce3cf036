/**
 * Builds tiny valid wheels and sdists in memory (no network, no zip library): pip only needs them
 * to be well-formed; the proxy treats distributions as opaque bytes.
 */
import { createHash } from 'node:crypto'
import { crc32, deflateRawSync } from 'node:zlib'

export interface ZipEntry {
  readonly name: string
  readonly data: Buffer
  /** store the entry deflated (method 8) instead of stored (method 0) */
  readonly deflate?: boolean
}

/** A zip archive, entries stored unless they ask to be deflated. */
export function zip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8')
    const crc = crc32(entry.data)
    const stored = entry.deflate ? deflateRawSync(entry.data) : entry.data
    const method = entry.deflate ? 8 : 0
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(method, 8)
    local.writeUInt32LE(0x00210000, 10) // 1980-01-01 00:00
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(stored.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    locals.push(local, name, stored)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt32LE(0x00210000, 12)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(stored.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)
    offset += local.length + name.length + stored.length
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}

function recordHash(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`
}

export interface Distribution {
  readonly filename: string
  readonly bytes: Buffer
  readonly metadata: Buffer
  readonly sha256: string
}

/** `<name>-<version>-py3-none-any.whl` with METADATA, WHEEL and RECORD. */
export function buildWheel(name: string, version: string, payload = '', options: { requiresPython?: string; deflate?: boolean } = {}): Distribution {
  const module = name.toLowerCase().replace(/[-.]/g, '_')
  const distInfo = `${module}-${version}.dist-info`
  const requiresPython = options.requiresPython ? `Requires-Python: ${options.requiresPython}\n` : ''
  const metadata = Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: test distribution\n${requiresPython}\n`)
  const files: ZipEntry[] = [
    { name: `${module}/__init__.py`, data: Buffer.from(`VERSION = ${JSON.stringify(version)}\n${payload}`), deflate: options.deflate ?? false },
    { name: `${distInfo}/METADATA`, data: metadata, deflate: options.deflate ?? false },
    { name: `${distInfo}/WHEEL`, data: Buffer.from('Wheel-Version: 1.0\nGenerator: tuf-proxy-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n') },
  ]
  const record = `${files.map((file) => `${file.name},${recordHash(file.data)},${file.data.length}`).join('\n')}\n${distInfo}/RECORD,,\n`
  files.push({ name: `${distInfo}/RECORD`, data: Buffer.from(record) })
  const bytes = zip(files)
  return { filename: `${module}-${version}-py3-none-any.whl`, bytes, metadata, sha256: createHash('sha256').update(bytes).digest('hex') }
}

/** A file of `size` pseudo-random bytes, fast to make at hundreds of megabytes. */
export function bulkBytes(size: number, seed = 1): Buffer {
  const block = createHash('sha512').update(String(seed)).digest()
  const unit = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < unit.length; i += block.length) block.copy(unit, i)
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i += unit.length) unit.copy(out, i, 0, Math.min(unit.length, size - i))
  return out
}
