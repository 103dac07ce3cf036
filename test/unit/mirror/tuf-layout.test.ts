/**
 * The mapping between the URLs pip asks for and TUF target paths, for both layouts: PEP 458's
 * `paths` and Warehouse's RSTUF naming.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { pathsLayout, relativeTargetPath, warehouseLayout } from '../../../src/mirror/index.js'
import type { TargetFile } from '../../../src/trust/index.js'

const TARGETS = 'http://h/targets/'

function target(path: string, hashes: Record<string, string>, length = 10): TargetFile {
  return { path, length, hashes, unrecognized: {} }
}

describe('relativeTargetPath', () => {
  const cases: Array<[string, string | undefined]> = [
    ['http://h/targets/simple/foobar/', 'simple/foobar/'],
    ['http://h/targets/packages/source/F/FooBar/FooBar-0.1.tar.gz', 'packages/source/F/FooBar/FooBar-0.1.tar.gz'],
    ['http://h/targets/a%20b/c.whl', 'a b/c.whl'],
    ['http://h/targets/', ''],
    ['http://other/targets/x', undefined],
    ['https://h/targets/x', undefined],
    ['http://h/elsewhere/x', undefined],
    ['http://h/targets/x?query=1', undefined],
    // an encoded separator would name another target than the URL shows; an encoded dot
    // segment is resolved by URL parsing itself, so the URL simply is /targets/b
    ['http://h/targets/a%2Fb', undefined],
    ['http://h/targets/a/%2E%2E/b', 'b'],
    ['not a url', undefined],
  ]
  for (const [url, expected] of cases) {
    test(`${url} → ${String(expected)}`, () => assert.equal(relativeTargetPath(url, TARGETS), expected))
  }
})

describe('paths layout (PEP 458)', () => {
  const layout = pathsLayout(TARGETS)
  test('a page URL ending in / is <path>index.html; a file is its relative path', () => {
    assert.equal(layout.pageTarget('http://h/targets/simple/foobar/'), 'simple/foobar/index.html')
    assert.equal(layout.pageTarget('http://h/targets/simple/'), 'simple/index.html')
    assert.equal(layout.fileTarget('http://h/targets/packages/f/foobar-0.1-py3-none-any.whl'), 'packages/f/foobar-0.1-py3-none-any.whl')
    assert.equal(layout.fileTarget('http://evil/targets/packages/x.whl'), undefined)
  })
  test('downloads use the consistent-snapshot path the session gives, percent-encoded', () => {
    const info = target('packages/a b.whl', { sha256: 'ab'.repeat(32) })
    assert.equal(layout.downloadUrl(info, `packages/${'ab'.repeat(32)}.a b.whl`), `http://h/targets/packages/${'ab'.repeat(32)}.a%20b.whl`)
  })
})

describe('warehouse layout (PyPI RSTUF)', () => {
  const layout = warehouseLayout(TARGETS, 'http://h/simple/')
  test('a project page is the target named by the normalized project; the list and files are not targets', () => {
    assert.equal(layout.pageTarget('http://h/simple/foobar/'), 'foobar')
    assert.equal(layout.pageTarget('http://h/simple/'), undefined)
    assert.equal(layout.pageTarget('http://h/simple/FooBar/'), undefined, 'only normalized names are targets')
    assert.equal(layout.fileTarget('http://h/targets/packages/x.whl'), undefined)
  })
  test('the page is downloaded from its content-addressed copy <name>/<blake2b>.<name>.html', () => {
    const digest = 'cd'.repeat(32)
    assert.equal(layout.downloadUrl(target('foobar', { 'blake2b-256': digest }), 'ignored'), `http://h/targets/foobar/${digest}.foobar.html`)
  })
})
