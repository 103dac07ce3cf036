import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isValidProjectName, normalizeName } from '../../../src/index/index.js'

describe('normalizeName (PEP 503)', () => {
  const cases: Array<[string, string]> = [
    ['friendly-bard', 'friendly-bard'],
    ['Friendly-Bard', 'friendly-bard'],
    ['FRIENDLY-BARD', 'friendly-bard'],
    ['friendly.bard', 'friendly-bard'],
    ['friendly_bard', 'friendly-bard'],
    ['friendly--bard', 'friendly-bard'],
    ['FrIeNdLy-._.-bArD', 'friendly-bard'],
    ['zope.interface', 'zope-interface'],
    ['a', 'a'],
    ['A_._B', 'a-b'],
    ['_leading', '-leading'],
  ]
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeName(input), expected)
    })
  }
})

describe('isValidProjectName (PEP 508 names)', () => {
  const cases: Array<[string, boolean]> = [
    ['requests', true],
    ['Django', true],
    ['zope.interface', true],
    ['a', true],
    ['7', true],
    ['a-b_c.d', true],
    ['', false],
    ['-leading', false],
    ['trailing.', false],
    ['has space', false],
    ['../etc', false],
    ['a/b', false],
    ['naïve', false],
    ['<script>', false],
    ['a\nb', false],
  ]
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} is ${expected ? 'valid' : 'refused'}`, () => {
      assert.equal(isValidProjectName(input), expected)
    })
  }
})
