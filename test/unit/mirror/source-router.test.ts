/**
 * The source router's rules with in-process sources that record every question they are asked:
 * routes first, private sources before public ones, a source that cannot answer stops the search
 * (fail closed), ownership recorded on disk and kept across a new router, and the merged list.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Metrics, silentLogger } from '../../../src/base/index.js'
import type { ProjectFile } from '../../../src/index/index.js'
import { FirstSeen, NotFoundError, OwnershipRecords, PolicyLog, SourceRouter, UnavailableError, type FileResult, type PageRefresh, type Route, type Source, type SourceNames, type SourcePage } from '../../../src/mirror/index.js'
import { ReleasePolicy } from '../../../src/policy/index.js'
import { openRecordStore, type RecordStore } from '../../../src/store/index.js'

class FakeSource implements Source {
  readonly asked: string[] = []
  readonly refreshed: string[] = []
  isDown = false
  constructor(
    readonly name: string,
    readonly isPublic: boolean,
    readonly projects: Set<string>,
  ) {}

  async has(project: string): Promise<boolean> {
    this.asked.push(project)
    if (this.isDown) throw new UnavailableError(`${this.name} is down`, { cause: new Error('down') })
    return this.projects.has(project)
  }

  async page(project: string): Promise<SourcePage> {
    this.asked.push(project)
    if (this.isDown) throw new UnavailableError(`${this.name} is down`, { cause: new Error('down') })
    if (!this.projects.has(project)) throw new NotFoundError(`${this.name} has no ${project}`)
    return { page: { name: project, meta: { apiVersion: '1.1' }, files: [] }, cache: 'MISS', serial: undefined, identity: `${this.name}:${project}` }
  }

  async refresh(project: string, nowMs: number): Promise<PageRefresh> {
    this.refreshed.push(project)
    return { outcome: 'unchanged', serial: undefined, previousSerial: undefined, fetchedAtMs: nowMs }
  }

  peekPage(): SourcePage | undefined {
    return undefined
  }

  file(_project: string, _fileName: string, _listed: ProjectFile): Promise<FileResult> {
    throw new Error('not used')
  }

  async names(): Promise<SourceNames> {
    return { names: [...this.projects], cache: 'HIT', identity: [...this.projects].join() }
  }
}

function router(sources: readonly Source[], records: RecordStore, routes: readonly Route[] = [], policy?: ReleasePolicy): { router: SourceRouter; log: PolicyLog } {
  const clock = { nowMs: () => 1_000 }
  const log = new PolicyLog({ logger: silentLogger, metrics: new Metrics(), nowMs: clock.nowMs })
  return {
    router: new SourceRouter({
      sources,
      routes,
      policy,
      ownership: new OwnershipRecords({ records, logger: silentLogger }),
      firstSeen: new FirstSeen({ records, logger: silentLogger }),
      policyLog: log,
      clock,
      logger: silentLogger,
    }),
    log,
  }
}

async function records(): Promise<RecordStore> {
  return openRecordStore({ dir: mkdtempSync(join(tmpdir(), 'tuf-proxy-router-')) })
}

/** A source whose one project lists these files and PEP 700 versions. */
class ListingSource extends FakeSource {
  constructor(
    project: string,
    readonly files: readonly string[],
    readonly versions: readonly string[],
  ) {
    super('pypi', true, new Set([project]))
  }

  override async page(project: string): Promise<SourcePage> {
    const listed = await super.page(project)
    const files: ProjectFile[] = this.files.map((filename) => ({ filename, url: `http://upstream.test/${filename}`, hashes: {}, yanked: false, coreMetadata: false }))
    return { ...listed, page: { ...listed.page, files, versions: this.versions } }
  }
}

