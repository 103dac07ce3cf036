/**
 * PEP 658 metadata from a wheel in a local folder: the METADATA entry found through the zip's
 * central directory, stored or deflated; anything unreadable is "no metadata", never a guess.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readWheelMetadata, requiresPythonOf } from '../../../src/mirror/sources/wheel-metadata.js'
import { buildWheel, zip } from '../../helpers/wheels.js'

function reader(bytes: Uint8Array) {
  return async (position: number, length: number) => bytes.subarray(position, position + length)
}

test('the METADATA of a wheel, stored or deflated, is the bytes the wheel holds', async () => {
  for (const deflate of [false, true]) {
    const wheel = buildWheel('acme-utils', '1.0', '', { requiresPython: '>=3.8', deflate })
    const metadata = await readWheelMetadata(reader(wheel.bytes), wheel.bytes.byteLength)
    assert.ok(metadata, `deflate ${deflate}`)
    assert.deepEqual(Buffer.from(metadata), wheel.metadata)
    assert.equal(requiresPythonOf(metadata), '>=3.8')
  }
})

test('no METADATA, two of them, or no zip at all: undefined', async () => {
  const none = zip([{ name: 'pkg/__init__.py', data: Buffer.from('') }])
  const two = zip([
    { name: 'a-1.dist-info/METADATA', data: Buffer.from('Name: a\n') },
    { name: 'b-1.dist-info/METADATA', data: Buffer.from('Name: b\n') },
  ])
  const nested = zip([{ name: 'x/a-1.dist-info/METADATA', data: Buffer.from('Name: a\n') }])
  const garbage = Buffer.from('not a zip at all')
  for (const bytes of [none, two, nested, garbage]) assert.equal(await readWheelMetadata(reader(bytes), bytes.byteLength), undefined)
})

test('Requires-Python is read from the headers only, not from the description', () => {
  assert.equal(requiresPythonOf(Buffer.from('Metadata-Version: 2.1\nName: a\n\nRequires-Python: >=3.12\n')), undefined)
  assert.equal(requiresPythonOf(Buffer.from('Metadata-Version: 2.1\r\nRequires-Python:   >=3.7, <4  \r\n\r\nbody')), '>=3.7, <4')
})

test('a central directory claimed larger than any wheel has is refused before it is read', async () => {
  const claimed = 64 * 1024 * 1024
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(claimed, 12)
  end.writeUInt32LE(0, 16)
  const fileSize = claimed + end.length
  const asked: number[] = []
  const readAt = async (position: number, length: number): Promise<Uint8Array> => {
    asked.push(length)
    // Only the end record is real; the rest of this "file" is zeros, materialised only near its end.
    if (position + length <= claimed) return Buffer.alloc(Math.min(length, 1024))
    const bytes = Buffer.alloc(length)
    end.copy(bytes, claimed - position)
    return bytes
  }
  assert.equal(await readWheelMetadata(readAt, fileSize), undefined)
  assert.ok(Math.max(...asked) <= 22 + 0xffff, `nothing but the end record was read: ${asked.join(', ')}`)
})
