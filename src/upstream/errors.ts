/**
 * The UpstreamError family: the upstream (or the network on the way to it) is at fault. Each class
 * has a stable `code`; `http/error-response.ts` maps them to statuses. Also owns the translation of
 * undici's error codes into this family, so no other file needs to know them.
 */
import { ProxyError } from '../base/index.js'

export abstract class UpstreamError extends ProxyError {}

/** The upstream answered with a status other than 200 or 304 (redirects are followed first). */
export class UpstreamHttpError extends UpstreamError {
  readonly code = 'upstream_status'
  readonly status: number
  readonly url: string
  constructor(status: number, url: string) {
    super(`upstream answered HTTP ${status} for ${url}`)
    this.status = status
    this.url = url
  }
}

/** Connecting, waiting for the response head, or waiting between body chunks took too long. */
export class UpstreamTimeoutError extends UpstreamError {
  readonly code = 'upstream_timeout'
}

/** The response is larger than the caller allowed (by Content-Length, or by counting the body). */
export class UpstreamTooLargeError extends UpstreamError {
  readonly code = 'upstream_too_large'
  constructor(url: string, maxBytes: number) {
    super(`upstream response for ${url} is larger than the limit of ${maxBytes} bytes`)
  }
}

/** No response at all: refused, DNS failure, reset before the head, TLS failure. `cause` is kept. */
export class UpstreamOfflineError extends UpstreamError {
  readonly code = 'upstream_unreachable'
}

/** The URL's host is not in the allowlist, or its scheme is not http/https (anti-SSRF). */
export class HostNotAllowedError extends UpstreamError {
  readonly code = 'host_not_allowed'
}

/** The upstream broke HTTP: a truncated body, a redirect without Location, too many redirects. */
export class UpstreamProtocolError extends UpstreamError {
  readonly code = 'upstream_protocol'
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return ''
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

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
