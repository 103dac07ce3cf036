/** The ustar writer and reader against GNU tar, an independent implementation of the format. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tarSource, ustarHeader, writeTar } from '../../../src/bundle/tar.js'

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('ustar', () => {
  const members = new Map<string, Buffer>([
    ['manifest.json', Buffer.from('{"a":1}\n')],
    ['files/empty', Buffer.alloc(0)],
    ['files/exactly-one-block', Buffer.alloc(512, 7)],
    [`pages/${'p'.repeat(90)}.html`, Buffer.from('<a>long path: split into prefix and name</a>')],
  ])

  test('what writeTar writes, GNU tar lists and extracts byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-tar-'))
    try {
      const path = join(dir, 'out.tar')
      await writeTar(path, [...members].map(([name, bytes]) => ({ path: name, size: bytes.byteLength })), async function* (name) { yield members.get(name) ?? Buffer.alloc(0) }, 1_700_000_000)
      assert.deepEqual(execFileSync('tar', ['-tf', path], { encoding: 'utf8' }).trim().split('\n'), [...members.keys()])
      const extracted = join(dir, 'x')
      mkdirSync(extracted)
      execFileSync('tar', ['-xf', path, '-C', extracted])
      for (const [name, bytes] of members) assert.deepEqual(readFileSync(join(extracted, name)), bytes, name)
      const source = await tarSource(path)
      assert.deepEqual((await source.list()).map((item) => item.path), [...members.keys()])
      for (const [name, bytes] of members) {
        assert.deepEqual(await source.readBytes(name), bytes)
        assert.deepEqual(await readAll(source.stream(name)), bytes)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('the reader takes GNU tar\'s ustar output, reports a symlink as not regular, and refuses a bad checksum', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-tar-'))
    try {
      const content = join(dir, 'content')
      mkdirSync(join(content, 'files'), { recursive: true })
      writeFileSync(join(content, 'manifest.json'), 'm')
      writeFileSync(join(content, 'files', 'f'), 'ffff')
      execFileSync('ln', ['-s', '/etc/passwd', join(content, 'files', 'link')])
      const path = join(dir, 'gnu.tar')
      execFileSync('tar', ['--format=ustar', '-cf', path, '-C', content, 'manifest.json', 'files'])
      const source = await tarSource(path)
      const listed = new Map((await source.list()).map((item) => [item.path, item.isRegular]))
      assert.equal(listed.get('files/f'), true)
      assert.equal(listed.get('files/link'), false)
      assert.equal(await source.readBytes('files/link'), undefined)
      assert.deepEqual(await source.readBytes('files/f'), Buffer.from('ffff'))
      const bytes = readFileSync(path)
      bytes[0] = (bytes[0] ?? 0) ^ 0x01
      writeFileSync(path, bytes)
      await assert.rejects(tarSource(path), /fails its checksum/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('sizes past 8 GiB use the base-256 encoding', () => {
    const header = ustarHeader('files/big', 2 ** 34, 0)
    assert.equal(header[124], 0x80)
    assert.equal(header.readUInt32BE(132), 0)
    assert.equal(header.readUInt8(131), 4)
  })

  test('a name that fits neither field is refused, not truncated', () => {
    assert.throws(() => ustarHeader(`pages/${'p'.repeat(120)}.html`, 1, 0), RangeError)
  })
})
