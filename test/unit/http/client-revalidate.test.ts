/**
 * Which requests ask to revalidate a page (RFC 9111 §5.2.1.4 no-cache, §5.4 Pragma), and that
 * pip's `max-age=0` is not one of them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { asksToRevalidate } from '../../../src/http/client-revalidate.js'

const cases: Array<[Record<string, string>, boolean, string]> = [
  [{}, false, 'no header'],
  [{ 'cache-control': 'max-age=0' }, false, "pip's header on every page request"],
  [{ 'cache-control': 'no-cache' }, true, 'no-cache'],
  [{ 'cache-control': 'No-Cache' }, true, 'directive names are case-insensitive'],
  [{ 'cache-control': 'max-age=0, no-cache' }, true, 'no-cache among others'],
  [{ 'cache-control': 'no-store' }, false, 'no-store is not no-cache'],
  [{ 'cache-control': 'no-cachex' }, false, 'a longer name is another directive'],
  [{ pragma: 'no-cache' }, true, 'Pragma: no-cache without Cache-Control'],
  [{ 'cache-control': 'max-age=0', pragma: 'no-cache' }, false, 'Pragma is ignored when Cache-Control is present (§5.4)'],
]

for (const [headers, expected, name] of cases) {
  test(`asksToRevalidate: ${name}`, () => {
    assert.equal(asksToRevalidate(headers), expected)
  })
}
