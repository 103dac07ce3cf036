/**
 * Pages across processes sharing a cache directory (simple-pages.ts with store/flights.ts): two
 * SimplePages over one directory, each with its own stores, stand for two processes. The other
 * process's whole fetch is forced into the instant between this one's look at the store and its
 * taking the page's lock, which a loaded machine produces by chance.
 */
import { afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock, Metrics, silentLogger, type Clock } from '../../../src/base/index.js'
import { DropLog, pourInto, SimplePages, type PageHead, type PageSource } from '../../../src/mirror/index.js'
import type { BodySink } from '../../../src/upstream/index.js'
import { openBlobStore, openRecordStore, type RecordStore } from '../../../src/store/index.js'

const SIMPLE = 'https://index.example/simple/'
const PAGE = Buffer.from(JSON.stringify({ meta: { 'api-version': '1.0' }, name: 'demo', files: [] }))

class CountingPages implements PageSource {
  fetches = 0
  async fetch(url: string) {
    this.fetches += 1
    return { kind: 'page' as const, url, body: PAGE, contentType: 'application/vnd.pypi.simple.v1+json', validators: {}, serial: undefined }
  }

  async fetchInto(url: string, _previous: unknown, open: (head: PageHead) => BodySink) {
    return pourInto(await this.fetch(url), open)
  }
}

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function openPages(dir: string, source: PageSource, clock: Clock, wrapRecords: (records: RecordStore) => RecordStore = (records) => records): Promise<SimplePages> {
  const metrics = new Metrics()
  const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: Infinity, fsync: false, clock })
  const records = wrapRecords(await openRecordStore({ dir: join(dir, 'records') }))
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  return new SimplePages({ upstreamUrl: SIMPLE, indexTtlSeconds: 3600, isAllowedUrl: () => true }, { blobs, records, clock, logger: silentLogger, metrics, drops, source })
}

describe('pages across processes', () => {
  test('a process that found no page, and then the lock free because another process just stored the page, serves that page without fetching it again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-page-flight-'))
    dirs.push(dir)
    const clock = fixedClock(Date.now())
    const source = new CountingPages()
    const other = await openPages(dir, source, clock)
    let isFirstLook = true
    const pages = await openPages(dir, source, clock, (records) => ({
      ...records,
      get: async (namespace, key) => {
        const found = await records.get(namespace, key)
        if (isFirstLook) {
          isFirstLook = false
          // Nothing stored when this process looked; the other one fetches, stores and lets go now.
          assert.equal(found, undefined)
          assert.equal((await other.project('demo', 'json-v1')).cache, 'MISS')
        }
        return found
      },
    }))
    const page = await pages.project('demo', 'json-v1')
    assert.equal(source.fetches, 1, 'one fetch across both processes')
    assert.equal(page.cache, 'MISS')
  })
})
