/**
 * Verifying mode, project pages across a refresh: real TufSession, TufMirror and SimplePages over
 * the repository simulator. A page is labelled with the verified state its TUF lookup used, so the
 * first request after a refresh checks it again (issue 8, "fresh answers"); and once a newer state
 * is adopted, a page of the older one no longer stands in for a failed revalidation.
 */
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock, Metrics, silentLogger } from '../../../src/base/index.js'
import { DropLog, Files, SimplePages, TufMirror, pathsLayout } from '../../../src/mirror/index.js'
import { openBlobStore, openRecordStore } from '../../../src/store/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { openMemorySession } from '../../helpers/tuf-memory.js'

const TARGETS = 'https://h.example/targets/'
const SIMPLE = `${TARGETS}simple/`
const REFRESH_SECONDS = 60

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

function page(project: string, version: string): Buffer {
  return Buffer.from(`<!DOCTYPE html><html><body><a href="../../packages/${project}-${version}.tar.gz#sha256=${'a'.repeat(64)}">${project}-${version}.tar.gz</a></body></html>`)
}

/**
 * The verifying-mode page stack with `bar` 1.0 published. `deliver` sees each target download
 * (the bytes as the repository serves them at the request) and returns what the upstream sends.
 */
async function setup(deliver: (path: string, body: Uint8Array) => Promise<Uint8Array>) {
  const sim = new RepositorySimulator()
  sim.addTarget('targets', 'simple/bar/index.html', page('bar', '1.0')).updateSnapshot()
  const clock = fixedClock(sim.nowMs)
  const { session } = await openMemorySession({ sim, clock })
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-tuf-pages-'))
  dirs.push(dir)
  const metrics = new Metrics()
  const blobs = await openBlobStore({ dir: join(dir, 'blobs'), maxBytes: 1 << 24, fsync: false, clock })
  const records = await openRecordStore({ dir: join(dir, 'records') })
  const drops = new DropLog({ logger: silentLogger, metrics, nowMs: clock.nowMs })
  const upstream = {
    async getBytes(url: string) {
      const path = url.slice(TARGETS.length)
      const body = sim.fetchTarget(path)
      if (!body) throw new Error(`no target ${path}`)
      return { status: 200, url, headers: {}, body: await deliver(path, body) }
    },
    async getStream() {
      throw new Error('unused')
    },
  } as never
  const files = new Files({ requireHashes: false, maxFileBytes: 1 << 24 }, { upstream, blobs, records, clock, logger: silentLogger, metrics, drops })
  const tuf = new TufMirror(
    { layout: pathsLayout(TARGETS), refreshSeconds: REFRESH_SECONDS, refreshWaitMs: 10_000, maxPageBytes: 1 << 20 },
    { session, upstream, files, blobs, clock, logger: silentLogger, metrics, drops },
  )
  const pages = new SimplePages(
    { upstreamUrl: SIMPLE, indexTtlSeconds: 3600, isAllowedUrl: () => true, canServeStale: () => tuf.isUsable(), trustGeneration: () => tuf.trustGeneration(), recordNamespace: 'tuf-page' },
    { source: tuf.pageSource({ fetch: () => Promise.reject(new Error('unused')), fetchInto: () => Promise.reject(new Error('unused')) }), blobs, records, clock, logger: silentLogger, metrics, drops },
  )
  await tuf.metadata('timestamp.json') // the first refresh: generation 1
  /** The repository publishes bar `version`, and the refresh that is then due adopts it. */
  const release = async (version: string) => {
    sim.addTarget('targets', 'simple/bar/index.html', page('bar', version)).updateSnapshot()
    clock.advanceMs(REFRESH_SECONDS * 1000 + 1000)
    await tuf.metadata('timestamp.json')
    assert.deepEqual(await tuf.metadata('timestamp.json'), sim.currentBytes('timestamp'), 'TUF clients now get the new state')
  }
  return { pages, release }
}

test('a page checked under generation g but stored after g+1 was adopted is checked again under g+1', async () => {
  let gate: (() => void) | undefined
  const { pages, release } = await setup(async (path, body) => {
    if (gate === undefined && path.includes('bar')) await new Promise<void>((resolve) => (gate = resolve))
    return body
  })
  const first = pages.project('bar', 'text-html') // looked up under generation 1, its download held
  // Wait for the download to reach the gate (the page's cross-process lock is taken on disk first).
  const deadlineMs = Date.now() + 5_000
  while (gate === undefined && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.ok(gate, 'the page download is in flight')
  await release('2.0')
  gate()
  await first // answered from generation 1: allowed, the request started before the refresh
  const later = await pages.project('bar', 'text-html')
  const text = Buffer.from(later.body as Uint8Array).toString()
  assert.match(text, /bar-2\.0/, `a request after the refresh is answered from the new state, got ${later.cache}: ${text.slice(0, 200)}`)
})

test('after g+1 is adopted, a failed download of its page is refused, not answered with the page of g', async () => {
  let swap = false
  const { pages, release } = await setup(async (path, body) => (swap && path.includes('bar') ? Buffer.from(body).fill(32, 0, 5) : body))
  await pages.project('bar', 'text-html') // bar 1.0 under generation 1
  swap = true // a mirror swaps the bytes of the new page
  await release('2.0')
  // The state in force vouches only for bar 2.0, whose bytes are swapped: a refusal, as a TUF
  // client behind the proxy gets, never generation 1's page.
  await assert.rejects(pages.project('bar', 'text-html'), (error: unknown) => (error as { code?: string }).code === 'hash_mismatch')
})
