import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatDuration, parseDurationSeconds } from '../../../src/base/index.js'

describe('durations', () => {
  const cases: Array<[string | number, number | undefined]> = [
    ['90s', 90], ['15m', 900], ['12h', 43_200], ['7d', 604_800], ['2w', 1_209_600], ['0', 0], [0, 0], [42, 42], ['42', 42],
    [' 3D ', 259_200], ['1.5h', undefined], ['-1', undefined], ['5y', undefined], ['', undefined], ['h', undefined], ['10 minutes', undefined],
    ['99999999999999999d', undefined],
  ]
  for (const [text, want] of cases) {
    test(`${JSON.stringify(text)} → ${want}`, () => assert.equal(parseDurationSeconds(text), want))
  }
  test('formatting gives the shortest exact unit and parses back', () => {
    for (const [seconds, text] of [[0, '0s'], [59, '59s'], [90, '90s'], [120, '2m'], [3600, '1h'], [86_400, '1d'], [259_200, '3d']] as const) {
      assert.equal(formatDuration(seconds), text)
      assert.equal(parseDurationSeconds(text), seconds)
    }
  })
})
