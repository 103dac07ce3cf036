// Issue 7 item 8: pages served from memory count as uses of their stored body, so a full cache
// evicts files nobody asks for rather than the popular projects' pages, and after a restart with
// the upstream down the page and its cached files are still served. Real disk stores in a temp
// directory; the upstream and the page source are in memory.
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { fixedClock, Metrics, silentLogger, type Clock } from '../../../src/base/index.js'
import { DropLog, Files, pourInto, SimplePages, type FileResult, type PageHead, type PageSource } from '../../../src/mirror/index.js'
import { resolveProjectFile } from '../../../src/mirror/project-files.js'
import { openBlobStore, openRecordStore } from '../../../src/store/index.js'
import { UpstreamOfflineError, type BodySink } from '../../../src/upstream/index.js'
import { MemoryUpstream } from '../../helpers/memory-upstream.js'

const KiB = 1024
const SIMPLE = 'https://index.example/simple/'

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

interface File {
  readonly filename: string
  readonly url: string
  readonly bytes: Buffer
}

function fileOf(project: string, version: string, size: number): File {
  const filename = `${project}-${version}.tar.gz`
  return { filename, url: `https://files.example/${filename}`, bytes: Buffer.alloc(size, version.length + project.length + Number(version.replace(/\D/g, ''))) }
}

/** A PEP 691 JSON project page listing `files`. */
function pageBody(project: string, files: readonly File[]): Buffer {
  const page = { meta: { 'api-version': '1.0' }, name: project, files: files.map((file) => ({ filename: file.filename, url: file.url, hashes: { sha256: sha256(file.bytes) } })) }
  return Buffer.from(JSON.stringify(page))
}

class MemoryPages implements PageSource {
  readonly bodies = new Map<string, Buffer>()
  isOffline = false

  async fetch(url: string) {
    if (this.isOffline) throw new UpstreamOfflineError(`cannot reach ${url} (the test took the upstream offline)`)
    const body = this.bodies.get(url)
    if (!body) throw new Error(`no page at ${url}`)
    return { kind: 'page' as const, url, body, contentType: 'application/vnd.pypi.simple.v1+json', validators: {}, serial: undefined }
  }

  async fetchInto(url: string, _previous: unknown, open: (head: PageHead) => BodySink) {
    return pourInto(await this.fetch(url), open)
  }
}

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** The mirror's page and file parts over the cache in `dir`; called again on the same `dir`, a restart. */
async function open(dir: string, source: PageSource, upstream: MemoryUpstream, clock: Clock) {
  const metrics = new Metrics()
  const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: 1024 * KiB, fsync: false, clock })
  const records = await openRecordStore({ dir: join(dir, 'records') })
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  const deps = { blobs, records, clock, logger: silentLogger, metrics, drops }
  const pages = new SimplePages({ upstreamUrl: SIMPLE, indexTtlSeconds: 3600, isAllowedUrl: () => true }, { ...deps, source })
  const files = new Files({ requireHashes: false, maxFileBytes: 1024 * 1024 * KiB }, { ...deps, upstream })
  return { blobs, pages, files }
}

async function bytesOf(result: FileResult): Promise<Buffer> {
  if (result.kind === 'download') {
    const parts: Uint8Array[] = []
    for await (const chunk of result.download.chunks()) parts.push(Buffer.from(chunk))
    await result.download.finished()
    return Buffer.concat(parts)
  }
  const reader = await result.open()
  assert.ok(reader)
  const buffer = Buffer.alloc(result.ref.size)
  await reader.read(buffer, 0, buffer.byteLength)
  await reader.close()
  return buffer
}

