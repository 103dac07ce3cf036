/**
 * The behaviour every BlobStore implementation must share (the undici `cacheStoreTests` pattern):
 * run by test/contract/blob-store.test.ts against the disk store, and by any in-memory double, so
 * a fake cannot drift from the real thing.
 */
import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock, sha256Hex, type Clock } from '../../src/base/index.js'
import { StoreFullError, type BlobReader, type BlobStore } from '../../src/store/index.js'

export interface BlobStoreHarness {
  /** Opens a store over this harness's storage; calling it again is a restart (open writers count as crashed). */
  open(options: { maxBytes: number; clock: Clock; touchIntervalMs?: number }): Promise<BlobStore>
  /** Digests of committed blobs visible in the storage right now. */
  listCommitted(): Promise<string[]>
  /** How many partial (uncommitted) writes the storage holds right now. */
  countPartials(): Promise<number>
  /** Makes the storage's disk hold at most this many bytes (blobs and partials); writes past it fail with ENOSPC. */
  setDiskBytes(capacityBytes: number): void
  cleanup(): Promise<void>
}

const bytesOf = (text: string): Uint8Array => Buffer.from(text.padEnd(10, '.'))

async function readAll(reader: BlobReader, size: number): Promise<Buffer> {
  const buffer = Buffer.alloc(size + 8)
  let length = 0
  for (let read = -1; read !== 0; length += read) read = await reader.read(buffer.subarray(length), length, buffer.byteLength - length)
  return buffer.subarray(0, length)
}

