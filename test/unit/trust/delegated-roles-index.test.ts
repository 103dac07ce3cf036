// TUF 5.6.7.2: the prefix index that makes PEP 458-sized hash-bin delegations fast must pick
// exactly the roles `isDelegatedPath` picks, in served order, whatever the prefixes look like.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { delegatedRolesFor, isDelegatedPath, prepareTargetPath, type DelegatedRole } from '../../../src/trust/models/delegations.js'

function role(name: string, shape: { pathHashPrefixes?: string[]; paths?: string[] }): DelegatedRole {
  return { name, keyids: [], threshold: 1, terminating: false, ...shape }
}

function hex(seed: number, length: number): string {
  return createHash('sha256').update(String(seed)).digest('hex').slice(0, length)
}

const HASH_BINS = Array.from({ length: 256 }, (_unused, bin) => role(`bin-${bin}`, { pathHashPrefixes: [bin.toString(16).padStart(2, '0')] }))

describe('delegatedRolesFor (TUF 5.6.7.2, PEP 458 hash bins)', () => {
  test('a 256-bin delegation picks the one bin whose prefix starts the path hash', () => {
    for (let i = 0; i < 200; i++) {
      const query = prepareTargetPath(`packages/p${i}/p${i}-1.0.tar.gz`)
      assert.deepEqual(
        delegatedRolesFor(HASH_BINS, query).map((match) => match.name),
        [`bin-${Number.parseInt(query.sha256Hex.slice(0, 2), 16)}`],
      )
    }
  })

  test('mixed prefixes (lengths 0-5, overlaps, repeats, uppercase, too long) and path roles match exactly as isDelegatedPath, in order', () => {
    const roles: DelegatedRole[] = []
    for (let i = 0; i < 300; i++) {
      const kind = i % 7
      if (kind === 0) roles.push(role(`paths-${i}`, { paths: [i % 2 ? 'packages/*/*' : `packages/p${i % 50}/*`] }))
      else if (kind === 1) roles.push(role(`upper-${i}`, { pathHashPrefixes: [hex(i, 1).toUpperCase(), hex(i, 2)] }))
      else if (kind === 2) roles.push(role(`long-${i}`, { pathHashPrefixes: [hex(i, 64) + 'a', hex(i, 1)] }))
      else if (kind === 3 && i % 3 === 0) roles.push(role(`all-${i}`, { pathHashPrefixes: [''] }))
      else if (kind === 4) roles.push(role(`none-${i}`, { pathHashPrefixes: [] }))
      else roles.push(role(`mixed-${i}`, { pathHashPrefixes: [hex(i, 1 + (i % 5)), hex(i, 1 + (i % 5)), hex(i + 1, 2)] }))
    }
    for (let i = 0; i < 500; i++) {
      const query = prepareTargetPath(`packages/p${i % 60}/f${i}.whl`)
      const expected = roles.filter((candidate) => isDelegatedPath(candidate, query)).map((match) => match.name)
      assert.deepEqual(delegatedRolesFor(roles, query).map((match) => match.name), expected)
    }
  })
})
