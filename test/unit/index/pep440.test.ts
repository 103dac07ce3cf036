/**
 * PEP 440 ("Version specifiers" specification), with the spec's own examples: normalization, the
 * summary ordering, version matching with prefixes and local labels, the exclusive ordered
 * comparisons' pre-, post- and local-release rules, compatible release, and the two ways a caller
 * treats pre-releases (a resolver's default exclusion; a deny rule's `includePreReleases`).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { compareVersions, matchesSpecifiers, parseSpecifierSet, parseVersion, SpecifierError, versionKey, type Version } from '../../../src/index/index.js'

function v(text: string): Version {
  const version = parseVersion(text)
  assert.ok(version, `${text} should parse`)
  return version
}

function admits(spec: string, version: string, options?: { includePreReleases?: boolean }): boolean {
  return matchesSpecifiers(version, parseSpecifierSet(spec), options)
}

/** As a deny rule asks: every version the set names, pre-releases included. */
function names(spec: string, version: string): boolean {
  return admits(spec, version, { includePreReleases: true })
}

describe('PEP 440 versions', () => {
  test('§Normalization: spellings normalize to the canonical form', () => {
    const cases: Array<[string, string]> = [
      ['1.0a', '1.0a0'], ['1.1ALPHA1', '1.1a1'], ['1.1beta2', '1.1b2'], ['1.1c3', '1.1rc3'], ['1.0-pre', '1.0rc0'], ['1.0preview1', '1.0rc1'],
      ['1.0a.1', '1.0a1'], ['1.0-post', '1.0.post0'], ['1.0-r4', '1.0.post4'], ['1.0rev4', '1.0.post4'], ['1.0-1', '1.0.post1'],
      ['1.0dev', '1.0.dev0'], ['1.0-dev2', '1.0.dev2'], ['v1.0', '1.0'], [' 1.0 \n', '1.0'], ['1.0+ubuntu-1', '1.0+ubuntu.1'], ['1.0+Ubuntu_1', '1.0+ubuntu.1'],
      ['01.02', '1.2'], ['1!2.0', '1!2.0'], ['0!1.0', '1.0'],
    ]
    for (const [input, expected] of cases) assert.equal(v(input).text, expected, input)
  })

  test('§Normalization: spellings that mean the same version compare equal', () => {
    const same: Array<[string, string]> = [
      ['1.0', '1.0.0'], ['1.1RC1', '1.1rc1'], ['1.1a1', '1.1alpha1'], ['1.1b1', '1.1beta1'], ['1.1rc1', '1.1c1'], ['1.1rc1', '1.1pre1'],
      ['1.1rc1', '1.1preview1'], ['1.1.a1', '1.1a1'], ['1.1-a1', '1.1a1'], ['1.1a', '1.1a0'], ['1.0-1', '1.0.post1'], ['1.0post', '1.0.post0'],
      ['1.0.r4', '1.0.post4'], ['1.0-rev4', '1.0.post4'], ['1.0dev', '1.0.dev0'], ['v1.0', '1.0'], ['  1.0  ', '1.0'], ['1.0+Ubuntu-1', '1.0+ubuntu.1'], ['0!1.0', '1.0'],
    ]
    for (const [a, b] of same) assert.equal(compareVersions(v(a), v(b)), 0, `${a} == ${b}`)
    for (const [a, b] of same) assert.equal(versionKey(a), versionKey(b), `key of ${a} == key of ${b}`)
  })

  test('versionKey tells apart what compares apart, and keeps legacy versions as written', () => {
    const apart: Array<[string, string]> = [['1.0', '1.0.post0'], ['1.0', '1.0+local'], ['1!1.0', '1.0'], ['1.0a1', '1.0b1'], ['1.0.dev1', '1.0'], ['1.0', '1.0.1']]
    for (const [a, b] of apart) assert.notEqual(versionKey(a), versionKey(b), `${a} != ${b}`)
    assert.equal(versionKey('Not-A-Version'), versionKey('not-a-version'))
    assert.notEqual(versionKey('not.a.version'), versionKey('not-a-version'))
  })

  test('invalid versions are refused', () => {
    for (const bad of ['', 'one', 'french toast', '1.0 beta', '1.0+', '1..0', '1.0-', '1.0+local-', '1.0+a..b', 'a1.0']) assert.equal(parseVersion(bad), undefined, bad)
  })

  test('a release segment too large to compare exactly is not a version', () => {
    assert.equal(parseVersion('1.99999999999999999999'), undefined)
  })

  test('§Summary of permitted suffixes: the spec\'s ordered example list', () => {
    const ordered = [
      '1.dev0', '1.0.dev456', '1.0a1', '1.0a2.dev456', '1.0a12.dev456', '1.0a12', '1.0b1.dev456', '1.0b2', '1.0b2.post345.dev456', '1.0b2.post345',
      '1.0rc1.dev456', '1.0rc1', '1.0', '1.0+abc.5', '1.0+abc.7', '1.0+5', '1.0.post456.dev34', '1.0.post456', '1.0.15', '1.1.dev1',
    ]
    for (let i = 0; i + 1 < ordered.length; i++) {
      const a = ordered[i] ?? ''
      const b = ordered[i + 1] ?? ''
      assert.ok(compareVersions(v(a), v(b)) < 0, `${a} < ${b}`)
      assert.ok(compareVersions(v(b), v(a)) > 0, `${b} > ${a}`)
    }
  })

  test('epochs sort first; trailing zeros do not count', () => {
    assert.ok(compareVersions(v('1!1.0'), v('2.0')) > 0)
    assert.equal(compareVersions(v('1.0.0'), v('1')), 0)
    assert.ok(compareVersions(v('1.0+1'), v('1.0+a')) > 0, 'numeric local segments sort after alphanumeric ones')
  })
})

