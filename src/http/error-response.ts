/**
 * The one map from errors to HTTP statuses. Every route throws; hono's onError lands here. The
 * body is JSON naming the stable reason code and a sentence a user can act on.
 */
import { errorCode, describeError, IntegrityError, ProxyError, type Logger } from '../base/index.js'
import { NotFoundError, UnavailableError } from '../mirror/index.js'

export class BadRequestError extends ProxyError {
  readonly code = 'bad_request'
}

/** Codes that say the upstream (or the repository behind it) sent data that failed verification. */
const UPSTREAM_FAULT_CODES: ReadonlySet<string> = new Set([
  // index/, policy/, upstream/
  'malformed_index',
  'serial_regression',
  'upstream_status',
  'upstream_too_large',
  'upstream_protocol',
  // trust/ (TUF)
  'bad_signature',
  'threshold_not_met',
  'rollback',
  'equal_version',
  'expired',
  'length_or_hash_mismatch',
  'mix_and_match',
  'malformed',
  'repository',
])

export function statusFor(error: unknown): number {
  if (error instanceof BadRequestError) return 400
  if (error instanceof NotFoundError) return 404
  if (error instanceof UnavailableError) return error.code === 'upstream_timeout' ? 504 : 503
  if (error instanceof IntegrityError) return 502
  if (!(error instanceof ProxyError)) return 500
  switch (error.code) {
    case 'upstream_timeout':
      return 504
    case 'upstream_unreachable':
      // A miss while the upstream is down: nothing verified to serve.
      return 503
    case 'host_not_allowed':
      return 403
    case 'unknown_target':
      return 404
    case 'store_full':
    case 'store_io':
    case 'store_corrupt':
      return 507
  }
  if (error.code === 'upstream_status') return (error as ProxyError & { status?: number }).status === 404 ? 404 : 502
  // An error of ours with a code not listed here is a bug to fix, not the upstream's fault.
  return UPSTREAM_FAULT_CODES.has(error.code) ? 502 : 500
}

export function errorResponse(error: unknown, logger: Logger, path: string): Response {
  const status = statusFor(error)
  const code = errorCode(error)
  if (status === 500) logger.error('internal_error', { path, detail: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  const body = JSON.stringify({ error: code, message: status === 500 ? 'internal error; see the proxy log' : describeError(error) })
  return new Response(`${body}\n`, {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-tuf-proxy-reason': code },
  })
}