test('a page served from memory keeps its stored body in the LRU; after a restart with the upstream down, page and cached file are served', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-page-lru-'))
  dirs.push(dir)
  const clock = fixedClock(1_700_000_000_000)
  const source = new MemoryPages()
  const upstream = new MemoryUpstream()
  const popular = fileOf('popular', '1.0', 100 * KiB)
  const popularPage = pageBody('popular', [popular])
  source.bodies.set(`${SIMPLE}popular/`, popularPage)
  upstream.serve(popular.url, { bytes: popular.bytes, chunkBytes: 64 * KiB })
  const fillers = Array.from({ length: 8 }, (_, i) => fileOf('filler', `${i + 1}.0`, 300 * KiB))
  source.bodies.set(`${SIMPLE}filler/`, pageBody('filler', fillers))
  for (const filler of fillers) upstream.serve(filler.url, { bytes: filler.bytes, chunkBytes: 64 * KiB })

  const before = await open(dir, source, upstream, clock)
  assert.equal((await before.pages.project('popular', 'json-v1')).cache, 'MISS')
  assert.ok((await bytesOf(await before.files.get(await resolveProjectFile(before.pages, 'popular', popular.filename)))).equals(popular.bytes))
  // 8 x 300 KiB through a 1 MiB budget: eviction runs on most commits. Between them the popular
  // page is served from memory (never refetched: the TTL is an hour) and its file from the cache.
  for (const filler of fillers) {
    clock.advanceMs(1000)
    assert.equal((await before.pages.project('popular', 'json-v1')).cache, 'HIT')
    assert.equal(before.pages.peekFresh('popular', 'html-v1')?.cache, 'HIT')
    assert.equal((await before.files.get(await resolveProjectFile(before.pages, 'popular', popular.filename))).kind, 'cached')
    clock.advanceMs(1000)
    assert.ok((await bytesOf(await before.files.get(await resolveProjectFile(before.pages, 'filler', filler.filename)))).equals(filler.bytes))
  }
  await before.blobs.flush()
  assert.ok(before.blobs.totalBytes <= 1024 * KiB)
  assert.equal(before.blobs.has(sha256(fillers[0]?.bytes ?? Buffer.alloc(0))), false, 'eviction ran')
  assert.ok(before.blobs.has(sha256(popularPage)), "the popular page's body survived")
  assert.ok(before.blobs.has(sha256(popular.bytes)))

  source.isOffline = true
  upstream.offline()
  const after = await open(dir, source, upstream, clock)
  const page = await after.pages.project('popular', 'json-v1')
  assert.ok(page.body instanceof Uint8Array, 'a project page is kept in memory')
  assert.match(Buffer.from(page.body).toString(), /popular-1\.0\.tar\.gz/)
  const file = await after.files.get(await resolveProjectFile(after.pages, 'popular', popular.filename))
  assert.equal(file.kind, 'cached')
  assert.ok((await bytesOf(file)).equals(popular.bytes))
})

test('a page served only by peekFresh (the hot path) still counts as a use: its body outlives files nobody asks for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-page-lru-'))
  dirs.push(dir)
  const clock = fixedClock(1_700_000_000_000)
  const source = new MemoryPages()
  const upstream = new MemoryUpstream()
  const popularPage = pageBody('popular', [fileOf('popular', '1.0', KiB)])
  source.bodies.set(`${SIMPLE}popular/`, popularPage)
  const fillers = Array.from({ length: 8 }, (_, i) => fileOf('filler', `${i + 1}.0`, 300 * KiB))
  source.bodies.set(`${SIMPLE}filler/`, pageBody('filler', fillers))
  for (const filler of fillers) upstream.serve(filler.url, { bytes: filler.bytes, chunkBytes: 64 * KiB })

  const cache = await open(dir, source, upstream, clock)
  assert.equal((await cache.pages.project('popular', 'json-v1')).cache, 'MISS')
  for (const filler of fillers) {
    // Hits closer together than the touch interval count once; these are a second apart.
    for (let hit = 0; hit < 3; hit += 1) assert.equal(cache.pages.peekFresh('popular', 'json-v1')?.cache, 'HIT')
    clock.advanceMs(1000)
    assert.ok((await bytesOf(await cache.files.get(await resolveProjectFile(cache.pages, 'filler', filler.filename)))).equals(filler.bytes))
  }
  await cache.blobs.flush()
  assert.equal(cache.blobs.has(sha256(fillers[0]?.bytes ?? Buffer.alloc(0))), false, 'eviction ran')
  assert.ok(cache.blobs.has(sha256(popularPage)), "the popular page's body survived")
})
