import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock, Metrics, sha256Hex, type Logger } from '../../../src/base/index.js'
import { CorruptBlobError, openBlobStore, StoreError, StoreFullError, type WriteChunk } from '../../../src/store/index.js'
import { diskOfBytes } from '../../helpers/full-disk.js'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-blobs-'))
  dirs.push(dir)
  return dir
}

/** Where the disk store keeps a blob (its layout, which only these disk-specific tests look at). */
function blobPath(dir: string, ref: { sha256: string }): string {
  return join(dir, 'blobs', ref.sha256.slice(0, 2), ref.sha256)
}

interface LogLine {
  readonly level: string
  readonly event: string
  readonly fields: Record<string, unknown>
}

function recordingLogger(lines: LogLine[]): Logger {
  const log = (level: string, event: string, fields: Record<string, unknown> = {}) => void lines.push({ level, event, fields })
  return { log, info: (event, fields) => log('info', event, fields), warn: (event, fields) => log('warn', event, fields), error: (event, fields) => log('error', event, fields) }
}

describe('blob store: disk full and damaged files', () => {
  test('ENOSPC evicts the least recently used blobs and retries; a disk still full is StoreFullError, counted, logged once per episode', async () => {
    const dir = await freshDir()
    const disk = { capacityBytes: 1000 }
    const clock = fixedClock(1_700_000_000_000)
    const lines: LogLine[] = []
    const metrics = new Metrics()
    const store = await openBlobStore({ dir, maxBytes: Infinity, clock, writeChunk: diskOfBytes(dir, disk), logger: recordingLogger(lines), metrics })
    const old = await store.putBytes(Buffer.alloc(400, 1))
    clock.advanceMs(1000)
    const used = await store.putBytes(Buffer.alloc(400, 2))
    clock.advanceMs(1000)
    const opened = await store.openBlob(used)
    assert.ok(store.get(old.sha256), 'old is now the most recently used')
    clock.advanceMs(1000)
    // 800 bytes stored, 300 more do not fit: the least recently used blob (`used`) makes room.
    const third = await store.putBytes(Buffer.alloc(300, 3))
    assert.ok(store.has(third.sha256))
    assert.ok(store.has(old.sha256))
    assert.equal(store.has(used.sha256), false)
    assert.equal(metrics.value('tuf_proxy_cache_evictions_total', { reason: 'disk_full' }), 1, 'the eviction is counted under its reason')
    assert.deepEqual(
      lines.map((line) => [line.level, line.event, line.fields]),
      [['info', 'blob_evicted', { why: 'disk_full', sha256: used.sha256, bytes: 400, idleSeconds: 2 }]],
      'a full disk that eviction cured is not an episode; the eviction is logged with what it freed',
    )
    lines.length = 0
    // A reader opened before the eviction keeps its bytes.
    assert.ok(opened)
    const buffer = Buffer.alloc(400)
    assert.equal(await opened.read(buffer, 0, 400), 400)
    await opened.close()
    assert.deepEqual(buffer, Buffer.alloc(400, 2))

    disk.capacityBytes = 100
    const writer = await store.createWriter()
    await assert.rejects(writer.write(Buffer.alloc(200)), (error: unknown) => {
      assert.ok(error instanceof StoreFullError)
      assert.equal(error.code, 'store_full')
      assert.match(error.message, /disk is full/)
      return true
    })
    assert.deepEqual(await readdir(join(dir, 'tmp')), [])
    await assert.rejects(writer.commit())
    await writer.abort()
    await assert.rejects(store.putBytes(Buffer.alloc(200)), StoreFullError)
    assert.deepEqual(await readdir(join(dir, 'tmp')), [])
    const episodes = () => lines.filter((line) => line.event !== 'blob_evicted').map((line) => `${line.level} ${line.event}`)
    assert.deepEqual(episodes(), ['warn store_full'], 'logged once for two refused writes')
    assert.equal(metrics.value('tuf_proxy_store_full_total'), 2)
    disk.capacityBytes = 1000
    const later = await store.putBytes(Buffer.from('space again'))
    assert.ok(store.has(later.sha256))
    assert.deepEqual(episodes(), ['warn store_full', 'info store_writable'])
  })

  test('a short write is continued, not mistaken for the whole chunk', async () => {
    const dir = await freshDir()
    const writeChunk: WriteChunk = async (handle, chunks, position) => {
      const first = chunks[0] ?? new Uint8Array()
      return (await handle.write(first, 0, Math.min(3, first.byteLength), position)).bytesWritten
    }
    const store = await openBlobStore({ dir, maxBytes: Infinity, writeChunk })
    const bytes = Buffer.from('written three bytes at a time')
    const ref = await store.putBytes(bytes)
    assert.equal(ref.sha256, sha256Hex(bytes))
    assert.deepEqual(Buffer.from((await store.readBytes(ref.sha256)) ?? []), bytes)
    // A gathering write cut short inside its second chunk goes on from there.
    const writer = await store.createWriter()
    const parts = [Buffer.from('ab'), Buffer.from('cdefg'), Buffer.from('hij')]
    await writer.write(parts)
    const gathered = await writer.commit()
    assert.deepEqual(Buffer.from((await store.readBytes(gathered.sha256)) ?? []), Buffer.from('abcdefghij'))
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
    await writeFile(blobPath(dir, ref), 'tampered bytes')
    await assert.rejects(store.readBytes(ref.sha256), CorruptBlobError)
    assert.equal(store.has(ref.sha256), false)
    await assert.rejects(stat(blobPath(dir, ref)), { code: 'ENOENT' })
  })

  test('a blob whose length changed on disk is not opened: it is removed, logged, and the next lookup misses', async () => {
    const dir = await freshDir()
    const lines: LogLine[] = []
    const store = await openBlobStore({ dir, maxBytes: Infinity, logger: recordingLogger(lines) })
    const cut = await store.putBytes(Buffer.alloc(1000, 7))
    const grown = await store.putBytes(Buffer.alloc(1000, 8))
    await truncate(blobPath(dir, cut), 400)
    await appendFile(blobPath(dir, grown), 'x')
    assert.equal(await store.openBlob(cut), undefined, 'a cut blob is not handed out')
    assert.equal(await store.openBlob(grown), undefined, 'nor one that grew')
    assert.equal(store.has(cut.sha256), false)
    assert.equal(store.has(grown.sha256), false)
    await assert.rejects(stat(blobPath(dir, cut)), { code: 'ENOENT' })
    assert.deepEqual(
      lines.map((line) => [line.event, line.fields['sha256'], line.fields['bytes']]),
      [
        ['blob_damaged', cut.sha256, 400],
        ['blob_damaged', grown.sha256, 1001],
      ],
    )
  })

  test('a blob whose file vanished is a miss', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    const ref = await store.putBytes(Buffer.from('soon gone'))
    await rm(blobPath(dir, ref))
    assert.equal(await store.readBytes(ref.sha256), undefined)
    assert.equal(store.count, 0)
  })

  test('an open reader keeps its bytes when the blob is evicted (POSIX unlink semantics)', async () => {
    const dir = await freshDir()
    const metrics = new Metrics()
    const store = await openBlobStore({ dir, maxBytes: 20, metrics })
    const first = await store.putBytes(Buffer.alloc(15, 1))
    const reader = await store.openBlob(first)
    assert.ok(reader)
    await store.putBytes(Buffer.alloc(15, 2))
    await store.flush()
    assert.equal(store.has(first.sha256), false)
    assert.equal(metrics.value('tuf_proxy_cache_evictions_total', { reason: 'budget' }), 1)
    const buffer = Buffer.alloc(15)
    assert.equal(await reader.read(buffer, 0, 15), 15)
    await reader.close()
    assert.deepEqual(buffer, Buffer.alloc(15, 1))
    assert.equal(await store.openBlob(first), undefined, 'an evicted blob cannot be opened afresh')
  })

  test('get() persists last access to mtime at most once per touchIntervalMs', async () => {
    const dir = await freshDir()
    const clock = fixedClock(1_700_000_000_000)
    const store = await openBlobStore({ dir, maxBytes: Infinity, clock, touchIntervalMs: 60_000 })
    const ref = await store.putBytes(Buffer.from('touched'))
    const mtime = async (): Promise<number> => Math.round((await stat(blobPath(dir, ref))).mtimeMs)
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

describe('blob store: every eviction is logged', () => {
  test('over the budget: one line per evicted blob with its size and how long it was unused', async () => {
    const dir = await freshDir()
    const clock = fixedClock(1_700_000_000_000)
    const lines: LogLine[] = []
    const store = await openBlobStore({ dir, maxBytes: 250, clock, logger: recordingLogger(lines) })
    const first = await store.putBytes(Buffer.alloc(100, 1))
    clock.advanceMs(30_000)
    await store.putBytes(Buffer.alloc(100, 2))
    clock.advanceMs(90_000)
    assert.deepEqual(lines, [], 'nothing evicted while within the budget')
    await store.putBytes(Buffer.alloc(100, 3))
    assert.deepEqual(lines, [{ level: 'info', event: 'blob_evicted', fields: { why: 'over_budget', sha256: first.sha256, bytes: 100, idleSeconds: 120 } }])
  })

  test('a run that evicts many (a lowered budget at start): ten lines, then one line summing up the rest', async () => {
    const dir = await freshDir()
    const clock = fixedClock(1_700_000_000_000)
    const filling = await openBlobStore({ dir, maxBytes: Infinity, clock })
    const refs = []
    for (let i = 0; i < 13; i += 1) {
      refs.push(await filling.putBytes(Buffer.alloc(10 + i, i)))
      clock.advanceMs(1000)
    }
    await filling.flush()
    // The reopened store rebuilds its LRU order from the files' mtimes, one second apart.
    for (const [i, ref] of refs.entries()) await utimes(blobPath(dir, ref), 1_700_000_000 + i, 1_700_000_000 + i)
    const lines: LogLine[] = []
    await openBlobStore({ dir, maxBytes: 30, clock, logger: recordingLogger(lines) })
    const nowSeconds = 1_700_000_013
    assert.deepEqual(
      lines.slice(0, 10).map((line) => [line.event, line.fields.sha256, line.fields.bytes, line.fields.idleSeconds]),
      refs.slice(0, 10).map((ref, i) => ['blob_evicted', ref.sha256, 10 + i, nowSeconds - (1_700_000_000 + i)]),
    )
    assert.deepEqual(lines.slice(10), [
      {
        level: 'info',
        event: 'blobs_evicted',
        fields: { why: 'over_budget', count: 2, bytes: 20 + 21, maxIdleSeconds: 3, minIdleSeconds: 2, detail: 'the evictions of this run past the first 10, summed up' },
      },
    ])
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

describe('blob store: symlinks planted in the cache are never followed (issue 7 item 13)', () => {
  test('a symlink at tmp/ or at a blobs/ prefix directory is replaced, logged, and what it points to survives a start', async () => {
    const dir = await freshDir()
    const elsewhere = await freshDir()
    const canary = join(elsewhere, 'canary.txt')
    await writeFile(canary, 'still here')
    // A file named like a blob, where a planted prefix link points: eviction must not reach it either.
    const lookalike = 'ab'.repeat(32)
    await writeFile(join(elsewhere, lookalike), 'not a blob of this cache')
    await mkdir(join(dir, 'blobs'), { recursive: true })
    await symlink(elsewhere, join(dir, 'tmp'))
    await symlink(elsewhere, join(dir, 'blobs', 'ab'))
    const lines: LogLine[] = []
    const store = await openBlobStore({ dir, maxBytes: 1, logger: recordingLogger(lines) })
    await store.flush()
    assert.equal(await readFile(canary, 'utf8'), 'still here')
    assert.equal(await readFile(join(elsewhere, lookalike), 'utf8'), 'not a blob of this cache')
    assert.equal(store.has(lookalike), false)
    assert.ok((await lstat(join(dir, 'tmp'))).isDirectory())
    assert.ok((await lstat(join(dir, 'blobs', 'ab'))).isDirectory())
    assert.deepEqual(
      lines.map((line) => [line.event, line.fields.path]),
      [
        ['store_symlink_replaced', join(dir, 'tmp')],
        ['store_symlink_replaced', join(dir, 'blobs', 'ab')],
      ],
    )
    // And the store works in its real directories.
    const ref = await store.putBytes(Buffer.from('stored after the links were replaced'))
    assert.ok(store.has(ref.sha256))
    assert.deepEqual(await readdir(elsewhere), ['canary.txt', lookalike].sort())
  })

  test('a symlink where a blob should be is not indexed, not served and not followed when evicting', async () => {
    const dir = await freshDir()
    const elsewhere = await freshDir()
    const target = join(elsewhere, 'secret')
    await writeFile(target, 'outside the cache')
    const digest = sha256Hex(Buffer.from('outside the cache'))
    await mkdir(join(dir, 'blobs', digest.slice(0, 2)), { recursive: true })
    await symlink(target, join(dir, 'blobs', digest.slice(0, 2), digest))
    const store = await openBlobStore({ dir, maxBytes: Infinity })
    assert.equal(store.has(digest), false)
    assert.equal(await store.openBlob({ sha256: digest, size: 17 }), undefined)
    assert.equal(await readFile(target, 'utf8'), 'outside the cache')
  })

  test('evictions are counted, with their bytes, for the status page', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: 40 })
    assert.deepEqual(store.evictions, { count: 0, bytes: 0 })
    await store.putBytes(Buffer.alloc(15, 1))
    await store.putBytes(Buffer.alloc(15, 2))
    assert.deepEqual(store.evictions, { count: 0, bytes: 0 }, 'within the budget nothing is evicted')
    await store.putBytes(Buffer.alloc(15, 3))
    await store.putBytes(Buffer.alloc(15, 4))
    await store.flush()
    assert.deepEqual(store.evictions, { count: 2, bytes: 30 })
    assert.equal(store.count, 2)
  })
})

describe('blob store: one durability pass (import)', () => {
  test('syncBlobs syncs the committed blobs of a store opened with fsync: false, skips one removed since, and refuses a bad digest', async () => {
    const dir = await freshDir()
    const store = await openBlobStore({ dir, maxBytes: Infinity, fsync: false })
    const kept = await store.putBytes(Buffer.from('kept'))
    const removed = await store.putBytes(Buffer.from('removed'))
    await store.delete(removed.sha256)
    await store.syncBlobs([kept.sha256, removed.sha256, kept.sha256])
    assert.equal(await readFile(blobPath(dir, kept), 'utf8'), 'kept')
    await assert.rejects(store.syncBlobs(['../etc/passwd']), TypeError)
  })
})

describe('blob store: the shared eviction scan is rate-limited', () => {
  /** A live process sharing the directory: a presence lock held by this test's parent process. */
  async function livePeer(dir: string): Promise<void> {
    await mkdir(join(dir, 'locks'), { recursive: true })
    await writeFile(join(dir, 'locks', 'member-peer-1.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), token: 'peer' }))
  }

  /** A blob another process committed an hour ago (the least recently used), as it lies on disk. */
  async function foreignBlob(dir: string, bytes: Buffer): Promise<string> {
    const sha256 = sha256Hex(bytes)
    const path = blobPath(dir, { sha256 })
    await mkdir(join(path, '..'), { recursive: true })
    await writeFile(path, bytes)
    const hourAgo = (Date.now() - 3_600_000) / 1000
    await utimes(path, hourAgo, hourAgo)
    return path
  }

  const exists = (path: string) => stat(path).then(() => true, () => false)

  test('a commit within the interval of the last scan does not scan the directory; the first commit after it does', async () => {
    const dir = await freshDir()
    await livePeer(dir)
    const clock = fixedClock(Date.now())
    const store = await openBlobStore({ dir, maxBytes: 1000, clock, evictScanIntervalMs: 60_000 })
    const first = await foreignBlob(dir, Buffer.alloc(800, 1))
    await store.putBytes(Buffer.alloc(300, 2))
    await store.flush()
    assert.equal(await exists(first), false, 'the first commit with a live peer scans, and evicts the other process\'s blob')
    const second = await foreignBlob(dir, Buffer.alloc(800, 3))
    clock.advanceMs(59_000)
    await store.putBytes(Buffer.alloc(100, 4))
    await store.flush()
    assert.equal(await exists(second), true, 'no scan within the interval: the directory is over budget for now')
    clock.advanceMs(1_000)
    await store.putBytes(Buffer.alloc(100, 5))
    await store.flush()
    assert.equal(await exists(second), false, 'the next commit after the interval scans')
  })

  test('a scan owed by a commit within the interval runs when the interval ends, without another commit', async () => {
    const dir = await freshDir()
    await livePeer(dir)
    const store = await openBlobStore({ dir, maxBytes: 1000, evictScanIntervalMs: 200 })
    await store.putBytes(Buffer.alloc(300, 2))
    await store.flush()
    const foreign = await foreignBlob(dir, Buffer.alloc(800, 3))
    await store.putBytes(Buffer.alloc(100, 4))
    // Waits for the owed scan (the file going), not for a time.
    const deadlineMs = Date.now() + 10_000
    while ((await exists(foreign)) && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(await exists(foreign), false, 'the owed scan ran')
  })
})
