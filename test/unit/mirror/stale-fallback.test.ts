/**
 * Verifying mode, fallback: once a newer verified state is adopted, a page of the older state no
 * longer stands in for a failed revalidation; pip gets the refusal a TUF client gets.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fixedClock, Metrics, silentLogger } from '../../../src/base/index.js'
import { DropLog, Files, SimplePages, TufMirror, pathsLayout } from '../../../src/mirror/index.js'
import { openBlobStore, openRecordStore } from '../../../src/store/index.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { openMemorySession } from '../../helpers/tuf-memory.js'

const TARGETS = 'https://h.example/targets/'
const SIMPLE = `${TARGETS}simple/`

function page(project: string, version: string): Buffer {
  return Buffer.from(`<!DOCTYPE html><html><body><a href="../../packages/${project}-${version}.tar.gz#sha256=${'a'.repeat(64)}">${project}-${version}.tar.gz</a></body></html>`)
}

test('after g+1 is adopted, a failed download of its page is refused, not answered with the page of g', async () => {
  const sim = new RepositorySimulator()
  sim.addTarget('targets', 'simple/bar/index.html', page('bar', '1.0')).updateSnapshot()
  const clock = fixedClock(sim.nowMs)
  const { session } = await openMemorySession({ sim, clock })
  const dir = await mkdtemp(join(tmpdir(), 'review-'))
  const metrics = new Metrics()
  const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: 1 << 24, fsync: false, clock })
  const records = await openRecordStore({ dir: join(dir, 'records') })
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  let swap = false
  const upstream = {
    async getBytes(url: string) {
      const path = url.slice(TARGETS.length)
      const body = sim.fetchTarget(path) // the bytes as of the request
      if (!body) throw new Error(`no target ${path}`)
      if (swap && path.includes('bar')) return { status: 200, url, headers: {}, body: Buffer.from(body).fill(32, 0, 5) }
      return { status: 200, url, headers: {}, body }
    },
    async getStream() {
      throw new Error('unused')
    },
  } as never
  const files = new Files({ requireHashes: false, maxFileBytes: 1 << 24 }, { upstream, blobs, records, clock, logger: silentLogger, metrics, drops })
  const tuf = new TufMirror(
    { layout: pathsLayout(TARGETS), refreshSeconds: 60, refreshWaitMs: 10_000, maxPageBytes: 1 << 20 },
    { session, upstream, files, blobs, clock, logger: silentLogger, metrics, drops },
  )
  const pages = new SimplePages(
    { upstreamUrl: SIMPLE, indexTtlSeconds: 3600, isAllowedUrl: () => true, canServeStale: () => tuf.isUsable(), trustGeneration: () => tuf.trustGeneration(), recordNamespace: 'tuf-page' },
    { source: tuf.pageSource({ fetch: () => Promise.reject(new Error('unused')) }), blobs, records, clock, logger: silentLogger, metrics, drops },
  )
  await tuf.metadata('timestamp.json') // first refresh: generation 1
  await pages.project('bar', 'html' as never) // bar 1.0 under generation 1
  sim.addTarget('targets', 'simple/bar/index.html', page('bar', '2.0')).updateSnapshot()
  swap = true // a mirror swaps the bytes of the new page
  clock.advanceMs(61_000)
  await tuf.metadata('timestamp.json') // generation 2 adopted
  // The state in force vouches only for bar 2.0, whose bytes are swapped: a refusal, as a TUF
  // client behind the proxy gets, never generation 1's page.
  await assert.rejects(pages.project('bar', 'html' as never), (error: unknown) => (error as { code?: string }).code === 'hash_mismatch')
})
