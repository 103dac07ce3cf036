import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock, sha256Hex } from '../../../src/base/index.js'
import { CorruptBlobError, openBlobStore, StoreError, StoreFullError, type WriteChunk } from '../../../src/store/index.js'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-blobs-'))
  dirs.push(dir)
  return dir
}

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}

describe('blob store: disk full and damaged files', () => {
  test('ENOSPC while writing is StoreFullError, the temp file is removed, and reads keep working', async () => {
    const dir = await freshDir()
    let isFull = false
    // The injected per-chunk write is the only seam: everything else (open, sync, rename) is real.
    const writeChunk: WriteChunk = async (handle, bytes, position) => {
      if (isFull) throw enospc()
      return (await handle.write(bytes, 0, bytes.byteLength, position)).bytesWritten
    }
    const store = await openBlobStore({ dir, maxBytes: Infinity, writeChunk })
    const kept = await store.putBytes(Buffer.from('stored before the disk filled'))
    isFull = true
    const writer = await store.createWriter()
    await assert.rejects(writer.write(Buffer.alloc(100)), (error: unknown) => {
      assert.ok(error instanceof StoreFullError)
      assert.equal(error.code, 'store_full')
      assert.match(error.message, /disk is full/)
      return true
    })
    assert.deepEqual(await readdir(join(dir, 'tmp')), [])
    await assert.rejects(writer.commit())
    await writer.abort()
    await assert.rejects(store.putBytes(Buffer.from('x')), StoreFullError)
    assert.deepEqual(await readdir(join(dir, 'tmp')), [])
    assert.equal(Buffer.from((await store.readBytes(kept.sha256)) ?? []).toString(), 'stored before the disk filled')
    isFull = false
    const later = await store.putBytes(Buffer.from('space again'))
    assert.ok(store.has(later.sha256))
  })

  test('a short write is continued, not mistaken for the whole chunk', async () => {
    const dir = await freshDir()
    const writeChunk: WriteChunk = async (handle, bytes, position) =>
      (await handle.write(bytes, 0, Math.min(3, bytes.byteLength), position)).bytesWritten
    const store = await openBlobStore({ dir, maxBytes: Infinity, writeChunk })
    const bytes = Buffer.from('written three bytes at a time')
    const ref = await store.putBytes(bytes)
    assert.equal(ref.sha256, sha256Hex(bytes))
    assert.deepEqual(Buffer.from((await store.readBytes(ref.sha256)) ?? []), bytes)
  })

  test('overlapping write() calls still land in call order', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const writer = await store.createWriter()
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(4096, i))
    await Promise.all(chunks.map((chunk) => writer.write(chunk)))
    const ref = await writer.commit()
    assert.equal(ref.sha256, sha256Hex(Buffer.concat(chunks)))
    assert.equal(store.get(ref.sha256)?.size, 50 * 4096)
  })

  test('a blob altered on disk is reported as CorruptBlobError by readBytes and removed', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const ref = await store.putBytes(Buffer.from('original bytes'))
    await writeFile(ref.path, 'tampered bytes')
    await assert.rejects(store.readBytes(ref.sha256), CorruptBlobError)
    assert.equal(store.has(ref.sha256), false)
    await assert.rejects(stat(ref.path), { code: 'ENOENT' })
  })

  test('a blob whose file vanished is a miss', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const ref = await store.putBytes(Buffer.from('soon gone'))
    await rm(ref.path)
    assert.equal(await store.readBytes(ref.sha256), undefined)
    assert.equal(store.count, 0)
  })

  test('an open reader keeps its bytes when the blob is evicted (POSIX unlink semantics)', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: 20 })
    const first = await store.putBytes(Buffer.alloc(15, 1))
    const handle = await open(first.path, 'r')
    await store.putBytes(Buffer.alloc(15, 2))
    await store.flush()
    assert.equal(store.has(first.sha256), false)
    const { buffer } = await handle.read(Buffer.alloc(15), 0, 15, 0)
    await handle.close()
    assert.deepEqual(buffer, Buffer.alloc(15, 1))
  })

  test('get() persists last access to mtime at most once per touchIntervalMs', async () => {
    const dir = await freshDir()
    const clock = fixedClock(1_700_000_000_000)
    const store = await openBlobStore({ dir, maxBytes: Infinity, clock, touchIntervalMs: 60_000 })
    const ref = await store.putBytes(Buffer.from('touched'))
    const mtime = async (): Promise<number> => Math.round((await stat(ref.path)).mtimeMs)
    assert.equal(await mtime(), 1_700_000_000_000)
    clock.advanceMs(30_000)
    store.get(ref.sha256)
    await store.flush()
    assert.equal(await mtime(), 1_700_000_000_000)
    clock.advanceMs(30_000)
    store.get(ref.sha256)
    await store.flush()
    assert.equal(await mtime(), 1_700_000_060_000)
  })

  test('malformed digests and options are programming errors', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    for (const digest of ['', 'AB'.repeat(32), '../'.repeat(21) + 'x', 'a'.repeat(63)]) {
      assert.throws(() => store.get(digest), TypeError)
      assert.throws(() => store.has(digest), TypeError)
    }
    await assert.rejects(openBlobStore({ dir, maxBytes: 0 }), /maxBytes/)
    await assert.rejects(openBlobStore({ dir, maxBytes: 10, touchIntervalMs: -1 }), /touchIntervalMs/)
  })

  test('an unusable directory is a StoreError naming it', async () => {
    const dir = await freshDir()
    await writeFile(join(dir, 'file'), 'not a directory')
    await assert.rejects(openBlobStore({ dir: join(dir, 'file'), maxBytes: 10 }), (error: unknown) => error instanceof StoreError && error.message.includes('file'))
  })
})

describe('blob store: writers with a digest verified by the caller', () => {
  test('the blob is committed under the verified digest and its bytes read back intact', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const bytes = Buffer.from('verified against index evidence by the caller')
    const writer = await store.createWriter({ verifiedSha256: sha256Hex(bytes) })
    await writer.write(bytes.subarray(0, 10))
    await writer.write(bytes.subarray(10))
    const ref = await writer.commit()
    assert.equal(ref.sha256, sha256Hex(bytes))
    assert.deepEqual(await store.readBytes(ref.sha256), bytes)
  })

  test('a malformed verified digest is refused before anything is written', async () => {
    const store = await openBlobStore({ dir: await freshDir(), maxBytes: Infinity })
    await assert.rejects(store.createWriter({ verifiedSha256: 'not-hex' }), TypeError)
  })
})
