/**
 * PEP 440 versions and specifiers, with the spec's own examples: normalization, the summary
 * ordering, version matching with prefixes and local labels, the exclusive ordered comparisons'
 * pre-, post- and local-release rules, and compatible release.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { compareVersions, parseSpecifier, parseSpecifierSet, parseVersion, satisfies, type Specifier } from '../../../src/policy/index.js'

function v(text: string) {
  const version = parseVersion(text)
  assert.ok(version, `${text} parses`)
  return version
}

function matches(specifiers: string, version: string): boolean {
  const set = parseSpecifierSet(specifiers)
  if (typeof set === 'string') throw new Error(set)
  return set.every((specifier: Specifier) => satisfies(v(version), specifier, version))
}

describe('PEP 440 versions', () => {
  test('normalization: spellings that mean the same version compare equal', () => {
    const same: Array<[string, string]> = [
      ['1.0', '1.0.0'],
      ['1.1RC1', '1.1rc1'],
      ['1.1a1', '1.1alpha1'],
      ['1.1b1', '1.1beta1'],
      ['1.1rc1', '1.1c1'],
      ['1.1rc1', '1.1pre1'],
      ['1.1rc1', '1.1preview1'],
      ['1.1.a1', '1.1a1'],
      ['1.1-a1', '1.1a1'],
      ['1.1a', '1.1a0'],
      ['1.0-1', '1.0.post1'],
      ['1.0post', '1.0.post0'],
      ['1.0.r4', '1.0.post4'],
      ['1.0-rev4', '1.0.post4'],
      ['1.0dev', '1.0.dev0'],
      ['v1.0', '1.0'],
      ['  1.0  ', '1.0'],
      ['1.0+Ubuntu-1', '1.0+ubuntu.1'],
      ['0!1.0', '1.0'],
    ]
    for (const [a, b] of same) assert.equal(compareVersions(v(a), v(b)), 0, `${a} == ${b}`)
  })

  test('the summary ordering of PEP 440 "Summary of permitted suffixes and relative ordering"', () => {
    const ordered = [
      '1.dev0', '1.0.dev456', '1.0a1', '1.0a2.dev456', '1.0a12.dev456', '1.0a12', '1.0b1.dev456', '1.0b2', '1.0b2.post345.dev456',
      '1.0b2.post345', '1.0rc1.dev456', '1.0rc1', '1.0', '1.0+abc.5', '1.0+abc.7', '1.0+5', '1.0.post456.dev34', '1.0.post456', '1.0.15', '1.1.dev1',
    ]
    for (let i = 1; i < ordered.length; i++) {
      const [a, b] = [ordered[i - 1] ?? '', ordered[i] ?? '']
      assert.ok(compareVersions(v(a), v(b)) < 0, `${a} < ${b}`)
      assert.ok(compareVersions(v(b), v(a)) > 0, `${b} > ${a}`)
    }
    assert.ok(compareVersions(v('1!0.1'), v('2.0')) > 0, 'an epoch outranks any release')
  })

  test('not versions', () => {
    for (const text of ['', 'one', '1.0-', '1..0', '1.0+', '1.0+a..b', 'french toast', '1.0 beta']) assert.equal(parseVersion(text), undefined, text)
  })
})

describe('PEP 440 specifiers', () => {
  test('version matching: exact, zero padding, prefixes, and local labels', () => {
    assert.ok(matches('==1.1', '1.1.0'))
    assert.ok(!matches('==1.1', '1.1.post1'))
    assert.ok(matches('==1.1.*', '1.1.post1'))
    assert.ok(matches('==1.1.*', '1.1a1'))
    assert.ok(matches('==1.1.*', '1.1'))
    assert.ok(!matches('==1.1.*', '1.10'))
    assert.ok(matches('==1.*', '1'))
    assert.ok(matches('==1.0.*', '1'))
    // "If the specified version identifier is a public version identifier (no local version
    // label), then the local version label of any candidate versions MUST be ignored".
    assert.ok(matches('==1.0', '1.0+local.7'))
    assert.ok(matches('==1.0+local.7', '1.0+local.7'))
    assert.ok(!matches('==1.0+local.7', '1.0'))
    assert.ok(matches('!=1.1.*', '1.2'))
    assert.ok(!matches('!=1.1.*', '1.1.3'))
    assert.ok(!matches('!=1.0', '1.0+local'))
  })

  test('inclusive and exclusive ordered comparisons', () => {
    assert.ok(matches('<=2.0', '2.0'))
    assert.ok(matches('>=2.0', '2.0'))
    assert.ok(matches('<2.0', '1.9'))
    // "<V MUST NOT allow a pre-release of the specified version unless V is itself a pre-release"
    assert.ok(!matches('<2.0', '2.0rc1'))
    assert.ok(!matches('<2.0', '2.0.dev1'))
    assert.ok(matches('<2.0rc2', '2.0rc1'))
    assert.ok(matches('<2.0', '1.9rc1'))
    // ">V MUST NOT allow a post-release of the specified version unless V is itself a post release"
    assert.ok(!matches('>1.7', '1.7.0.post1'))
    assert.ok(matches('>1.7.post2', '1.7.post3'))
    assert.ok(matches('>1.7', '1.7.1'))
    assert.ok(matches('>1.7rc1', '1.7.post1'))
    // ">V MUST NOT match a local version of the specified version"
    assert.ok(!matches('>1.7', '1.7+local'))
    assert.ok(matches('>=1.0,!=1.3.4.*,<2.0', '1.5'))
    assert.ok(!matches('>=1.0,!=1.3.4.*,<2.0', '1.3.4.1'))
  })

  test('compatible release: ~=V.N means >=V.N, ==V.*', () => {
    assert.ok(matches('~=2.2', '2.3'))
    assert.ok(matches('~=2.2', '2.2'))
    assert.ok(!matches('~=2.2', '3.0'))
    assert.ok(!matches('~=2.2', '2.1'))
    assert.ok(matches('~=1.4.5', '1.4.9'))
    assert.ok(!matches('~=1.4.5', '1.5.0'))
    assert.ok(matches('~=2.2.post3', '2.2.post4'))
    assert.ok(matches('~=1.4.5a4', '1.4.5'))
    assert.ok(!matches('~=1.4.5a4', '1.4.5a3'))
    assert.ok(matches('~=2.2.0', '2.2.1'))
  })

  test('arbitrary equality compares strings, even ones that are no version', () => {
    const exact = parseSpecifier('===1.0')
    const foobar = parseSpecifier('===foobar')
    assert.ok(typeof exact !== 'string' && typeof foobar !== 'string')
    assert.ok(satisfies(v('1.0'), exact, '1.0'))
    assert.ok(!satisfies(v('1.0.0'), exact, '1.0.0'))
    assert.ok(!satisfies(v('1.0'), foobar, '1.0'))
  })

  test('invalid specifiers say why', () => {
    const problems: Array<[string, RegExp]> = [
      ['>=1.0.*', /trailing \.\* is allowed only with == and !=/],
      ['~=1', /at least two release segments/],
      ['<1.0+local', /local version label is allowed only with == and !=/],
      ['=>1.0', /not a PEP 440 version specifier/],
      ['==one', /not a PEP 440 version/],
    ]
    for (const [text, message] of problems) {
      const parsed = parseSpecifier(text)
      assert.equal(typeof parsed, 'string', text)
      assert.match(String(parsed), message)
    }
  })
})
