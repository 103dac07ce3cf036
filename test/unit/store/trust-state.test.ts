import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTrustStateStore, StoreError, trustFileName } from '../../../src/store/index.js'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** A parent holding `state/` (the store) and a sibling `outside/`, to catch escapes. */
async function fresh(): Promise<{ parent: string; dir: string }> {
  const parent = await mkdtemp(join(tmpdir(), 'tuf-proxy-trust-'))
  dirs.push(parent)
  const dir = join(parent, 'state')
  await mkdir(join(parent, 'outside'))
  return { parent, dir }
}

describe('trust-state store', () => {
  test('plain metadata names are used verbatim, so an operator can read the directory', async () => {
    const { dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    await state.write('root.json', Buffer.from('{"v":1}'))
    await state.write('2.root.json', Buffer.from('{"v":2}'))
    assert.equal(Buffer.from((await state.read('root.json')) ?? []).toString(), '{"v":1}')
    assert.deepEqual((await readdir(dir)).sort(), ['2.root.json', 'root.json'])
    assert.equal(await state.read('timestamp.json'), undefined)
    await state.remove('root.json')
    assert.equal(await state.read('root.json'), undefined)
  })

  test('hostile role names (TUF delegated role names are remote input) never escape the directory', async () => {
    const { parent, dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    const hostile = ['../x', '/x', '?', '#', '%2F', 'a/b', '..', '.', '../outside/evil', '..\\x', '.hidden', '-rf', 'x\0y', 'é']
    const fileNames = new Set<string>()
    for (const [i, name] of hostile.entries()) {
      await state.write(name, Buffer.from(String(i)))
      assert.equal(Buffer.from((await state.read(name)) ?? []).toString(), String(i), name)
      fileNames.add(trustFileName(name))
    }
    assert.equal(fileNames.size, hostile.length, 'distinct names must map to distinct files')
    assert.deepEqual((await readdir(parent)).sort(), ['outside', 'state'])
    assert.deepEqual(await readdir(join(parent, 'outside')), [])
    const stored = await readdir(dir)
    assert.equal(stored.length, hostile.length)
    for (const file of stored) assert.match(file, /^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$/, file)
    assert.equal(trustFileName('%2F'), '%252F')
    assert.equal(trustFileName('..'), '%2E%2E')
  })

  test('a name whose file name would exceed 255 bytes is refused with StoreError', async () => {
    const { dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    await assert.rejects(state.write('a'.repeat(300), Buffer.from('x')), StoreError)
    await assert.rejects(state.write('/'.repeat(100), Buffer.from('x')), StoreError)
    await assert.rejects(state.write('', Buffer.from('x')), StoreError)
    assert.deepEqual(await readdir(dir), [])
  })

  test('stale temp files are removed on open and never end in .json', async () => {
    const { dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    await state.write('timestamp.json', Buffer.from('{}'))
    await writeFile(join(dir, '.0123abcd.tmp'), '{"trunc')
    await openTrustStateStore({ dir })
    assert.deepEqual(await readdir(dir), ['timestamp.json'])
  })

  test('a symlink planted at the directory is replaced, never swept through (issue 7 item 13)', async () => {
    const { parent, dir } = await fresh()
    await writeFile(join(parent, 'outside', '.canary.tmp'), 'still here')
    await symlink(join(parent, 'outside'), dir)
    const events: string[] = []
    const logger = { log: () => undefined, info: () => undefined, error: () => undefined, warn: (event: string) => void events.push(event) }
    const state = await openTrustStateStore({ dir, logger })
    assert.equal(await readFile(join(parent, 'outside', '.canary.tmp'), 'utf8'), 'still here')
    assert.ok((await lstat(dir)).isDirectory())
    assert.deepEqual(events, ['store_symlink_replaced'])
    await state.write('root.json', Buffer.from('{}'))
    assert.deepEqual(await readdir(join(parent, 'outside')), ['.canary.tmp'])
  })
})

describe('trust-state store: the metadata set is replaced as one', () => {
  const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString())

  test('writeSet replaces the non-root files at once, carrying other roles over; roots stay; a reopened store reads the new set', async () => {
    const { dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    await state.write('root.json', Buffer.from('root'))
    await state.writeSet(new Map([['timestamp.json', Buffer.from('ts1')], ['snapshot.json', Buffer.from('snap1')], ['claimed.json', Buffer.from('claimed1')]]))
    await state.writeSet(new Map([['timestamp.json', Buffer.from('ts2')], ['snapshot.json', Buffer.from('snap2')]]))
    const reopened = await openTrustStateStore({ dir })
    assert.equal(text(await reopened.read('timestamp.json')), 'ts2')
    assert.equal(text(await reopened.read('snapshot.json')), 'snap2')
    assert.equal(text(await reopened.read('claimed.json')), 'claimed1', 'a role the new set does not replace is carried over as a cache')
    assert.equal(text(await reopened.read('root.json')), 'root')
    assert.equal((await readdir(dir)).filter((name) => name.startsWith('set-')).length, 1, 'the old set directory is removed')
  })

  test('a crash before CURRENT is renamed leaves the old set in force, whole', async () => {
    const { dir } = await fresh()
    const state = await openTrustStateStore({ dir })
    await state.writeSet(new Map([['timestamp.json', Buffer.from('ts1')], ['snapshot.json', Buffer.from('snap1')]]))
    // What a kill -9 between writing a new set's files and the switch leaves behind.
    await mkdir(join(dir, 'set-0123456789ab'))
    await writeFile(join(dir, 'set-0123456789ab', 'timestamp.json'), 'ts2')
    const reopened = await openTrustStateStore({ dir })
    assert.equal(text(await reopened.read('timestamp.json')), 'ts1')
    assert.equal(text(await reopened.read('snapshot.json')), 'snap1')
  })

  test('write adds a file to the set in force; before any set, files sit beside the roots (the earlier layout)', async () => {
    const { dir } = await fresh()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'timestamp.json'), 'legacy')
    const state = await openTrustStateStore({ dir })
    assert.equal(text(await state.read('timestamp.json')), 'legacy')
    await state.writeSet(new Map([['timestamp.json', Buffer.from('ts1')]]))
    await state.write('claimed.json', Buffer.from('claimed'))
    const reopened = await openTrustStateStore({ dir })
    assert.equal(text(await reopened.read('timestamp.json')), 'ts1')
    assert.equal(text(await reopened.read('claimed.json')), 'claimed')
    assert.ok(!(await readdir(dir)).includes('timestamp.json'), 'the earlier layout is cleared once a set is in force')
  })

  test('a CURRENT that names no set is refused with a message saying what to do', async () => {
    const { dir } = await fresh()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'CURRENT'), '../../etc\n')
    await assert.rejects(openTrustStateStore({ dir }), (error: unknown) => error instanceof StoreError && /does not name a metadata set/.test(error.message))
  })
})

describe('trust-state store: two writers of one directory', () => {
  test('a file written after another store put a newer set in force joins that set instead of failing', async () => {
    const { dir } = await fresh()
    const first = await openTrustStateStore({ dir })
    await first.writeSet(new Map([['timestamp.json', Buffer.from('ts1')]]))
    const second = await openTrustStateStore({ dir })
    await second.writeSet(new Map([['timestamp.json', Buffer.from('ts2')]]))
    await first.write('bin-1.json', Buffer.from('bin'))
    const reopened = await openTrustStateStore({ dir })
    assert.equal(Buffer.from((await reopened.read('bin-1.json')) ?? []).toString(), 'bin')
    assert.equal(Buffer.from((await reopened.read('timestamp.json')) ?? []).toString(), 'ts2')
  })
})