describe('source router', () => {
  test('PEP 700 versions: a version whose files are all hidden leaves the list, however the list spells it', async () => {
    const source = new ListingSource('demo', ['demo-1.0.0.tar.gz', 'demo-1.0.0-py3-none-any.whl', 'demo-2.0.tar.gz'], ['1.0', '2.0'])
    const policy = new ReleasePolicy({ minReleaseAgeSeconds: 0, releaseAgeClock: 'upload-time', missingUploadTime: 'allow', exempt: [], deny: ['demo==1.0'], allowOnly: [], yanked: 'serve' })
    const { router: r } = router([source], await records(), [], policy)
    const page = await r.project('demo', 'json-v1')
    const json = JSON.parse(Buffer.from(page.body as Uint8Array).toString('utf8')) as { versions: string[]; files: { filename: string }[] }
    assert.deepEqual(json.files.map((file) => file.filename), ['demo-2.0.tar.gz'])
    assert.deepEqual(json.versions, ['2.0'], 'version 1.0, spelt 1.0.0 in its file names, is hidden with its files')
  })

  test('private sources are asked first whatever the list order; the public one never hears a private name', async () => {
    const pypi = new FakeSource('pypi', true, new Set(['acme-utils', 'six']))
    const internal = new FakeSource('internal', false, new Set(['acme-utils']))
    const { router: r } = router([pypi, internal], await records())
    await r.project('acme-utils', 'json-v1')
    await r.project('six', 'json-v1')
    assert.deepEqual(pypi.asked, ['six', 'six'])
    assert.ok(internal.asked.includes('acme-utils'))
  })

  test('a private source that cannot answer stops the search: fail closed', async () => {
    const pypi = new FakeSource('pypi', true, new Set(['acme-utils']))
    const internal = new FakeSource('internal', false, new Set(['acme-utils']))
    internal.isDown = true
    const { router: r } = router([internal, pypi], await records())
    await assert.rejects(r.project('acme-utils', 'json-v1'), UnavailableError)
    await assert.rejects(r.file('acme-utils', 'acme_utils-99.0-py3-none-any.whl'), UnavailableError)
    assert.deepEqual(pypi.asked, [])
  })

  test('ownership is recorded on disk: a new router asks the owner alone, and its 404 is a 404, not a fall-through', async () => {
    const store = await records()
    const internal = new FakeSource('internal', false, new Set(['acme-utils']))
    const pypi = new FakeSource('pypi', true, new Set(['acme-utils']))
    await router([internal, pypi], store).router.project('acme-utils', 'json-v1')
    internal.projects.delete('acme-utils')
    const { router: restarted } = router([internal, pypi], store)
    await assert.rejects(restarted.project('acme-utils', 'json-v1'), NotFoundError)
    assert.deepEqual(pypi.asked, [])
  })

  test('a refresh asks the recorded owner alone; after forgetting the owner, the sources are asked again in order', async () => {
    const store = await records()
    const internal = new FakeSource('internal', false, new Set(['acme-utils']))
    const pypi = new FakeSource('pypi', true, new Set(['acme-utils', 'six']))
    const ownership = new OwnershipRecords({ records: store, logger: silentLogger })
    const { router: r } = router([internal, pypi], store)
    const first = await r.refresh('acme-utils')
    assert.equal(first.source, 'internal')
    assert.equal(first.refresh.outcome, 'unchanged')
    assert.deepEqual([internal.refreshed, pypi.refreshed, pypi.asked], [['acme-utils'], [], []])
    const unknown = await r.refresh('nobody-has-it')
    assert.equal(unknown.source, undefined)
    assert.ok(unknown.refresh.outcome === 'failed' && unknown.refresh.error instanceof NotFoundError)
    // The operator moves acme-utils: the internal index no longer has it, its owner is forgotten.
    internal.projects.delete('acme-utils')
    assert.equal((await ownership.forget('acme-utils'))?.source, 'internal')
    assert.equal(await ownership.get('acme-utils'), undefined)
    const { router: restarted } = router([internal, pypi], store)
    assert.equal((await restarted.refresh('acme-utils')).source, 'pypi')
  })

  test('routes: the first matching route names the sources, a public one included; others keep the default order', async () => {
    const internal = new FakeSource('internal', false, new Set(['acme-utils', 'requests']))
    const pypi = new FakeSource('pypi', true, new Set(['requests', 'acme-utils']))
    const store = await records()
    const routes: Route[] = [
      { projects: ['Requests'], sources: ['pypi'] },
      { projects: ['acme-*'], sources: ['internal'] },
    ]
    const { router: r } = router([internal, pypi], store, routes)
    await r.project('requests', 'json-v1')
    assert.deepEqual(internal.asked, [], 'a routed project is asked of its route only')
    assert.deepEqual(pypi.asked, ['requests', 'requests'])
    // A recorded owner the route no longer names is not asked: the route's sources are.
    const other = router([internal, pypi], store, [{ projects: ['requests'], sources: ['internal'] }]).router
    await other.project('requests', 'json-v1')
    assert.deepEqual(internal.asked, ['requests', 'requests'])
  })

  test('the merged list holds each name once; a private name in a public list is one collision', async () => {
    const internal = new FakeSource('internal', false, new Set(['acme-utils', 'Shared']))
    const pypi = new FakeSource('pypi', true, new Set(['acme-utils', 'six', 'shared']))
    const { router: r, log } = router([internal, pypi], await records())
    const list = await r.index('json-v1')
    const names = (JSON.parse(Buffer.from(list.body as Uint8Array).toString('utf8')) as { projects: { name: string }[] }).projects.map((project) => project.name)
    assert.deepEqual(names.sort(), ['Shared', 'acme-utils', 'six'])
    await r.index('html-v1')
    assert.deepEqual(log.recent().collisions.map((collision) => collision.project).sort(), ['acme-utils', 'shared'])
    assert.deepEqual(pypi.asked, [], 'found from the list alone')
  })
})