export function storeContract(name: string, makeHarness: () => Promise<BlobStoreHarness>): void {
  describe(`blob store contract: ${name}`, () => {
    let harness: BlobStoreHarness
    let clock: ReturnType<typeof fixedClock>
    const open = async (maxBytes: number, touchIntervalMs?: number): Promise<BlobStore> => {
      return harness.open({ maxBytes, clock, ...(touchIntervalMs === undefined ? {} : { touchIntervalMs }) })
    }
    /** Puts a 10-byte blob one second after the previous operation, so recency is never a tie. */
    const put = async (store: BlobStore, text: string): Promise<string> => {
      clock.advanceMs(1000)
      return (await store.putBytes(bytesOf(text))).sha256
    }
    const use = (store: BlobStore, sha256: string): void => {
      clock.advanceMs(1000)
      assert.ok(store.get(sha256), 'blob should be present')
    }

    afterEach(async () => {
      await harness.cleanup()
    })

    const fresh = async (): Promise<void> => {
      harness = await makeHarness()
      clock = fixedClock(1_700_000_000_000)
    }

    test('get after commit returns the blob under its SHA-256, and readBytes returns its bytes', async () => {
      await fresh()
      const store = await open(Infinity)
      const bytes = Buffer.from('hello, blob')
      const ref = await store.putBytes(bytes)
      assert.equal(ref.sha256, sha256Hex(bytes))
      assert.equal(ref.size, bytes.byteLength)
      assert.deepEqual(store.get(ref.sha256), ref)
      assert.ok(store.has(ref.sha256))
      assert.deepEqual(Buffer.from((await store.readBytes(ref.sha256)) ?? []), bytes)
      assert.equal(store.count, 1)
      assert.equal(store.totalBytes, bytes.byteLength)
    })

    test('a reader never sees a partial: nothing is visible before commit', async () => {
      await fresh()
      const store = await open(Infinity)
      const whole = Buffer.from('first half|second half')
      const digest = sha256Hex(whole)
      const writer = await store.createWriter()
      await writer.write(whole.subarray(0, 11))
      assert.equal(writer.size, 11)
      assert.equal(store.has(digest), false)
      assert.equal(store.get(digest), undefined)
      assert.equal(store.has(sha256Hex(whole.subarray(0, 11))), false)
      assert.deepEqual(await harness.listCommitted(), [])
      assert.equal(await harness.countPartials(), 1)
      // The rest as one gathering write of several chunks, in order.
      await writer.write([whole.subarray(11, 15), whole.subarray(15, 16), whole.subarray(16)])
      assert.equal(writer.size, whole.byteLength)
      const ref = await writer.commit()
      assert.equal(ref.sha256, digest)
      assert.equal(ref.size, whole.byteLength)
      assert.deepEqual(await harness.listCommitted(), [digest])
      assert.equal(await harness.countPartials(), 0)
    })

    test('identical content is stored once', async () => {
      await fresh()
      const store = await open(Infinity)
      const first = await store.putBytes(bytesOf('same'))
      const second = await store.putBytes(bytesOf('same'))
      assert.deepEqual(second, first)
      assert.equal(store.count, 1)
      assert.equal(store.totalBytes, 10)
      assert.equal(await harness.countPartials(), 0)
    })

    test('abort removes the partial; abort is idempotent and a no-op after commit', async () => {
      await fresh()
      const store = await open(Infinity)
      const writer = await store.createWriter()
      await writer.write(bytesOf('aborted'))
      await writer.abort()
      await writer.abort()
      assert.equal(await harness.countPartials(), 0)
      assert.equal(store.count, 0)
      await assert.rejects(writer.commit())
      const kept = await store.createWriter()
      await kept.write(bytesOf('kept'))
      const ref = await kept.commit()
      await kept.abort()
      assert.ok(store.has(ref.sha256))
      assert.deepEqual(await harness.listCommitted(), [ref.sha256])
    })

    test('eviction removes the least recently used blob first, counting get() as a use', async () => {
      await fresh()
      const store = await open(30)
      const a = await put(store, 'a')
      const b = await put(store, 'b')
      const c = await put(store, 'c')
      use(store, a)
      assert.ok(store.has(b), 'has() must not count as a use')
      const d = await put(store, 'd')
      assert.equal(store.has(b), false)
      for (const kept of [a, c, d]) assert.ok(store.has(kept))
      assert.equal(store.totalBytes, 30)
      await store.flush()
      assert.deepEqual((await harness.listCommitted()).sort(), [a, c, d].sort())
    })

    test('peek and entries report size and last use without counting as a use; entries run least recently used first', async () => {
      await fresh()
      const store = await open(Infinity)
      const a = await put(store, 'a')
      const b = await put(store, 'b')
      use(store, a)
      const usedAtMs = clock.nowMs()
      assert.deepEqual(store.peek(a), { sha256: a, size: 10, lastUsedMs: usedAtMs })
      assert.equal(store.peek('0'.repeat(64)), undefined)
      clock.advanceMs(1000)
      store.peek(b)
      assert.deepEqual(store.entries().map((entry) => entry.sha256), [b, a], 'peek() did not make b the most recent')
      assert.deepEqual(store.entries()[1], { sha256: a, size: 10, lastUsedMs: usedAtMs })
    })

    test('a restart rebuilds the same blobs, keeps the LRU order and deletes stale partials', async () => {
      await fresh()
      const before = await open(30, 0)
      const a = await put(before, 'a')
      const b = await put(before, 'b')
      const c = await put(before, 'c')
      use(before, a)
      const crashed = await before.createWriter()
      await crashed.write(bytesOf('partial'))
      await before.flush()
      const after = await open(30, 0)
      assert.equal(after.count, 3)
      assert.equal(after.totalBytes, 30)
      assert.equal(await harness.countPartials(), 0)
      const d = await put(after, 'd')
      assert.equal(after.has(b), false, 'b was least recently used before the restart')
      for (const kept of [a, c, d]) assert.ok(after.has(kept))
      await crashed.abort()
    })

    test('a restart with a smaller budget evicts down to it, oldest first', async () => {
      await fresh()
      const before = await open(Infinity)
      await put(before, 'a')
      await put(before, 'b')
      const c = await put(before, 'c')
      const after = await open(10)
      assert.equal(after.count, 1)
      assert.ok(after.has(c))
      assert.deepEqual(await harness.listCommitted(), [c])
    })

    test('a blob larger than the whole budget evicts everything else but is itself kept until the next commit', async () => {
      await fresh()
      const store = await open(25)
      const a = await put(store, 'a')
      await put(store, 'b')
      await put(store, 'c')
      assert.equal(store.has(a), false)
      assert.equal(store.totalBytes, 20)
      clock.advanceMs(1000)
      const huge = await store.putBytes(Buffer.alloc(40, 1))
      assert.equal(store.count, 1)
      assert.equal(store.totalBytes, 40)
      const y = await put(store, 'y')
      assert.equal(store.has(huge.sha256), false)
      assert.ok(store.has(y))
      assert.equal(store.totalBytes, 10)
    })

    test('a streamed blob of many chunks gets the digest of all its bytes', async () => {
      await fresh()
      const store = await open(Infinity)
      const writer = await store.createWriter()
      const chunks = Array.from({ length: 100 }, (_, i) => Buffer.alloc(1000 + i, i))
      for (const chunk of chunks) await writer.write(chunk)
      const ref = await writer.commit()
      assert.equal(ref.sha256, sha256Hex(Buffer.concat(chunks)))
      assert.equal(ref.size, Buffer.concat(chunks).byteLength)
    })

    test('delete removes a blob; readBytes of an absent blob is undefined', async () => {
      await fresh()
      const store = await open(Infinity)
      const a = await put(store, 'a')
      await store.delete(a)
      assert.equal(store.has(a), false)
      assert.equal(await store.readBytes(a), undefined)
      assert.equal(store.totalBytes, 0)
      assert.deepEqual(await harness.listCommitted(), [])
    })

    test('openBlob reads a committed blob without counting as a use; its reader outlives eviction; an evicted blob opens as undefined', async () => {
      await fresh()
      const store = await open(20)
      const a = await put(store, 'a')
      const ref = store.get(a)
      assert.ok(ref)
      const reader = await store.openBlob(ref)
      assert.ok(reader)
      await put(store, 'b')
      await put(store, 'c')
      await store.flush()
      assert.equal(store.has(a), false, 'openBlob is not a use: a stays least recently used')
      assert.deepEqual(await readAll(reader, 10), Buffer.from(bytesOf('a')))
      assert.equal(await reader.read(Buffer.alloc(4), 3, 4), 4)
      await reader.close()
      await reader.close()
      assert.equal(await store.openBlob(ref), undefined)
    })

    test('writer.openReader reads what was written so far, and keeps it after commit and after abort', async () => {
      await fresh()
      const store = await open(Infinity)
      const writer = await store.createWriter()
      const reader = await writer.openReader()
      assert.equal(await reader.read(Buffer.alloc(4), 0, 4), 0)
      await writer.write(Buffer.from('first|'))
      assert.deepEqual(await readAll(reader, 6), Buffer.from('first|'))
      await writer.write(Buffer.from('second'))
      const tail = Buffer.alloc(6)
      assert.equal(await reader.read(tail, 6, 6), 6)
      assert.equal(tail.toString(), 'second')
      await writer.commit()
      assert.deepEqual(await readAll(reader, 12), Buffer.from('first|second'))
      await reader.close()
      const aborted = await store.createWriter()
      const orphan = await aborted.openReader()
      await aborted.write(Buffer.from('never committed'))
      await aborted.abort()
      assert.equal(await harness.countPartials(), 0)
      assert.deepEqual(await readAll(orphan, 15), Buffer.from('never committed'))
      await orphan.close()
    })

    test('a full disk evicts the least recently used blobs and retries the write; still full, it is StoreFullError and no partial is left', async () => {
      await fresh()
      const store = await open(Infinity)
      harness.setDiskBytes(35)
      const a = await put(store, 'a')
      const b = await put(store, 'b')
      const c = await put(store, 'c')
      use(store, a)
      const d = await put(store, 'd')
      assert.equal(store.has(b), false, 'b, least recently used, made room')
      for (const kept of [a, c, d]) assert.ok(store.has(kept))
      await store.flush()
      assert.deepEqual((await harness.listCommitted()).sort(), [a, c, d].sort())
      const writer = await store.createWriter()
      await assert.rejects(writer.write(Buffer.alloc(40, 7)), StoreFullError)
      assert.equal(await harness.countPartials(), 0)
      await assert.rejects(writer.commit())
      await writer.abort()
      harness.setDiskBytes(1000)
      assert.ok(store.has(await put(store, 'after')), 'writes work again once there is space')
    })
  })
}