describe('PEP 440 specifiers', () => {
  test('§Compatible release: ~=2.2 is >=2.2,==2.*; ~=1.4.5 is >=1.4.5,==1.4.*', () => {
    assert.ok(admits('~=2.2', '2.2'))
    assert.ok(admits('~=2.2', '2.9.1'))
    assert.ok(!admits('~=2.2', '3.0'))
    assert.ok(!admits('~=2.2', '2.1'))
    assert.ok(admits('~=1.4.5', '1.4.9'))
    assert.ok(!admits('~=1.4.5', '1.5.0'))
    assert.ok(admits('~=2.2.post3', '2.2.post3'))
    assert.ok(!admits('~=2.2.post3', '3.0'))
    assert.ok(admits('~=1.4.5a4', '1.4.5'))
    assert.ok(!admits('~=1.4.5a4', '1.5.0'))
  })

  test('§Version matching: == with zero padding, prefixes and local labels', () => {
    // The spec's own example: version 1.1.post1.
    assert.ok(!admits('==1.1', '1.1.post1'))
    assert.ok(admits('==1.1.post1', '1.1.post1'))
    assert.ok(admits('==1.1.*', '1.1.post1'))
    assert.ok(admits('==1.1', '1.1.0'))
    assert.ok(admits('==1.1.0', '1.1'))
    assert.ok(admits('==1.1', '1.1+local.7'), 'a public specifier ignores the candidate\'s local label')
    assert.ok(!admits('==1.1+local.6', '1.1+local.7'))
    assert.ok(admits('==1.*', '1.0a1', { includePreReleases: true }))
    assert.ok(!admits('==1.*', '2.0'))
  })

  test('§Version exclusion: != with and without a prefix', () => {
    // The spec's own example: version 1.1.post1.
    assert.ok(admits('!=1.1', '1.1.post1'))
    assert.ok(!admits('!=1.1.post1', '1.1.post1'))
    assert.ok(!admits('!=1.1.*', '1.1.post1'))
  })

  test('§Exclusive ordered comparison: >V excludes V\'s post-releases, <V excludes V\'s pre-releases', () => {
    assert.ok(admits('>1.7', '1.7.1'))
    assert.ok(!admits('>1.7', '1.7.0.post1'))
    assert.ok(admits('>1.7.post2', '1.7.1'))
    assert.ok(admits('>1.7.post2', '1.7.0.post3'))
    assert.ok(!admits('>1.7.post2', '1.7.0'))
    assert.ok(!admits('<3.1', '3.1.dev0', { includePreReleases: true }))
    assert.ok(admits('<3.1rc1', '3.1a1'))
    assert.ok(!admits('>1.7', '1.7+local'), '>V never admits a local version of V')
  })

  test('§Inclusive ordered comparison and §Arbitrary equality', () => {
    assert.ok(admits('>=2,<3', '2.0'))
    assert.ok(admits('>=2,<3', '2.99'))
    assert.ok(!admits('>=2,<3', '3.0'))
    assert.ok(!admits('>=2,<3', '1.9'))
    assert.ok(admits('<=2.0', '2.0+local'))
    assert.ok(admits('===foobar', 'FooBar'), 'arbitrary equality is a case-insensitive string match, even for non-PEP 440 versions')
    assert.ok(!admits('===1.0', '1.0.0'))
  })

  test('§Handling of pre-releases: excluded unless a clause names one or they are asked for', () => {
    assert.ok(!admits('>=2,<3', '2.1rc1'))
    assert.ok(admits('>=2,<3', '2.1rc1', { includePreReleases: true }))
    assert.ok(admits('>=2.1rc1', '2.1rc2'))
    assert.ok(admits('', '2.1rc1'), 'the empty set admits every version')
  })

  test('malformed specifiers are refused with the clause named', () => {
    assert.throws(() => parseSpecifierSet('>=2,<'), SpecifierError)
    assert.throws(() => parseSpecifierSet('~=1'), /two release segments/)
    assert.throws(() => parseSpecifierSet('>=1.*'), /only with == and !=/)
    assert.throws(() => parseSpecifierSet('>=1.0+local'), /local version label/)
    assert.throws(() => parseSpecifierSet('==french'), /not a PEP 440 version/)
  })
})

