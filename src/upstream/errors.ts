/**
 * The UpstreamError family: the upstream (or the network on the way to it) is at fault. Each class
 * has a stable `code` and a `fault` (an outage, an error status, bad data or slowness). Also owns
 * the translation of undici's error codes into this family, so no other file needs to know them.
 */
import { ProxyError, type Fault } from '../base/index.js'

export abstract class UpstreamError extends ProxyError {}

/** The upstream answered with a status other than 200 or 304 (redirects are followed first). */
export class UpstreamHttpError extends UpstreamError {
  readonly code = 'upstream_status'
  readonly fault: Fault
  readonly status: number
  readonly url: string
  constructor(status: number, url: string) {
    super(`upstream answered HTTP ${status} for ${url}`)
    this.status = status
    this.url = url
    // RFC 9110 §15.5.5/§15.5.11: 404 and 410 say there is nothing under that name.
    this.fault = status === 404 || status === 410 ? 'not_found' : 'upstream_failed'
  }
}

/** Waiting for the response head, or between body chunks, took longer than the idle timeouts. */
export class UpstreamTimeoutError extends UpstreamError {
  readonly code: string = 'upstream_timeout'
  readonly fault = 'upstream_timeout'
}

/**
 * The response kept arriving, but too slowly: past the request's total deadline, or below the
 * minimum body rate. TUF calls this the slow-retrieval attack (TUF spec §1.5.2); a drip of one byte
 * a second never trips an idle timeout, so only a deadline or a rate floor ends it.
 */
export class UpstreamSlowError extends UpstreamTimeoutError {
  override readonly code = 'slow_retrieval'
}

/** The response is larger than the caller allowed (by Content-Length, or by counting the body). */
export class UpstreamTooLargeError extends UpstreamError {
  readonly code = 'upstream_too_large'
  readonly fault = 'bad_upstream_data'
  constructor(url: string, maxBytes: number) {
    super(`upstream response for ${url} is larger than the limit of ${maxBytes} bytes`)
  }
}

/** No response at all: refused, DNS failure, reset before the head, TLS failure. `cause` is kept. */
export class UpstreamOfflineError extends UpstreamError {
  readonly code = 'upstream_unreachable'
  readonly fault = 'upstream_unavailable'
}

/** The URL's host is not in the allowlist, or its scheme is not http/https (anti-SSRF). */
export class HostNotAllowedError extends UpstreamError {
  readonly code = 'host_not_allowed'
  readonly fault = 'refused_by_policy'
}

/**
 * The upstream broke HTTP: a truncated body, a redirect without Location, too many redirects, a
 * 304 to a request that was not conditional.
 */
export class UpstreamProtocolError extends UpstreamError {
  readonly code = 'upstream_protocol'
  readonly fault = 'bad_upstream_data'
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return ''
}

/** The upstream accepted the request and then went quiet. A connect timeout is no answer at all: offline. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** Connection failures that are safe to retry once for a GET, since no response byte arrived. */
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET'])

export function isRetryableBeforeResponse(error: unknown): boolean {
  return RETRYABLE_CODES.has(codeOf(error))
}

/**
 * Translates an error raised before the response head arrived.
 * Caller misuse (undici's invalid-argument errors) is rethrown unchanged: it is our bug, not the upstream's.
 */
export function mapHeadError(error: unknown, url: string): Error {
  if (error instanceof UpstreamError) return error
  const code = codeOf(error)
  if (TIMEOUT_CODES.has(code)) {
    return new UpstreamTimeoutError(`upstream timed out before answering ${url} (${code})`, { cause: error })
  }
  if (code === 'UND_ERR_INVALID_ARG' || code.startsWith('ERR_INVALID_')) return error instanceof Error ? error : new Error(String(error))
  if (code === 'UND_ERR_HEADERS_OVERFLOW' || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new UpstreamProtocolError(`upstream sent a malformed response for ${url} (${code})`, { cause: error })
  }
  const reason = error instanceof Error ? error.message : String(error)
  return new UpstreamOfflineError(`upstream unreachable for ${url}: ${reason}`, { cause: error })
}

/** Translates an error raised while reading the body: any early end is a truncated body, never a short success. */
export function mapBodyError(error: unknown, progress: { url: string; receivedBytes: number; contentLength: number | undefined }): Error {
  if (error instanceof UpstreamError) return error
  const code = codeOf(error)
  if (TIMEOUT_CODES.has(code)) {
    return new UpstreamTimeoutError(`upstream stalled while sending ${progress.url} (${code})`, { cause: error })
  }
  if (code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return error instanceof Error ? error : new Error(String(error))
  const expected = progress.contentLength === undefined ? '' : ` of ${progress.contentLength} declared`
  return new UpstreamProtocolError(
    `upstream body for ${progress.url} ended early after ${progress.receivedBytes} bytes${expected} (${code || 'error'})`,
    { cause: error },
  )
}

/**
 * `serve --offline`: what the cache does not hold cannot be fetched; no connection is attempted.
 * A 404 (nothing under that name here), not an outage.
 */
export class NotInOfflineMirrorError extends UpstreamError {
  readonly code = 'not_in_offline_mirror'
  readonly fault = 'not_found'
  constructor(url: string) {
    super(`the offline mirror does not hold ${url}, and does not fetch anything`)
  }
}
