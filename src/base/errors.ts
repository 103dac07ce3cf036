/**
 * The root of every error tuf-proxy raises on purpose. Each room derives its own family named
 * for who is at fault (the TUF repository, the upstream, the disk, the operator's config), and
 * every family says which `Fault` it is. What a fault means for a client (an HTTP status, in
 * `http/error-response.ts`) and for the operator (a drop or not, in `mirror/drops.ts`) is decided
 * from the fault alone, each in one table, so a new error cannot silently become a 500 or escape
 * the drop log.
 *
 * `code` is stable: it is the reason in log lines, metric labels and 502 bodies.
 */

/**
 * Who or what is at fault:
 * - `bug`: ours; anything not raised on purpose is one too.
 * - `bad_request`: the client's (or, for config, the operator's) input is invalid.
 * - `unauthenticated`: the request needs credentials it did not carry (the admin API's token).
 * - `not_found`: nothing to serve under that name (the upstream or the verified index lists nothing).
 * - `method_not_allowed`: the client used a method the resource does not answer (POST to a page).
 * - `refused_by_policy`: the operator's policy refuses it (a host not on the allowlist).
 * - `bad_upstream_data`: the upstream answered, and what it sent fails verification or breaks HTTP.
 * - `upstream_failed`: the upstream answered with an error status of its own.
 * - `upstream_unavailable`: no answer at all (refused, DNS, TLS, breaker open).
 * - `upstream_timeout`: the upstream answered too slowly (TUF's slow-retrieval attack looks the same).
 * - `storage`: the cache disk is full or failing.
 */
export type Fault =
  | 'bug'
  | 'bad_request'
  | 'unauthenticated'
  | 'not_found'
  | 'method_not_allowed'
  | 'refused_by_policy'
  | 'bad_upstream_data'
  | 'upstream_failed'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'storage'

export abstract class ProxyError extends Error {
  abstract readonly code: string
  abstract readonly fault: Fault

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A response body's bytes do not match the evidence we hold for them (hash, length, serial). */
export class IntegrityError extends ProxyError {
  readonly code: string
  readonly fault = 'bad_upstream_data'
  constructor(code: 'hash_mismatch' | 'length_mismatch' | 'no_strong_hash' | 'unsupported_hash', message: string) {
    super(message)
    this.code = code
  }
}

/** Describes any thrown value in one line, for logs and error bodies. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** The stable reason code of an error, `internal` for anything not raised on purpose. */
export function errorCode(error: unknown): string {
  return error instanceof ProxyError ? error.code : 'internal'
}

/** The fault of any thrown value: what was not raised on purpose is a bug. */
export function faultOf(error: unknown): Fault {
  return error instanceof ProxyError ? error.fault : 'bug'
}
