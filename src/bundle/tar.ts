/**
 * POSIX ustar (IEEE Std 1003.1, pax "ustar Interchange Format"), the subset a bundle needs:
 * regular files only, written in one pass; and a reader that indexes a `.tar` by its headers
 * (checksums checked) and streams each member from its offset. Sizes past the 11 octal digits of
 * the format (8 GiB) use the base-256 encoding GNU tar and libarchive read.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { BundleSource } from './source.js'

const BLOCK = 512

function writeString(header: Buffer, offset: number, length: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.byteLength > length) throw new RangeError(`${JSON.stringify(text)} does not fit a ustar field of ${length} bytes`)
  bytes.copy(header, offset)
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8)
  if (digits.length <= length - 1) {
    writeString(header, offset, length, `${digits.padStart(length - 1, '0')}\0`)
    return
  }
  // Base-256: the first byte's high bit set, the number big-endian in the rest of the field.
  let rest = BigInt(value)
  for (let i = offset + length - 1; i > offset; i--) {
    header[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
  header[offset] = 0x80
}

function readNumber(header: Buffer, offset: number, length: number): number {
  if ((header[offset] ?? 0) & 0x80) {
    let value = 0n
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(header[i] ?? 0)
    return Number(value)
  }
  const text = header.toString('latin1', offset, offset + length).replace(/[\0 ]+$/, '').trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function readString(header: Buffer, offset: number, length: number): string {
  const end = header.indexOf(0, offset)
  return header.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end)
}

/** A ustar header for a regular file; a path over 100 bytes is split into prefix and name. */
export function ustarHeader(path: string, size: number, mtimeSeconds: number): Buffer {
  const header = Buffer.alloc(BLOCK)
  let name = path
  let prefix = ''
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf('/')
    prefix = path.slice(0, cut)
    name = path.slice(cut + 1)
  }
  writeString(header, 0, 100, name)
  writeOctal(header, 100, 8, 0o644)
  writeOctal(header, 108, 8, 0)
  writeOctal(header, 116, 8, 0)
  writeOctal(header, 124, 12, size)
  writeOctal(header, 136, 12, mtimeSeconds)
  header.write('        ', 148, 'latin1')
  header.write('0', 156, 'latin1')
  header.write('ustar\0', 257, 'latin1')
  header.write('00', 263, 'latin1')
  writeString(header, 345, 155, prefix)
  let sum = 0
  for (const byte of header) sum += byte
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return header
}

/**
 * Writes `members` (read from `readMember`) into the tar at `path`.
 * @param members relative paths and sizes, in the order to write them
 */
export async function writeTar(path: string, members: ReadonlyArray<{ path: string; size: number }>, readMember: (path: string) => AsyncIterable<Uint8Array>, mtimeSeconds: number): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx' })
  const write = (chunk: Uint8Array) => new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())))
  try {
    for (const member of members) {
      await write(ustarHeader(member.path, member.size, mtimeSeconds))
      let written = 0
      for await (const chunk of readMember(member.path)) {
        written += chunk.byteLength
        await write(chunk)
      }
      if (written !== member.size) throw new Error(`${member.path} changed size while it was written to the tar`)
      const padding = (BLOCK - (member.size % BLOCK)) % BLOCK
      if (padding > 0) await write(Buffer.alloc(padding))
    }
    // The end of the archive: two zero blocks.
    await write(Buffer.alloc(BLOCK * 2))
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
    const handle = await open(path, 'r+')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    out.destroy()
    throw error
  }
}

/**
 * A bundle read from a `.tar`. Members are indexed once from their headers; a header whose
 * checksum fails ends the archive with an error, and a member that is not a regular file is
 * listed as such (import refuses it).
 * @throws Error when the archive is malformed
 */
export async function tarSource(path: string): Promise<BundleSource> {
  const members = new Map<string, { offset: number; size: number; isRegular: boolean }>()
  const handle = await open(path, 'r')
  try {
    const { size: total } = await handle.stat()
    const header = Buffer.alloc(BLOCK)
    let offset = 0
    while (offset + BLOCK <= total) {
      await handle.read(header, 0, BLOCK, offset)
      if (header.every((byte) => byte === 0)) break
      let sum = 0
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0)
      if (sum !== readNumber(header, 148, 8)) throw new Error(`${path}: the tar header at byte ${offset} fails its checksum`)
      const prefix = header.toString('latin1', 257, 262) === 'ustar' ? readString(header, 345, 155) : ''
      const name = prefix ? `${prefix}/${readString(header, 0, 100)}` : readString(header, 0, 100)
      const size = readNumber(header, 124, 12)
      const type = String.fromCharCode(header[156] ?? 0)
      const dataOffset = offset + BLOCK
      if (dataOffset + size > total) throw new Error(`${path}: member ${name} runs past the end of the archive`)
      // Directory entries carry no content; everything else not a regular file is reported.
      const key = name.replace(/^\.\//, '')
      if (type !== '5') {
        if (members.has(key)) throw new Error(`${path}: member ${key} appears twice`)
        members.set(key, { offset: dataOffset, size, isRegular: type === '0' || type === '\0' })
      }
      offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK
    }
  } finally {
    await handle.close()
  }
  const regular = (member: string) => {
    const found = members.get(member)
    return found?.isRegular ? found : undefined
  }
  return {
    description: path,
    list: () => Promise.resolve([...members].map(([member, { isRegular }]) => ({ path: member, isRegular }))),
    readBytes: async (member) => {
      const found = regular(member)
      if (!found) return undefined
      const handle = await open(path, 'r')
      try {
        const bytes = Buffer.alloc(found.size)
        await handle.read(bytes, 0, found.size, found.offset)
        return bytes
      } finally {
        await handle.close()
      }
    },
    stream: (member) => {
      const found = regular(member)
      if (!found) throw new Error(`${member} is not a regular member of ${path}`)
      return found.size === 0 ? emptyStream() : createReadStream(path, { start: found.offset, end: found.offset + found.size - 1, highWaterMark: 1024 * 1024 })
    },
  }
}

async function* emptyStream(): AsyncIterable<Uint8Array> {}