describe('PEP 440 specifiers with pre-releases included (as policy.deny reads them)', () => {
  test('§Version matching: exact, zero padding, prefixes, and local labels', () => {
    assert.ok(names('==1.1', '1.1.0'))
    assert.ok(!names('==1.1', '1.1.post1'))
    assert.ok(names('==1.1.*', '1.1.post1'))
    assert.ok(names('==1.1.*', '1.1a1'))
    assert.ok(names('==1.1.*', '1.1'))
    assert.ok(!names('==1.1.*', '1.10'))
    assert.ok(names('==1.*', '1'))
    assert.ok(names('==1.0.*', '1'))
    // "If the specified version identifier is a public version identifier (no local version
    // label), then the local version label of any candidate versions MUST be ignored".
    assert.ok(names('==1.0', '1.0+local.7'))
    assert.ok(names('==1.0+local.7', '1.0+local.7'))
    assert.ok(!names('==1.0+local.7', '1.0'))
    assert.ok(names('!=1.1.*', '1.2'))
    assert.ok(!names('!=1.1.*', '1.1.3'))
    assert.ok(!names('!=1.0', '1.0+local'))
    assert.ok(names('==2.0', '2.0'), 'an exact pin such as requests==2.99.0')
    assert.ok(names('==2.0rc1', '2.0rc1'))
    // "An exact match is also considered a prefix match": 1.0.0rc1 equals 1.0rc1 by zero padding.
    assert.ok(names('==1.0rc1.*', '1.0.0rc1'))
    assert.ok(names('==1.0rc1.*', '1.0rc1.post2'))
    assert.ok(!names('==1.0rc1.*', '1.0rc2'))
  })

  test('§Inclusive and §Exclusive ordered comparison', () => {
    assert.ok(names('<=2.0', '2.0'))
    assert.ok(names('>=2.0', '2.0'))
    assert.ok(names('<2.0', '1.9'))
    // "<V MUST NOT allow a pre-release of the specified version unless V is itself a pre-release"
    assert.ok(!names('<2.0', '2.0rc1'))
    assert.ok(!names('<2.0', '2.0.dev1'))
    assert.ok(names('<2.0rc2', '2.0rc1'))
    assert.ok(names('<2.0', '1.9rc1'))
    // ">V MUST NOT allow a post-release of the specified version unless V is itself a post release"
    assert.ok(!names('>1.7', '1.7.0.post1'))
    assert.ok(names('>1.7.post2', '1.7.post3'))
    assert.ok(names('>1.7', '1.7.1'))
    assert.ok(names('>1.7rc1', '1.7.post1'), '1.7.post1 is a post-release of 1.7, not of 1.7rc1')
    assert.ok(!names('>1.7rc1', '1.7rc1.post1'), '1.7rc1.post1 is a post-release of 1.7rc1 itself')
    // ">V MUST NOT match a local version of the specified version"
    assert.ok(!names('>1.7', '1.7+local'))
    assert.ok(names('>=1.0,!=1.3.4.*,<2.0', '1.5'))
    assert.ok(!names('>=1.0,!=1.3.4.*,<2.0', '1.3.4.1'))
  })

  test('§Compatible release: ~=V.N means >=V.N, ==V.*', () => {
    assert.ok(names('~=2.2', '2.3'))
    assert.ok(names('~=2.2', '2.2'))
    assert.ok(!names('~=2.2', '3.0'))
    assert.ok(!names('~=2.2', '2.1'))
    assert.ok(names('~=1.4.5', '1.4.9'))
    assert.ok(!names('~=1.4.5', '1.5.0'))
    assert.ok(names('~=2.2.post3', '2.2.post4'))
    assert.ok(names('~=1.4.5a4', '1.4.5'))
    assert.ok(!names('~=1.4.5a4', '1.4.5a3'))
    assert.ok(names('~=2.2.0', '2.2.1'))
  })

  test('§Arbitrary equality compares strings, even ones that are no version', () => {
    assert.ok(names('===1.0', '1.0'))
    assert.ok(!names('===1.0', '1.0.0'))
    assert.ok(!names('===foobar', '1.0'))
  })

  test('invalid specifiers say why', () => {
    const problems: Array<[string, RegExp]> = [
      ['>=1.0.*', /trailing \.\* is allowed only with == and !=/],
      ['~=1', /two release segments/],
      ['<1.0+local', /local version label is allowed only with == and !=/],
      ['=>1.0', /not a version specifier/],
      ['==one', /not a PEP 440 version/],
      ['==1.0+local.*', /local version label/],
    ]
    for (const [text, message] of problems) assert.throws(() => parseSpecifierSet(text), message, text)
  })
})
