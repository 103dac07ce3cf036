/**
 * The upstream host allowlist (anti-SSRF): which URLs this client may ever contact, checked on the
 * first request and again on every redirect hop. Owns parsing the operator's entries; does not own
 * DNS (an allowed name that resolves to an internal address is the operator's choice to trust).
 */
import { HostNotAllowedError } from './errors.js'

interface AllowedHost {
  readonly hostname: string
  /** undefined: the scheme's default port only. */
  readonly port: number | undefined
}

export interface HostAllowlist {
  /** @throws {HostNotAllowedError} for a non-http(s) scheme or a host:port outside the list. */
  assertAllowed(url: URL): void
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 }
const ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::(\d{1,5}))?$/

function parseEntry(entry: string): AllowedHost | undefined {
  const match = ENTRY.exec(entry.trim().toLowerCase())
  if (!match?.[1]) return undefined
  let hostname: string
  try {
    // The URL parser canonicalizes the host the same way it will canonicalize request URLs
    // (IDNA to punycode, IPv4 forms such as 0x7f.1 to 127.0.0.1), so comparison is like for like.
    hostname = new URL(`http://${match[1]}/`).hostname
  } catch {
    return undefined
  }
  const port = match[2] === undefined ? undefined : Number(match[2])
  if (port !== undefined && (port < 1 || port > 65535)) return undefined
  return { hostname, port }
}

/**
 * Builds the allowlist. An entry is `host` or `host:port`, compared case-insensitively; a bare host
 * matches only the scheme's default port (80 for http:, 443 for https:), `host:port` matches that
 * exact port under either scheme.
 * @throws {TypeError} naming `allowedHosts` when the list is empty or an entry is not a host[:port].
 */
export function createHostAllowlist(entries: readonly string[]): HostAllowlist {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TypeError('upstream option "allowedHosts" must list at least one host or host:port')
  }
  const allowed = entries.map((entry: unknown) => {
    const parsed = typeof entry === 'string' ? parseEntry(entry) : undefined
    if (!parsed) throw new TypeError(`upstream option "allowedHosts": ${JSON.stringify(entry)} is not a host or host:port`)
    return parsed
  })
  return {
    assertAllowed(url: URL): void {
      const defaultPort = DEFAULT_PORTS[url.protocol]
      if (defaultPort === undefined) {
        throw new HostNotAllowedError(`refusing ${url.protocol} URL: only http: and https: upstreams are allowed`)
      }
      const port = url.port === '' ? defaultPort : Number(url.port)
      const hostname = url.hostname.toLowerCase()
      const ok = allowed.some((entry) => entry.hostname === hostname && (entry.port ?? defaultPort) === port)
      if (!ok) {
        throw new HostNotAllowedError(`refusing to contact ${url.host}: not in the upstream allowedHosts list`)
      }
    },
  }
}
