/** Distribution file names and wheel tag compatibility (packaging specifications). */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseDistFileName, wheelFits } from '../../../src/index/index.js'

describe('distribution file names', () => {
  test('wheels: name, version, optional build tag and compressed tag sets', () => {
    assert.deepEqual(parseDistFileName('distribution-1.0-1-py27-none-any.whl'), { kind: 'wheel', project: 'distribution', version: '1.0', tags: [{ python: 'py27', abi: 'none', platform: 'any' }] })
    const both = parseDistFileName('six-1.16.0-py2.py3-none-any.whl')
    assert.equal(both?.kind === 'wheel' ? both.tags.length : 0, 2)
    assert.equal(parseDistFileName('bad-1.0.whl'), undefined)
  })

  test('sdists: the last hyphen separates the version', () => {
    assert.deepEqual(parseDistFileName('Foo_Bar-2.0.tar.gz'), { kind: 'sdist', project: 'foo-bar', version: '2.0' })
    assert.deepEqual(parseDistFileName('legacy-name-1.0.zip'), { kind: 'sdist', project: 'legacy-name', version: '1.0' })
    assert.equal(parseDistFileName('nothing.exe'), undefined)
  })
})

describe('wheel tag fit', () => {
  const tags = (name: string) => {
    const parsed = parseDistFileName(name)
    assert.ok(parsed?.kind === 'wheel')
    return parsed.tags
  }
  const target = (pythonVersions: string[], platforms: string[]) => ({ pythonVersions, platforms })

  test('pure-Python wheels fit any platform; interpreter tags up to the target', () => {
    assert.ok(wheelFits(tags('a-1-py3-none-any.whl'), target(['3.12'], ['manylinux_2_17_x86_64'])))
    assert.ok(wheelFits(tags('a-1-py310-none-any.whl'), target(['3.12'], [])))
    assert.ok(!wheelFits(tags('a-1-py313-none-any.whl'), target(['3.12'], [])))
    assert.ok(!wheelFits(tags('a-1-py2-none-any.whl'), target(['3.12'], [])))
  })

  test('cpXY ABI only for that version; abi3 for every later CPython', () => {
    assert.ok(wheelFits(tags('a-1-cp312-cp312-manylinux_2_17_x86_64.whl'), target(['3.12'], ['manylinux_2_28_x86_64'])))
    assert.ok(!wheelFits(tags('a-1-cp311-cp311-manylinux_2_17_x86_64.whl'), target(['3.12'], ['manylinux_2_28_x86_64'])))
    assert.ok(wheelFits(tags('a-1-cp38-abi3-manylinux_2_17_x86_64.whl'), target(['3.12'], ['manylinux_2_17_x86_64'])))
    assert.ok(wheelFits(tags('a-1-cp313-cp313t-manylinux_2_17_x86_64.whl'), target(['3.13'], [])))
  })

  test('PEP 600: newer glibc targets take older manylinux wheels (legacy aliases too), never another architecture', () => {
    assert.ok(wheelFits(tags('a-1-py3-none-manylinux2014_x86_64.whl'), target([], ['manylinux_2_28_x86_64'])))
    assert.ok(wheelFits(tags('a-1-py3-none-manylinux1_x86_64.whl'), target([], ['manylinux_2_17_x86_64'])))
    assert.ok(!wheelFits(tags('a-1-py3-none-manylinux_2_34_x86_64.whl'), target([], ['manylinux_2_28_x86_64'])))
    assert.ok(!wheelFits(tags('a-1-py3-none-manylinux_2_17_aarch64.whl'), target([], ['manylinux_2_28_x86_64'])))
    assert.ok(!wheelFits(tags('a-1-py3-none-win_amd64.whl'), target([], ['manylinux_2_28_x86_64'])))
    assert.ok(wheelFits(tags('a-1-py3-none-win_amd64.whl'), target([], ['win_amd64', 'manylinux_2_28_x86_64'])))
  })
})
