/**
 * The one map from errors to HTTP statuses. Every route throws; hono's onError lands here. The
 * body is JSON naming the stable reason code and a sentence a user can act on.
 */
import { errorCode, describeError, faultOf, ProxyError, type Fault, type Logger } from '../base/index.js'
import { PolicyRefusalError } from '../mirror/index.js'

export class BadRequestError extends ProxyError {
  readonly code = 'bad_request'
  readonly fault = 'bad_request'
}

/** No route answers this path, whatever the method. */
export class NoRouteError extends ProxyError {
  readonly code = 'not_found'
  readonly fault = 'not_found'
}

/** A route answers this path, but not with this method; `allowed` becomes the Allow header. */
export class MethodNotAllowedError extends ProxyError {
  readonly code = 'method_not_allowed'
  readonly fault = 'method_not_allowed'
  constructor(
    method: string,
    readonly allowed: readonly string[],
  ) {
    super(`${method} is not answered here; allowed: ${allowed.join(', ')}`)
  }
}

/**
 * The one map from fault to HTTP status; `Record<Fault, …>` makes a new fault a compile error
 * until it has a row here.
 */
const STATUS_BY_FAULT: Readonly<Record<Fault, number>> = {
  bug: 500,
  bad_request: 400,
  // RFC 9110 §15.5.2; the route adds WWW-Authenticate (RFC 6750 §3).
  unauthenticated: 401,
  not_found: 404,
  // RFC 9110 §15.5.6, with the Allow header the same section requires.
  method_not_allowed: 405,
  refused_by_policy: 403,
  // RFC 9110 §15.6.3: the gateway got an invalid response (or an error) from upstream.
  bad_upstream_data: 502,
  upstream_failed: 502,
  // RFC 9110 §15.6.4: a miss while the upstream is down; nothing verified to serve.
  upstream_unavailable: 503,
  // RFC 9110 §15.6.5
  upstream_timeout: 504,
  // RFC 4918 §11.5: the cache disk cannot take the file.
  storage: 507,
}

export function statusFor(error: unknown): number {
  return STATUS_BY_FAULT[faultOf(error)]
}

export function errorResponse(error: unknown, logger: Logger, path: string): Response {
  const status = statusFor(error)
  const code = errorCode(error)
  if (status === 500) logger.error('internal_error', { path, detail: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-tuf-proxy-reason': code }
  const fields: Record<string, string> = { error: code, message: status === 500 ? 'internal error; see the proxy log' : describeError(error) }
  // A file held back by the release cooldown: when to ask again (RFC 9110 §10.2.3), and the time itself.
  if (error instanceof PolicyRefusalError && error.availableAtMs !== undefined) {
    fields.available_at = new Date(error.availableAtMs).toISOString()
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds)
  }
  if (error instanceof MethodNotAllowedError) headers.allow = error.allowed.join(', ')
  return new Response(`${JSON.stringify(fields)}\n`, { status, headers })
}
