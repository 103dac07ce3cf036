/**
 * What every request passes first: refusal of request targets that can only be hostile, then one
 * JSON log line and one counter increment per request, when the handler returns. Handlers that
 * write to the socket themselves (pages, files) return once the body went out or was given up,
 * and say what they sent in `served`.
 */
import type { MiddlewareHandler } from 'hono'
import type { Logger, MonotonicMs } from '../base/index.js'
import type { AppEnv } from './app.js'
import { BadRequestError, errorResponse } from './error-response.js'
import { elapsedMs, userAgentOf, type RequestLog } from './request-log.js'

/** Longest request target accepted; PEP 503 paths are short, and this bounds hostile input. */
const MAX_PATH_BYTES = 2048

/**
 * The reason to refuse a request target outright, if any: overlong, NUL, backslashes (`%5c`)
 * and dot segments. URL parsing would resolve or mangle them before routing, so such a request
 * could silently mean another path.
 */
function checkRequestTarget(raw: string): BadRequestError | undefined {
  if (raw.length > MAX_PATH_BYTES) return new BadRequestError('request path too long')
  if (/%00|\\|%5c/i.test(raw) || raw.includes('\0')) return new BadRequestError('request path contains a forbidden character')
  const rawPath = raw.split('?')[0] ?? ''
  if (rawPath.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) return new BadRequestError('request path contains a dot segment')
  return undefined
}

export function frontDoor(deps: { logger: Logger; monotonicMs: MonotonicMs; requestLog: RequestLog }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const startMs = deps.monotonicMs()
    const method = c.req.method
    const path = c.req.path
    const res = c.env.outgoing
    const incoming = c.env.incoming
    // Read now: a socket destroyed mid-answer no longer knows its peer.
    const client = incoming.socket.remoteAddress
    const refusal = checkRequestTarget(incoming.url ?? '')
    if (refusal) {
      c.res = errorResponse(refusal, deps.logger, path)
      c.set('served', { reason: refusal.code })
    } else await next()
    // Hono writes its responses after the handler returns; pages and files were written already
    // and say so with their status.
    const served = c.get('served')
    deps.requestLog({
      method,
      path,
      status: served?.status ?? (res.headersSent ? res.statusCode : c.res.status),
      cache: served?.cache,
      reason: served?.reason,
      bytes: served?.bytes,
      complete: served?.complete,
      ms: elapsedMs(deps.monotonicMs, startMs),
      client,
      userAgent: userAgentOf(incoming),
    })
  }
}
