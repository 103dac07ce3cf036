/**
 * The upstream check once at start: one GET of the index root, read only to its response head, so
 * the log says at start whether the upstream can be reached (and why not), and /health and /status
 * say it before the first client asks. It neither fails nor delays the start: the caller does not
 * wait for it, and a check that fails is recorded like any failure, for the whole origin.
 */
import { describeError, errorCode, maskUrl, type Logger } from '../base/index.js'
import type { UpstreamClient } from './client.js'
import { failureCauseOf, UpstreamTimeoutError } from './errors.js'
import { isUpstreamFailure, type UpstreamHealth } from './health.js'

export interface StartCheckDeps {
  /** the client without the breaker: the check records its own outcome */
  readonly client: UpstreamClient
  readonly health: UpstreamHealth
  readonly logger: Logger
  readonly url: string
  /** no answer within this is a `timeout` */
  readonly timeoutMs: number
  /** aborted at shutdown: the check then ends without a verdict */
  readonly signal: AbortSignal
}

/** Never rejects. */
export async function checkUpstream(deps: StartCheckDeps): Promise<void> {
  const { client, health, logger, url, timeoutMs, signal } = deps
  const timeout = AbortSignal.timeout(timeoutMs)
  const startedMs = performance.now()
  let failure: unknown
  let status: number | undefined
  try {
    const head = await client.getStream(url, { maxBytes: Number.MAX_SAFE_INTEGER, signal: AbortSignal.any([signal, timeout]) })
    head.abort()
    status = head.status
  } catch (error) {
    if (signal.aborted) return
    failure = timeout.aborted ? new UpstreamTimeoutError(`no answer from ${maskUrl(url)} within ${timeoutMs} ms (start check)`, { cause: error }) : error
  }
  const latencyMs = Math.round(performance.now() - startedMs)
  // Any answer but a 5xx (a 404 for an index without a root page, a malformed head) shows the
  // upstream reachable; only failures that say it is unwell count.
  if (failure !== undefined && isUpstreamFailure(failure)) {
    health.recordFailure(url, failure, { check: true })
    logger.info('upstream_checked', { upstream: maskUrl(url), state: 'down', cause: failureCauseOf(failure), code: errorCode(failure), detail: describeError(failure), latencyMs })
    return
  }
  health.recordSuccess(url, latencyMs)
  logger.info('upstream_checked', { upstream: maskUrl(url), state: 'up', status, code: failure === undefined ? undefined : errorCode(failure), latencyMs })
}
