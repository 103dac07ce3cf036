/**
 * Outcomes of the mirror's use cases that are not the upstream's or the repository's fault alone:
 * a name nobody lists, a miss while the upstream is down.
 */
import { ProxyError, faultOf, type Fault } from '../base/index.js'

/** The upstream (or the verified index) does not list what was asked for. */
export class NotFoundError extends ProxyError {
  readonly code: string
  readonly fault = 'not_found'
  constructor(message: string, options?: { cause?: unknown; code?: 'not_found' | 'unknown_target' | 'quarantined' }) {
    super(message, options)
    this.code = options?.code ?? 'not_found'
  }
}

/** A cache miss while the upstream cannot be reached: nothing verified to serve. */
export class UnavailableError extends ProxyError {
  readonly code: string
  readonly fault: Fault
  constructor(message: string, options: { cause: unknown; code?: string }) {
    super(message, { cause: options.cause })
    this.code = options.code ?? 'upstream_unreachable'
    // A timeout stays a timeout (504); whatever else kept the upstream from answering is an outage.
    this.fault = faultOf(options.cause) === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_unavailable'
  }
}

/**
 * A rendered page kept as a blob (the project list) was evicted between the lookup and the
 * read; nothing was sent yet, and the next request renders it again.
 */
export class PageBodyGoneError extends ProxyError {
  readonly code = 'rendered_page_evicted'
  readonly fault = 'storage'
}

/**
 * `serve --offline` in verifying mode: a top-level role of the imported TUF state has expired
 * (past any `--offline-grace`). An air-gapped mirror cannot refresh it; only a newer import can.
 * 503: the data is not wrong, the mirror cannot vouch for it now (a freeze attack looks the same).
 */
export class OfflineExpiredError extends ProxyError {
  readonly code = 'offline_metadata_expired'
  readonly fault = 'upstream_unavailable'
  constructor(
    message: string,
    readonly role: string,
    readonly expires: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
