// The human start line: the address a client should use and the exact pip / uv / poetry settings.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { clientHost, startLine } from '../../../src/cli/start-line.js'

function iface(address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo {
  const common = { address, netmask: family === 'IPv4' ? '255.255.255.0' : 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', internal, cidr: null }
  return family === 'IPv4' ? { ...common, family } : { ...common, family, scopeid: 0 }
}

const MACHINE = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::5', 'IPv6'), iface('192.168.1.5', 'IPv4')],
}

describe('start line: the address a client should use', () => {
  test('a specific bind address is shown as bound', () => {
    assert.equal(clientHost('127.0.0.1', MACHINE), '127.0.0.1')
    assert.equal(clientHost('10.0.0.7', MACHINE), '10.0.0.7')
  })

  test('a wildcard bind shows an external IPv4 address (a dual-stack :: accepts IPv4 too)', () => {
    assert.equal(clientHost('0.0.0.0', MACHINE), '192.168.1.5')
    assert.equal(clientHost('::', MACHINE), '192.168.1.5')
  })

  test(':: on an IPv6-only machine: a global address, never link-local (it would need a zone id)', () => {
    assert.equal(clientHost('::', { lo: MACHINE.lo, eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::5', 'IPv6')] }), '2001:db8::5')
    assert.equal(clientHost('0.0.0.0', { lo: MACHINE.lo, eth0: [iface('fe80::1', 'IPv6')] }), '127.0.0.1', '0.0.0.0 takes no IPv6 client')
  })

  test('a wildcard bind on a machine with loopback only: loopback', () => {
    assert.equal(clientHost('0.0.0.0', { lo: MACHINE.lo }), '127.0.0.1')
    assert.equal(clientHost('::', { lo: MACHINE.lo }), '::1')
  })
})

describe('start line: text', () => {
  test('on loopback: one line with the index URL for pip, uv and poetry, no --trusted-host (pip trusts loopback)', () => {
    const line = startLine({ version: '1.2.3', address: { address: '127.0.0.1', family: 'IPv4', port: 8080 }, interfaces: MACHINE })
    assert.equal(
      line,
      'tuf-proxy 1.2.3 listening on http://127.0.0.1:8080/; ' +
        'pip: pip install --index-url http://127.0.0.1:8080/simple/ PACKAGE; ' +
        'uv: uv pip install --default-index http://127.0.0.1:8080/simple/ PACKAGE (or UV_DEFAULT_INDEX=http://127.0.0.1:8080/simple/); ' +
        'poetry: poetry source add --priority=primary tuf-proxy http://127.0.0.1:8080/simple/\n',
    )
  })

  test('on all interfaces: says so, and pip gets --trusted-host for a plain-http index on another host', () => {
    const line = startLine({ version: '1.2.3', address: { address: '0.0.0.0', family: 'IPv4', port: 3141 }, interfaces: MACHINE })
    assert.match(line, /^tuf-proxy 1\.2\.3 listening on all interfaces of this machine, port 3141 \(bound to 0\.0\.0\.0\); /)
    assert.match(line, /pip: pip install --index-url http:\/\/192\.168\.1\.5:3141\/simple\/ --trusted-host 192\.168\.1\.5 PACKAGE; /)
    assert.match(line, /poetry source add --priority=primary tuf-proxy http:\/\/192\.168\.1\.5:3141\/simple\/\n$/)
    assert.equal(line.split('\n').length, 2, 'one line')
  })

  test('IPv6 addresses are bracketed in URLs', () => {
    const line = startLine({ version: '1.2.3', address: { address: '::1', family: 'IPv6', port: 8080 }, interfaces: MACHINE })
    assert.match(line, /listening on http:\/\/\[::1\]:8080\/; pip: pip install --index-url http:\/\/\[::1\]:8080\/simple\/ PACKAGE;/)
  })
})
