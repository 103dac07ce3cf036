import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '../../../src/base/index.js'
import { openRecordStore } from '../../../src/store/index.js'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-records-'))
  dirs.push(dir)
  return dir
}
function recordPath(dir: string, namespace: string, key: string): string {
  const name = sha256Hex(Buffer.from(key))
  return join(dir, namespace, name.slice(0, 2), name)
}

describe('record store', () => {
  test('put then get round-trips JSON; absent keys are undefined; delete removes', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    const value = { etag: '"abc"', serial: 42, fetchedAtMs: 1_700_000_000_000, blob: 'ab'.repeat(32) }
    await records.put('simple-pages', 'requests', value)
    assert.deepEqual(await records.get('simple-pages', 'requests'), value)
    assert.equal(await records.get('simple-pages', 'other'), undefined)
    assert.equal(await records.get('other-ns', 'requests'), undefined)
    await records.delete('simple-pages', 'requests')
    assert.equal(await records.get('simple-pages', 'requests'), undefined)
    await records.delete('simple-pages', 'requests')
  })

  test('list returns every record of a namespace and skips temp files, corrupt files and files under another key\'s name', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    assert.deepEqual(await records.list('page'), [], 'an absent namespace lists nothing')
    await records.put('page', 'alpha', { n: 1 })
    await records.put('page', 'beta', { n: 2 })
    await records.put('file', 'http://x/a.whl', { n: 3 })
    await writeFile(join(dir, 'page', sha256Hex(Buffer.from('alpha')).slice(0, 2), '.0123456789abcdef.tmp'), '{"key":"gamma","value":1}')
    const corrupt = recordPath(dir, 'page', 'corrupt')
    await mkdir(join(corrupt, '..'), { recursive: true })
    await writeFile(corrupt, '{not json')
    const misplaced = recordPath(dir, 'page', 'misplaced')
    await mkdir(join(misplaced, '..'), { recursive: true })
    await writeFile(misplaced, JSON.stringify({ key: 'alpha', value: { n: 9 } }))
    const listed = (await records.list('page')).sort((x, y) => x.key.localeCompare(y.key))
    assert.deepEqual(listed, [{ key: 'alpha', value: { n: 1 } }, { key: 'beta', value: { n: 2 } }])
    assert.equal(await readFile(corrupt, 'utf8'), '{not json', 'a listing deletes nothing')
  })

  test('sweepTemps: false leaves temp files in place (a command beside a running proxy)', async () => {
    const dir = await freshDir()
    await (await openRecordStore({ dir })).put('page', 'alpha', { n: 1 })
    const temp = join(dir, 'page', sha256Hex(Buffer.from('alpha')).slice(0, 2), '.0123456789abcdef.tmp')
    await writeFile(temp, 'in progress')
    await openRecordStore({ dir, sweepTemps: false })
    assert.equal(await readFile(temp, 'utf8'), 'in progress')
    await openRecordStore({ dir })
    await assert.rejects(lstat(temp), { code: 'ENOENT' })
  })

  test('the file name is sha256(key), never a path derived from the key', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    const hostile = '../../etc/passwd'
    await records.put('pages', hostile, 1)
    assert.equal(await records.get('pages', hostile), 1)
    const raw: unknown = JSON.parse(await readFile(recordPath(dir, 'pages', hostile), 'utf8'))
    assert.deepEqual(raw, { key: hostile, value: 1 })
    assert.deepEqual(await readdir(dir), ['pages'])
  })

  test('put replaces atomically: no temp file remains and readers see the whole new value', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    await records.put('pages', 'k', { n: 1 })
    await Promise.all(Array.from({ length: 20 }, (_, n) => records.put('pages', 'k', { n, pad: 'x'.repeat(10_000) })))
    const value = (await records.get('pages', 'k')) as { n: number; pad: string }
    assert.equal(value.pad.length, 10_000)
    const folder = join(dir, 'pages', sha256Hex(Buffer.from('k')).slice(0, 2))
    assert.deepEqual(await readdir(folder), [sha256Hex(Buffer.from('k'))])
  })

  test('a corrupt (truncated) record file is deleted and reported absent', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    await records.put('pages', 'k', { etag: 'x' })
    const path = recordPath(dir, 'pages', 'k')
    await writeFile(path, '{"key":"k","val')
    assert.equal(await records.get('pages', 'k'), undefined)
    await assert.rejects(readFile(path), { code: 'ENOENT' })
  })

  test('a record file holding another key is treated as corrupt', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    await records.put('pages', 'k', 1)
    await writeFile(recordPath(dir, 'pages', 'k'), JSON.stringify({ key: 'other', value: 2 }))
    assert.equal(await records.get('pages', 'k'), undefined)
  })

  test('stale temp files from a crash are removed on open', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    await records.put('pages', 'k', 1)
    const folder = join(dir, 'pages', sha256Hex(Buffer.from('k')).slice(0, 2))
    await writeFile(join(folder, '.deadbeef.tmp'), '{"key":"k","va')
    await openRecordStore({ dir })
    assert.deepEqual(await readdir(folder), [sha256Hex(Buffer.from('k'))])
  })

  test('a symlink planted at a namespace or prefix directory is replaced, never swept through (issue 7 item 13)', async () => {
    const dir = await freshDir()
    const elsewhere = await freshDir()
    // Named like a record store temp file, so a sweep that followed the link would delete it.
    await writeFile(join(elsewhere, '.canary.tmp'), 'still here')
    await mkdir(join(dir, 'page'), { recursive: true })
    await symlink(elsewhere, join(dir, 'page', 'ab'))
    await symlink(elsewhere, join(dir, 'tuf-page'))
    const events: string[] = []
    const logger = { log: () => undefined, info: () => undefined, error: () => undefined, warn: (event: string) => void events.push(event) }
    const records = await openRecordStore({ dir, logger })
    assert.equal(await readFile(join(elsewhere, '.canary.tmp'), 'utf8'), 'still here')
    assert.ok((await lstat(join(dir, 'page', 'ab'))).isDirectory())
    assert.ok((await lstat(join(dir, 'tuf-page'))).isDirectory())
    assert.deepEqual(events, ['store_symlink_replaced', 'store_symlink_replaced'])
    await records.put('tuf-page', 'k', 1)
    assert.deepEqual(await readdir(elsewhere), ['.canary.tmp'])
  })

  test('a malformed namespace is a programming error', async () => {
    const records = await openRecordStore({ dir: await freshDir() })
    for (const namespace of ['', '../x', 'A', '1abc', 'a/b', 'x'.repeat(33)]) {
      await assert.rejects(records.put(namespace, 'k', 1), TypeError, namespace)
    }
  })

  test('count(namespace) follows put, overwrite and delete, and is rebuilt from disk at open', async () => {
    const dir = await freshDir()
    const records = await openRecordStore({ dir })
    assert.equal(records.count('page'), 0)
    await records.put('page', 'a', { n: 1 })
    await records.put('page', 'b', { n: 1 })
    await records.put('page', 'a', { n: 2 })
    await records.put('file', 'x', { n: 1 })
    assert.equal(records.count('page'), 2, 'an overwrite is no new record')
    assert.equal(records.count('file'), 1)
    await records.delete('page', 'b')
    await records.delete('page', 'b')
    assert.equal(records.count('page'), 1, 'deleting an absent record changes nothing')
    await records.put('page', 'c', { n: 1 })
    const reopened = await openRecordStore({ dir })
    assert.equal(reopened.count('page'), 2)
    assert.equal(reopened.count('file'), 1)
    assert.equal(reopened.count('other'), 0)
  })
})
