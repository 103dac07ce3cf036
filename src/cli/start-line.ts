/**
 * The one human line `serve` prints on stderr once it listens: where, and the exact settings pip,
 * uv and poetry need. stdout stays JSON only (log readers parse every line of it); stderr is what
 * a person starting the proxy in a terminal reads, and what a service manager's journal keeps.
 *
 * Printed at every start, whatever --log-level says: it is one line, and a start is when someone
 * wants to know where to point their clients. It does not try to guess when nobody reads it.
 */
import type { AddressInfo } from 'node:net'
import type { NetworkInterfaceInfo } from 'node:os'

/** Addresses pip counts as secure origins (pip `SECURE_ORIGINS`): no `--trusted-host` needed for these. */
const LOOPBACK = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)$/

/**
 * The address a client should use: the bound one, or for a wildcard bind (0.0.0.0, ::) the first
 * external IPv4 address of this machine (a dual-stack `::` accepts IPv4 too), then a global IPv6
 * one, then loopback. Only a hint for the line: the proxy listens on all of them.
 */
export function clientHost(bound: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string {
  if (bound !== '0.0.0.0' && bound !== '::') return bound
  const external = Object.values(interfaces)
    .flatMap((infos) => infos ?? [])
    .filter((info) => !info.internal)
  const ipv4 = external.find((info) => info.family === 'IPv4')
  // fe80::/10 link-local addresses need a zone id (%eth0) that URLs cannot carry well.
  const ipv6 = bound === '::' ? external.find((info) => info.family === 'IPv6' && !/^fe[89ab]/i.test(info.address)) : undefined
  return ipv4?.address ?? ipv6?.address ?? (bound === '::' ? '::1' : '127.0.0.1')
}

/** The start line: listening address and the index settings for pip, uv and poetry. */
export function startLine(options: { version: string; address: AddressInfo; interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> }): string {
  const { address } = options
  const host = clientHost(address.address, options.interfaces)
  const authority = `${host.includes(':') ? `[${host}]` : host}:${address.port}`
  const index = `http://${authority}/simple/`
  const where = host === address.address ? `http://${authority}/` : `all interfaces of this machine, port ${address.port} (bound to ${address.address})`
  // pip refuses a plain-http index on any host but loopback unless it is named trusted.
  const trusted = LOOPBACK.test(host) ? '' : ` --trusted-host ${host.includes(':') ? `[${host}]` : host}`
  return (
    `tuf-proxy ${options.version} listening on ${where}; ` +
    `pip: pip install --index-url ${index}${trusted} PACKAGE; ` +
    `uv: uv pip install --default-index ${index} PACKAGE (or UV_DEFAULT_INDEX=${index}); ` +
    `poetry: poetry source add --priority=primary tuf-proxy ${index}\n`
  )
}
