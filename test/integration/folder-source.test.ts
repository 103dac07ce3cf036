/**
 * A local folder of wheels as a private source, through the real proxy process and Debian's pip:
 * pages generated with sha256, PEP 700 size and upload-time (the mtime), PEP 658 metadata from
 * the wheel and requires-python from it; a wheel dropped in or removed while running is seen
 * without a restart; and the public index next to it never hears the folder's names.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { pipDownload, requirePip } from '../helpers/pip.js'
import { buildWheel } from '../helpers/wheels.js'

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json'

interface JsonFile {
  filename: string
  hashes: Record<string, string>
  size: number
  'upload-time': string
  'requires-python'?: string
  'core-metadata': Record<string, string> | false
}

describe('local folder source', () => {
  let publicIndex: FakeUpstream
  let folder: string
  let config: string
  const first = buildWheel('acme-local', '1.0', '', { requiresPython: '>=3.7', deflate: true })
  const second = buildWheel('acme-local', '1.1')
  const six = buildWheel('six', '1.16.0')

  before(async () => {
    publicIndex = await new FakeUpstream().start()
    publicIndex.addProject('six', [{ filename: six.filename, bytes: six.bytes }])
    const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-folder-'))
    folder = mkdtempSync(join(dir, 'wheels-'))
    writeFileSync(join(folder, first.filename), first.bytes)
    writeFileSync(join(folder, 'notes.txt'), 'not a distribution')
    config = join(dir, 'config.yaml')
    writeFileSync(config, `sources:\n  - name: local\n    path: ${folder}\n  - name: pypi\n    url: ${publicIndex.simpleUrl}\n    public: true\n`)
  })
  after(() => publicIndex.stop())

  test('pages, files and PEP 658 metadata from the folder; files added and removed while running are seen', requirePip(), async (t) => {
    const proxy = await ProxyProcess.start(['--config', config])
    t.after(() => proxy.dispose())

    const page = JSON.parse((await get(`${proxy.url}/simple/acme-local/`, { accept: JSON_ACCEPT })).text) as { meta: Record<string, unknown>; files: JsonFile[] }
    assert.equal(page.meta['api-version'], '1.1')
    const [entry] = page.files
    assert.ok(entry)
    assert.equal(page.files.length, 1)
    assert.equal(entry.filename, first.filename)
    assert.deepEqual(entry.hashes, { sha256: first.sha256 })
    assert.equal(entry.size, first.bytes.byteLength)
    assert.equal(entry['upload-time'], new Date(statSync(join(folder, first.filename)).mtimeMs).toISOString())
    assert.equal(entry['requires-python'], '>=3.7')
    assert.deepEqual(entry['core-metadata'], { sha256: createHash('sha256').update(first.metadata).digest('hex') })
    const metadata = await get(`${proxy.url}/files/acme-local/${first.filename}.metadata`)
    assert.equal(metadata.status, 200)
    assert.deepEqual(metadata.body, first.metadata)

    const pipFirst = await pipDownload(`${proxy.url}/simple/`, 'acme-local')
    assert.equal(pipFirst.status, 0, pipFirst.stderr)
    assert.deepEqual(pipFirst.files, [first.filename])

    // Dropped in while running: seen by the next request, no restart.
    writeFileSync(join(folder, second.filename), second.bytes)
    const pipSecond = await pipDownload(`${proxy.url}/simple/`, 'acme-local')
    assert.equal(pipSecond.status, 0, pipSecond.stderr)
    assert.deepEqual(pipSecond.files, [second.filename])

    // Removed while running: gone from the page and from the file route.
    rmSync(join(folder, second.filename))
    const after = JSON.parse((await get(`${proxy.url}/simple/acme-local/`, { accept: JSON_ACCEPT })).text) as { files: JsonFile[] }
    assert.deepEqual(after.files.map((file) => file.filename), [first.filename])
    assert.equal((await get(`${proxy.url}/files/acme-local/${second.filename}`)).status, 404)

    // The list is the union; public projects still come from the public index.
    const list = JSON.parse((await get(`${proxy.url}/simple/`, { accept: JSON_ACCEPT })).text) as { projects: { name: string }[] }
    assert.deepEqual(list.projects.map((project) => project.name).sort(), ['acme-local', 'six'])
    assert.equal((await get(`${proxy.url}/files/six/${six.filename}`)).status, 200)
    assert.deepEqual(publicIndex.log.map((line) => line.path).filter((path) => path.includes('acme')), [], 'the names in the folder never reach the public index')
  })
})
