// Component tests of the download machinery (mirror/files.ts + mirror/file-download.ts) with the
// in-memory BlobStore and an in-memory upstream whose body is pulled chunk by chunk, so every
// interleaving below is decided by the test, not by timing. The full-disk cases also run on the
// disk store (with a write seam that plays a small disk) to cover readers of an aborted temp file.
import { afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { fixedClock, IntegrityError, Metrics, type Logger } from '../../../src/base/index.js'
import { DropLog, Files, type Download, type FileResult, type FileTarget } from '../../../src/mirror/index.js'
import { openBlobStore, StoreFullError, type BlobStore, type BlobWriter } from '../../../src/store/index.js'
import { diskOfBytes } from '../../helpers/full-disk.js'
import { MemoryDisk, openMemoryBlobStore } from '../../helpers/memory-blob-store.js'
import { MemoryUpstream, memoryRecords } from '../../helpers/memory-upstream.js'

const MiB = 1024 * 1024
const URL_A = 'https://files.example/a-1.0.tar.gz'

/** Deterministic file bytes: `size` bytes cut into `chunkBytes` pieces. */
function fileOf(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + seed * 7) & 0xff
  return bytes
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A one-shot gate a test opens when it chooses. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

interface LogLine {
  readonly level: string
  readonly event: string
}

function setup(blobs: BlobStore, options: { writeBehindBytes?: number } = {}) {
  const upstream = new MemoryUpstream()
  const metrics = new Metrics()
  const lines: LogLine[] = []
  const logger: Logger = {
    log: (level, event) => void lines.push({ level, event }),
    info: (event) => void lines.push({ level: 'info', event }),
    warn: (event) => void lines.push({ level: 'warn', event }),
    error: (event) => void lines.push({ level: 'error', event }),
  }
  const clock = fixedClock(1_700_000_000_000)
  const drops = new DropLog({ logger, metrics, nowMs: clock.nowMs })
  const files = new Files({ requireHashes: false, maxFileBytes: 1024 * MiB, ...options }, { upstream, blobs, records: memoryRecords(), clock, logger, metrics, drops })
  return { upstream, metrics, lines, files, blobs }
}

function targetFor(url: string, bytes: Uint8Array): FileTarget {
  return { url, evidence: { hashes: { sha256: sha256(bytes) }, expectedSize: bytes.byteLength } }
}

function downloadOf(result: FileResult): Download {
  assert.equal(result.kind, 'download', 'expected a cache miss')
  if (result.kind !== 'download') throw new Error('unreachable')
  return result.download
}

/** Reads a download to its end; the outcome says how far it got. */
async function readAll(download: Download, options: { stopAfterBytes?: number; beforeChunk?: (index: number, bytesWithThisChunk: number) => Promise<void> } = {}) {
  const parts: Buffer[] = []
  let received = 0
  try {
    let index = 0
    for await (const chunk of download.chunks()) {
      await options.beforeChunk?.(index++, received + chunk.byteLength)
      parts.push(Buffer.from(chunk))
      received += chunk.byteLength
      if (options.stopAfterBytes !== undefined && received >= options.stopAfterBytes) return { bytes: Buffer.concat(parts), error: undefined, stopped: true }
    }
    return { bytes: Buffer.concat(parts), error: undefined, stopped: false }
  } catch (error) {
    return { bytes: Buffer.concat(parts), error, stopped: false }
  }
}

/**
 * `blobs`, except that the writes of the first writer created wait for `release` (a stalled disk
 * under one download); `stalled` opens when that writer's first write is called.
 */
function stallFirstWriter(blobs: BlobStore, release: Promise<void>): { store: BlobStore; stalled: Promise<void> } {
  const stalled = gate()
  let created = 0
  const store = new Proxy(blobs, {
    get(target, name) {
      if (name !== 'createWriter') {
        const value: unknown = Reflect.get(target, name, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
      return async (options?: { verifiedSha256?: string }): Promise<BlobWriter> => {
        const writer = await target.createWriter(options)
        if (created++ > 0) return writer
        return {
          get size() {
            return writer.size
          },
          write: async (chunks) => {
            stalled.open()
            await release
            await writer.write(chunks)
          },
          openReader: () => writer.openReader(),
          commit: () => writer.commit(),
          abort: () => writer.abort(),
        }
      }
    },
  })
  return { store, stalled: stalled.promise }
}

async function readBlob(blobs: BlobStore, result: FileResult): Promise<Buffer> {
  assert.equal(result.kind, 'cached', 'expected a cache hit')
  if (result.kind !== 'cached') throw new Error('unreachable')
  const reader = await result.open()
  assert.ok(reader, 'the cached blob opens')
  const buffer = Buffer.alloc(result.ref.size)
  assert.equal(await reader.read(buffer, 0, buffer.byteLength), result.ref.size)
  await reader.close()
  assert.equal(blobs.has(result.ref.sha256), true)
  return buffer
}

describe('file downloads (mirror/files.ts, mirror/file-download.ts)', () => {
  test('many concurrent gets for one cold file make one upstream request; every client gets the bytes; then it is a cache hit', async () => {
    const { upstream, files, blobs } = setup(openMemoryBlobStore())
    const bytes = fileOf(3 * MiB + 123)
    upstream.serve(URL_A, { bytes, chunkBytes: 64 * 1024 })
    const target = targetFor(URL_A, bytes)
    const results = await Promise.all(Array.from({ length: 20 }, () => files.get(target)))
    const downloads = new Set(results.map(downloadOf))
    assert.equal(downloads.size, 1, 'one shared download')
    const [download] = downloads
    assert.ok(download)
    const read = await Promise.all(results.map((result) => readAll(downloadOf(result))))
    for (const outcome of read) {
      assert.equal(outcome.error, undefined)
      assert.ok(outcome.bytes.equals(bytes))
    }
    const ref = await download.finished()
    assert.equal(ref.sha256, sha256(bytes))
    assert.equal(upstream.requests, 1)
    assert.ok((await readBlob(blobs, await files.get(target))).equals(bytes))
    assert.equal(upstream.requests, 1, 'a hit asks nothing upstream')
  })

  test('a hash mismatch mid-stream: no reader gets the complete bytes, nothing is committed, the drop is recorded', async () => {
    const store = openMemoryBlobStore()
    const disk = store.disk
    const { upstream, files, metrics, lines } = setup(store)
    const good = fileOf(6 * MiB)
    const tampered = Buffer.from(good)
    tampered.writeUInt8(tampered.readUInt8(tampered.byteLength - 1) ^ 0x01, tampered.byteLength - 1)
    const chunkBytes = 256 * 1024
    const lastIndex = good.byteLength / chunkBytes - 1
    // The last chunk is sent only once the fast reader has everything before it, so it is as close
    // to the end as a reader can be when the mismatch shows.
    const fastCaughtUp = gate()
    upstream.serve(URL_A, { bytes: tampered, chunkBytes, before: (index) => (index === lastIndex ? fastCaughtUp.promise : undefined) })
    const target = targetFor(URL_A, good)
    const download = downloadOf(await files.get(target))
    const fastReader = readAll(download, {
      beforeChunk: async (_index, bytesWithThisChunk) => {
        if (bytesWithThisChunk >= good.byteLength - chunkBytes - 1) fastCaughtUp.open()
      },
    })
    const slowReader = readAll(download, { beforeChunk: (index) => (index === 0 ? download.finished().then(() => undefined, () => undefined) : Promise.resolve()) })
    const [fast, slow] = await Promise.all([fastReader, slowReader])
    for (const outcome of [fast, slow]) {
      assert.ok(outcome.error instanceof IntegrityError, `expected IntegrityError, got ${String(outcome.error)}`)
      assert.equal(outcome.error.code, 'hash_mismatch')
      assert.ok(outcome.bytes.byteLength < good.byteLength, 'never the complete body')
      assert.ok(tampered.subarray(0, outcome.bytes.byteLength).equals(outcome.bytes))
    }
    await assert.rejects(download.finished(), IntegrityError)
    assert.equal(disk.blobs.size, 0, 'nothing committed')
    assert.equal(disk.partials.size, 0, 'the temporary blob was discarded')
    assert.equal(metrics.value('tuf_proxy_drops_total', { reason: 'hash_mismatch' }), 1)
    assert.deepEqual(lines.map((line) => line.event), ['drop'])
    // The next request tries again rather than serving anything from the refused download.
    assert.equal((await files.get(target)).kind, 'download')
    assert.equal(upstream.requests, 2)
  })

  test('a reader slower than the write-behind window does not hold the download back and still gets every byte', async () => {
    const { upstream, files, blobs } = setup(openMemoryBlobStore())
    const bytes = fileOf(12 * MiB, 3)
    upstream.serve(URL_A, { bytes, chunkBytes: 256 * 1024 })
    const target = targetFor(URL_A, bytes)
    const download = downloadOf(await files.get(target))
    const slowMayGoOn = gate()
    let slowSawChunks = 0
    const slow = readAll(download, {
      beforeChunk: async (index) => {
        slowSawChunks = index + 1
        if (index === 1) await slowMayGoOn.promise
      },
    })
    const fast = await readAll(download)
    assert.ok(fast.bytes.equals(bytes))
    const ref = await download.finished()
    assert.equal(slowSawChunks, 2, 'the slow reader was still at its second chunk when the download was committed')
    assert.equal(upstream.chunksPulled, 48)
    slowMayGoOn.open()
    const slowOutcome = await slow
    assert.equal(slowOutcome.error, undefined)
    assert.ok(slowOutcome.bytes.equals(bytes), 'the slow reader read the rest from the stored blob')
    assert.ok(blobs.has(ref.sha256))
  })

  test('the write-behind window is one byte budget across downloads: one stalled on its disk cannot make the others hold more, and they go on', async () => {
    const diskMayGoOn = gate()
    const { store, stalled } = stallFirstWriter(openMemoryBlobStore(), diskMayGoOn.promise)
    const chunkBytes = 256 * 1024
    const budget = 3 * chunkBytes
    const { upstream, files, blobs, metrics } = setup(store, { writeBehindBytes: budget })
    const held = () => {
      metrics.render()
      return metrics.value('tuf_proxy_write_behind_bytes')
    }
    const stuck = fileOf(8 * MiB, 12)
    let stuckPulled = 0
    upstream.serve(URL_A, { bytes: stuck, chunkBytes, before: () => void (stuckPulled += 1) })
    const stuckDownload = downloadOf(await files.get(targetFor(URL_A, stuck)))
    await stalled
    // Over the budget at its fourth chunk, it writes them and waits for that write (before its
    // first batch of 1 MiB was due); the per-download window alone (4 MiB) would have let it take 17.
    assert.equal(stuckPulled, 4)
    assert.equal(held(), 4 * chunkBytes)
    const url = 'https://files.example/b-1.0.tar.gz'
    const other = fileOf(6 * MiB, 13)
    let mostHeld = 0
    upstream.serve(url, { bytes: other, chunkBytes, before: () => void (mostHeld = Math.max(mostHeld, held())) })
    const otherDownload = downloadOf(await files.get(targetFor(url, other)))
    const otherRead = await readAll(otherDownload)
    assert.equal(otherRead.error, undefined, String(otherRead.error))
    assert.ok(otherRead.bytes.equals(other))
    assert.ok(blobs.has((await otherDownload.finished()).sha256), 'the other download was committed while the first one is stalled')
    assert.ok(mostHeld <= 4 * chunkBytes + chunkBytes, `at most one chunk over the stalled one's bytes, held ${mostHeld}`)
    assert.equal(stuckPulled, 4, 'the stalled download took nothing more meanwhile')
    diskMayGoOn.open()
    const stuckRead = await readAll(stuckDownload)
    assert.ok(stuckRead.bytes.equals(stuck))
    assert.ok(blobs.has((await stuckDownload.finished()).sha256))
    assert.equal(held(), 0, 'every byte is given back')
  })

  test('a client that disconnects mid-stream does not stop the download: others finish and the file is committed', async () => {
    const { upstream, files, blobs } = setup(openMemoryBlobStore())
    const bytes = fileOf(5 * MiB, 4)
    upstream.serve(URL_A, { bytes, chunkBytes: 128 * 1024 })
    const target = targetFor(URL_A, bytes)
    const download = downloadOf(await files.get(target))
    const [gone, stayed] = await Promise.all([readAll(download, { stopAfterBytes: 300 * 1024 }), readAll(download)])
    assert.equal(gone.stopped, true)
    assert.ok(stayed.bytes.equals(bytes))
    const ref = await download.finished()
    assert.ok(blobs.has(ref.sha256))
    assert.equal(upstream.aborts, 0)
    // And when the only client leaves, the download is still committed for the next one.
    const url = 'https://files.example/b-1.0.tar.gz'
    const other = fileOf(2 * MiB, 5)
    upstream.serve(url, { bytes: other, chunkBytes: 128 * 1024 })
    const lonely = downloadOf(await files.get(targetFor(url, other)))
    assert.equal((await readAll(lonely, { stopAfterBytes: 1 })).stopped, true)
    assert.equal((await lonely.finished()).sha256, sha256(other))
    assert.ok((await readBlob(blobs, await files.get(targetFor(url, other)))).equals(other))
  })
})

for (const kind of ['memory', 'disk'] as const) {
  describe(`file downloads on a full disk (${kind} store, issue 7 item 7)`, () => {
    const dirs: string[] = []
    afterEach(async () => {
      for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
    })
    /** A store on a disk of `capacityBytes`, holding nothing yet. */
    async function storeOnDisk(capacityBytes: number, maxBytes = Infinity): Promise<BlobStore> {
      if (kind === 'memory') {
        const disk = new MemoryDisk()
        disk.capacityBytes = capacityBytes
        return openMemoryBlobStore({ disk, maxBytes })
      }
      const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-download-'))
      dirs.push(dir)
      return openBlobStore({ dir, maxBytes, fsync: false, writeChunk: diskOfBytes(dir, { capacityBytes }) })
    }

    test('eviction makes room: the file is committed and the least recently used blobs are gone', async () => {
      const { upstream, files, blobs } = setup(await storeOnDisk(8 * MiB))
      const old = await blobs.putBytes(fileOf(3 * MiB, 7))
      const older = await blobs.putBytes(fileOf(3 * MiB, 8))
      const bytes = fileOf(5 * MiB, 9)
      upstream.serve(URL_A, { bytes, chunkBytes: 256 * 1024 })
      const download = downloadOf(await files.get(targetFor(URL_A, bytes)))
      const outcome = await readAll(download)
      assert.ok(outcome.bytes.equals(bytes))
      const ref = await download.finished()
      await blobs.flush()
      assert.ok(blobs.has(ref.sha256))
      assert.equal(blobs.has(old.sha256), false, 'the least recently used blob made room')
      assert.ok(blobs.has(older.sha256), 'only as much as needed was evicted')
    })

    test('when eviction cannot help, every client still gets the verified bytes, uncached; the proxy keeps serving', async () => {
      const { upstream, files, blobs, lines } = setup(await storeOnDisk(2 * MiB))
      const bytes = fileOf(10 * MiB, 10)
      upstream.serve(URL_A, { bytes, chunkBytes: 256 * 1024 })
      const target = targetFor(URL_A, bytes)
      const download = downloadOf(await files.get(target))
      const [first, second] = await Promise.all([readAll(download), readAll(download)])
      for (const outcome of [first, second]) {
        assert.equal(outcome.error, undefined, String(outcome.error))
        assert.ok(outcome.bytes.equals(bytes))
      }
      await assert.rejects(download.finished(), StoreFullError)
      assert.equal(blobs.count, 0, 'nothing cached')
      assert.deepEqual(lines.map((line) => line.event).filter((event) => event !== 'store_full'), [], 'no per-file log line')
      // The next request downloads again, and is served again.
      const again = downloadOf(await files.get(target))
      assert.ok((await readAll(again)).bytes.equals(bytes))
      assert.equal(upstream.requests, 2)
    })

    test('uncached and over the shared write-behind budget: readers still get every byte, and the download stays within a chunk of the slowest', async () => {
      const chunkBytes = 256 * 1024
      // The first write (of one chunk, forced by the budget) already finds the disk full.
      const { upstream, files } = setup(await storeOnDisk(chunkBytes / 2), { writeBehindBytes: chunkBytes / 2 })
      const bytes = fileOf(6 * MiB, 14)
      const positions = [0, 0]
      const overruns: number[] = []
      upstream.serve(URL_A, {
        bytes,
        chunkBytes,
        // Once both readers stream, the download asks for a chunk only when they have passed all
        // it holds but its newest chunk: at most one chunk past the slower reader.
        before: (index) => void (Math.min(...positions) > 0 && index * chunkBytes > Math.min(...positions) + chunkBytes && overruns.push(index)),
      })
      const target = targetFor(URL_A, bytes)
      const download = downloadOf(await files.get(target))
      const reader = (which: 0 | 1) =>
        readAll(download, {
          beforeChunk: async (_index, bytesWithThisChunk) => {
            positions[which] = bytesWithThisChunk
          },
        })
      const [first, second] = await Promise.all([reader(0), reader(1)])
      for (const outcome of [first, second]) {
        assert.equal(outcome.error, undefined, String(outcome.error))
        assert.ok(outcome.bytes.equals(bytes))
      }
      await assert.rejects(download.finished(), StoreFullError)
      assert.deepEqual(overruns, [])
    })

    test('uncached, a reader behind the window paces the upstream (bounded memory); a newcomer after bytes were let go gets a fresh download', async () => {
      const { upstream, files } = setup(await storeOnDisk(MiB / 2))
      const bytes = fileOf(16 * MiB, 11)
      const chunkBytes = 256 * 1024
      let slowBytes = 0
      let isSlowHeld = false
      const overruns: number[] = []
      upstream.serve(URL_A, {
        bytes,
        chunkBytes,
        // While the slow reader is held, the upstream is never asked for more than the window past it.
        before: (index) => void (isSlowHeld && index * chunkBytes - slowBytes > 4 * MiB + chunkBytes && overruns.push(index)),
      })
      const target = targetFor(URL_A, bytes)
      const download = downloadOf(await files.get(target))
      const slowMayGoOn = gate()
      const slowIsHeld = gate()
      const slow = readAll(download, {
        beforeChunk: async (_index, bytesWithThisChunk) => {
          if (slowBytes === 0 && bytesWithThisChunk >= MiB) {
            slowBytes = bytesWithThisChunk
            isSlowHeld = true
            slowIsHeld.open()
            await slowMayGoOn.promise
          }
        },
      })
      await slowIsHeld.promise
      const fast = readAll(download)
      // A third client, as fast, that leaves once it has 4.75 MiB: the window (4 MiB past the slow
      // reader's 1 MiB or more) lets it get that far, and the download has gone uncached by then
      // (its first write of 1 MiB failed).
      const leaver = await readAll(download, { stopAfterBytes: 4.75 * MiB })
      assert.equal(leaver.stopped, true)
      assert.equal(download.canServeFromStart, false, 'bytes every reader passed were let go of')
      await assert.rejects(download.headway(0), StoreFullError, 'a newcomer on this download gets a clean 507 before any header')
      const fresh = downloadOf(await files.get(target))
      assert.notEqual(fresh, download, 'files.ts starts another download for a newcomer')
      const freshRead = readAll(fresh)
      assert.ok(upstream.chunksPulled < 64, 'the held download has not run to its end')
      isSlowHeld = false
      slowMayGoOn.open()
      for (const outcome of [await slow, await fast, await freshRead]) {
        assert.equal(outcome.error, undefined, String(outcome.error))
        assert.ok(outcome.bytes.equals(bytes))
      }
      assert.deepEqual(overruns, [])
      assert.equal(upstream.requests, 2)
    })
  })
}
