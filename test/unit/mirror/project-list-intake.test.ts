/**
 * Issue 9, `/simple/`: the project list goes from the upstream to disk as it arrives
 * (project-list-intake.ts), through the real upstream client against a node:http upstream on
 * loopback and a real blob store in a temp directory. The renderings are byte-identical to
 * parse-then-render's; a list is on its way to disk before the upstream has sent all of it; a
 * list refused as truncated, too large, malformed or older is refused for the same reason as
 * when lists were fetched whole, the last good list is served, and nothing of the refused one is
 * left in the store; renderings evicted are rendered again from the stored upstream bytes, and
 * damaged stored bytes are removed rather than rendered.
 */
import { afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock, Metrics, silentLogger } from '../../../src/base/index.js'
import { parseProjectListHtml, parseProjectListJson, renderProjectListHtml, renderProjectListJson, type SimpleFormat } from '../../../src/index/index.js'
import { DropLog, httpPageSource, SimplePages, type StoredBody } from '../../../src/mirror/index.js'
import { openBlobStore, openRecordStore, type BlobStore, type BlobWriter } from '../../../src/store/index.js'
import { createUpstreamClient } from '../../../src/upstream/index.js'
import { startServer, testUpstreamOptions, type TestServer } from '../upstream/test-server.js'

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'
const TTL_SECONDS = 60
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function names(count: number, prefix = 'project'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i.toString(36)}-Name`)
}

function jsonList(projects: readonly string[], serial: number, options: { isMetaLast?: boolean; note?: string } = {}): Buffer {
  const meta = { 'api-version': '1.1', '_last-serial': serial, ...(options.note === undefined ? {} : { 'x-note': options.note }) }
  const entries = projects.map((name) => ({ name }))
  return Buffer.from(JSON.stringify(options.isMetaLast ? { projects: entries, meta } : { meta, projects: entries }))
}

function htmlList(projects: readonly string[], serial: number): Buffer {
  const links = projects.map((name) => `<a href="/simple/${name.toLowerCase()}/">${name}</a><br/>`).join('\n')
  return Buffer.from(`<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0"><title>Simple index</title></head><body>\n${links}\n</body></html>\n<!--SERIAL ${serial}-->\n`)
}

/** What parse-then-render makes of `body`, per format served. */
function expected(body: Buffer, isJson: boolean): Map<SimpleFormat, Buffer> {
  const text = body.toString('utf8')
  const list = isJson ? parseProjectListJson(text, 'x') : parseProjectListHtml(text, 'x')
  const html = Buffer.from(renderProjectListHtml(list), 'utf8')
  return new Map([
    ['text-html', html],
    ['html-v1', html],
    ['json-v1', Buffer.from(renderProjectListJson(list), 'utf8')],
  ])
}

async function readStored(body: Uint8Array | StoredBody): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body)
  const reader = await body.open()
  try {
    const bytes = Buffer.alloc(body.byteLength)
    for (let position = 0; position < bytes.byteLength; ) {
      const count = await reader.read(bytes.subarray(position), position, bytes.byteLength - position)
      assert.ok(count > 0, 'the stored rendering is as long as said')
      position += count
    }
    return bytes
  } finally {
    await reader.close()
  }
}

