/**
 * The root of every error tuf-proxy raises on purpose. Each room derives its own family named
 * for who is at fault (the TUF repository, the upstream, the disk, the operator's config), and
 * `http/error-response.ts` is the one place that maps a family to an HTTP status.
 *
 * `code` is stable: it is the reason in log lines, metric labels and 502 bodies.
 */
export abstract class ProxyError extends Error {
  abstract readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A response body's bytes do not match the evidence we hold for them (hash, length, serial). */
export class IntegrityError extends ProxyError {
  readonly code: string
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
