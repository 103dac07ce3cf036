/**
 * Verifying mode, pages across a refresh: a page whose TUF lookup ran under one verified state
 * but whose bytes arrived after a newer state was adopted is labelled with the state it was
 * checked under, so the first request after the refresh checks it again (issue 8, "fresh
 * answers"). Real TufSession, TufMirror and SimplePages; the repository is the simulator.
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

test('a page checked under generation g but stored after g+1 was adopted is checked again under g+1', async () => {
  const sim = new RepositorySimulator()
  sim.addTarget('targets', 'simple/bar/index.html', page('bar', '1.0')).updateSnapshot()
  const clock = fixedClock(sim.nowMs)
  const { session } = await openMemorySession({ sim, clock })
  const dir = await mkdtemp(join(tmpdir(), 'review-'))
  const metrics = new Metrics()
  const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: 1 << 24, fsync: false, clock })
  const records = await openRecordStore({ dir: join(dir, 'records') })
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  let gate: (() => void) | undefined
  const upstream = {
    async getBytes(url: string) {
      const path = url.slice(TARGETS.length)
      const body = sim.fetchTarget(path) // the bytes as of the request
      if (!body) throw new Error(`no target ${path}`)
      if (gate === undefined && path.includes('bar')) await new Promise<void>((resolve) => (gate = resolve))
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
  clock.advanceMs(59_000)
  const first = pages.project('bar', 'html' as never) // lookup under generation 1, download held
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(gate, 'the page download is in flight')
  // the repository publishes bar 2.0, and the refresh that is now due adopts it
  sim.addTarget('targets', 'simple/bar/index.html', page('bar', '2.0')).updateSnapshot()
  clock.advanceMs(2_000)
  await tuf.metadata('timestamp.json')
  assert.deepEqual(await tuf.metadata('timestamp.json'), sim.currentBytes('timestamp'), 'TUF clients now get the new state')
  gate()
  await first // answered from generation 1: allowed, the request started before the refresh
  const later = await pages.project('bar', 'html' as never)
  const text = Buffer.from(later.body as Uint8Array).toString()
  assert.match(text, /bar-2\.0/, `a request after the refresh is answered from the new state, got ${later.cache}: ${text.slice(0, 200)}`)
})