/** A blob store whose writers tell `onWrite` after each write: a wrapper, the store itself is the real one. */
function watchingWrites(blobs: BlobStore, onWrite: () => void): BlobStore {
  const watchWriter = (writer: BlobWriter): BlobWriter =>
    new Proxy(writer, {
      get(target, property) {
        if (property === 'write') {
          return async (chunks: Uint8Array | readonly Uint8Array[]) => {
            await target.write(chunks)
            onWrite()
          }
        }
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  return new Proxy(blobs, {
    get(target, property) {
      if (property === 'createWriter') return async (options?: { verifiedSha256?: string }) => watchWriter(await target.createWriter(options))
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

interface Rig {
  readonly server: TestServer
  readonly pages: SimplePages
  readonly blobs: BlobStore
  readonly drops: DropLog
  readonly clock: ReturnType<typeof fixedClock>
  readonly dir: string
  /** a SimplePages over the same directory, as after a restart */
  reopen(): Promise<SimplePages>
}

async function rig(options: { maxPageBytes?: number; onWrite?: () => void } = {}): Promise<Rig> {
  const server = await startServer()
  cleanups.push(() => server.close())
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-list-intake-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const clock = fixedClock(Date.now())
  const upstream = createUpstreamClient(testUpstreamOptions(server, { connectTimeoutMs: 5000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, deadlineMs: 20_000 }))
  cleanups.push(() => upstream.close())
  const metrics = new Metrics()
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  const open = async () => {
    const store = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: Infinity, fsync: false, clock })
    const blobs = options.onWrite ? watchingWrites(store, options.onWrite) : store
    const records = await openRecordStore({ dir: join(dir, 'records') })
    const pages = new SimplePages(
      { upstreamUrl: `${server.origin}/simple/`, indexTtlSeconds: TTL_SECONDS, isAllowedUrl: () => true },
      { source: httpPageSource(upstream, options.maxPageBytes ?? 64 * 1024 * 1024), blobs, records, clock, logger: silentLogger, metrics, drops },
    )
    return { blobs: store, pages }
  }
  const { blobs, pages } = await open()
  return { server, pages, blobs, drops, clock, dir, reopen: async () => (await open()).pages }
}

function serve(server: TestServer, body: Buffer, headers: Record<string, string>): void {
  server.route('/simple/', (_req, res) => res.writeHead(200, { 'Content-Length': String(body.byteLength), ...headers }).end(body))
}

/** @param cache the first answer's cache status (the others are from memory) */
async function assertServes(pages: SimplePages, want: Map<SimpleFormat, Buffer>, cache: string): Promise<void> {
  for (const [format, bytes] of want) {
    const answer = await pages.index(format)
    assert.equal(answer.cache, format === want.keys().next().value ? cache : 'HIT', format)
    assert.ok(!(answer.body instanceof Uint8Array), 'the list is served from a stored blob')
    const got = await readStored(answer.body)
    assert.equal(got.byteLength, bytes.byteLength, `${format}: length`)
    assert.ok(got.equals(bytes), `${format}: byte-identical to parse-then-render`)
  }
}

const blobSet = (blobs: BlobStore) => new Set(blobs.entries().map((entry) => entry.sha256))

describe('the project list from the upstream to disk as it arrives', () => {
  for (const [label, body, contentType] of [
    ['PEP 691 JSON', jsonList(names(60_000), 10), JSON_TYPE],
    ['PEP 691 JSON, meta after the projects (the renderings are begun with a guessed head and written again)', jsonList(names(60_000), 10, { isMetaLast: true }), JSON_TYPE],
    ['PEP 691 JSON with a meta larger than one write (1.2 MB of non-ASCII text)', jsonList(names(60_000), 10, { note: '\u00e9'.repeat(600_000) }), JSON_TYPE],
    ['PEP 503 HTML', htmlList(names(60_000), 10), 'text/html'],
  ] as const) {
    test(`${label}: the renderings are byte-identical to parse-then-render, and stored with the upstream's bytes`, async () => {
      const { server, pages, blobs, dir } = await rig()
      serve(server, body, { 'Content-Type': contentType })
      const want = expected(body, contentType === JSON_TYPE)
      assert.ok((want.get('html-v1')?.byteLength ?? 0) > 2 * 1024 * 1024, 'the renderings span several writes')
      await assertServes(pages, want, 'MISS')
      const stored = blobSet(blobs)
      assert.deepEqual(stored, new Set([sha256(body), ...[...want.values()].map(sha256)]), 'the upstream body and the two renderings, nothing else')
      assert.deepEqual(await readdir(join(dir, 'blobs', 'tmp')), [], 'no temporary file is left')
    })
  }

  test('the list is written to disk while the upstream still holds the rest of it back', async () => {
    let hasWritten = () => undefined as void
    const written = new Promise<void>((resolve) => (hasWritten = resolve))
    const { server, pages } = await rig({ onWrite: () => hasWritten() })
    const body = jsonList(names(150_000), 10)
    const half = Math.floor(body.byteLength / 2)
    server.route('/simple/', (_req, res) => {
      res.writeHead(200, { 'Content-Length': String(body.byteLength), 'Content-Type': JSON_TYPE })
      res.write(body.subarray(0, half))
      // A proxy that held the list whole before writing any of it would wait here until the deadline.
      void written.then(() => res.end(body.subarray(half)))
    })
    await assertServes(pages, expected(body, true), 'MISS')
  })

  const good = jsonList(names(30_000), 10)
  const refusals: ReadonlyArray<{ readonly name: string; readonly reason: string; readonly maxPageBytes?: number; readonly route: (server: TestServer) => void }> = [
    {
      name: 'truncated',
      reason: 'upstream_protocol',
      route: (server) => {
        const body = jsonList(names(80_000, 'cut'), 11)
        server.route('/simple/', (req, res) => {
          res.writeHead(200, { 'Content-Length': String(body.byteLength), 'Content-Type': JSON_TYPE })
          res.write(body.subarray(0, Math.floor(body.byteLength * 0.7)), () => req.socket.destroy())
        })
      },
    },
    {
      name: 'larger than --max-page-bytes, found as it grows (no Content-Length)',
      reason: 'upstream_too_large',
      maxPageBytes: 1024 * 1024,
      route: (server) => {
        const body = jsonList(names(80_000, 'big'), 11)
        server.route('/simple/', (_req, res) => {
          res.writeHead(200, { 'Content-Type': JSON_TYPE })
          res.end(body)
        })
      },
    },
    {
      name: 'malformed halfway through',
      reason: 'malformed_index',
      route: (server) => {
        const body = jsonList(names(80_000, 'bad'), 11)
        const at = body.indexOf('},{', Math.floor(body.byteLength / 2))
        serve(server, Buffer.concat([body.subarray(0, at), Buffer.from('},,{'), body.subarray(at + 3)]), { 'Content-Type': JSON_TYPE })
      },
    },
    {
      name: 'older than the last good list (a lower serial)',
      reason: 'serial_regression',
      route: (server) => serve(server, jsonList(names(80_000, 'old'), 5), { 'Content-Type': JSON_TYPE, 'X-PyPI-Last-Serial': '5' }),
    },
  ]
  for (const refusal of refusals) {
    test(`a list ${refusal.name} is refused (${refusal.reason}), the last good one is served, and nothing of it is left in the store`, async () => {
      const { server, pages, blobs, drops, clock, dir } = await rig(refusal.maxPageBytes === undefined ? {} : { maxPageBytes: refusal.maxPageBytes })
      serve(server, good, { 'Content-Type': JSON_TYPE, 'X-PyPI-Last-Serial': '10' })
      const want = expected(good, true)
      await assertServes(pages, want, 'MISS')
      const before = blobSet(blobs)
      refusal.route(server)
      clock.advanceMs((TTL_SECONDS + 1) * 1000)
      const answer = await pages.index('json-v1')
      assert.equal(answer.cache, 'STALE')
      assert.ok((await readStored(answer.body)).equals(want.get('json-v1') ?? Buffer.alloc(0)), 'the last good list')
      assert.equal(drops.recent()[0]?.reason, refusal.reason)
      assert.deepEqual(blobSet(blobs), before, 'no blob of the refused list was committed')
      assert.deepEqual(await readdir(join(dir, 'blobs', 'tmp')), [], 'and no temporary file is left')
    })
  }

  test('renderings evicted are rendered again from the stored upstream bytes; damaged stored bytes are removed, not rendered', async () => {
    const { server, pages, blobs, dir, reopen } = await rig()
    const body = htmlList(names(20_000), 10)
    serve(server, body, { 'Content-Type': 'text/html' })
    const want = expected(body, false)
    await assertServes(pages, want, 'MISS')
    const renderings = [...new Set([...want.values()].map(sha256))]
    for (const digest of renderings) await blobs.delete(digest)
    server.route('/simple/', (_req, res) => res.writeHead(503).end())
    // Restarted with the upstream down: only the stored upstream bytes can give the list back.
    await assertServes(await reopen(), want, 'STALE')

    // Evicted again, and the stored upstream bytes damaged (a planted project in place of one).
    for (const digest of renderings) await blobs.delete(digest)
    const bodyDir = join(dir, 'blobs', 'blobs', sha256(body).slice(0, 2))
    const planted = body.toString('latin1').replace('<a href="/simple/project-0-name/">project-0-Name</a>', '<a href="/simple/planted-0-name/">planted-0-Name</a>')
    assert.notEqual(planted, body.toString('latin1'))
    await writeFile(join(bodyDir, sha256(body)), Buffer.from(planted, 'latin1'))
    await assert.rejects((await reopen()).index('html-v1'), (error: unknown) => error instanceof Error && /503/.test(error.message))
    assert.ok(!(await readdir(bodyDir)).includes(sha256(body)), 'the damaged upstream bytes were removed')
  })
})
