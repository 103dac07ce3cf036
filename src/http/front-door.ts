/**
 * What every request passes first: refusal of request targets that can only be hostile, then one
 * JSON log line and one counter increment per request. Responses built by hono are logged when
 * the handler returns; file bodies written straight to the socket are logged when that response
 * closes, with their real status, length and whether they completed.
 */
import type { MiddlewareHandler } from 'hono'
import type { Logger, MonotonicMs } from '../base/index.js'
import type { AppEnv } from './app.js'
import { BadRequestError, errorResponse } from './error-response.js'
import { elapsedMs, type RequestLog } from './request-log.js'

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
    const refusal = checkRequestTarget(c.env.incoming.url ?? '')
    if (refusal) {
      c.res = errorResponse(refusal, deps.logger, path)
      c.set('served', { reason: refusal.code })
    } else await next()
    // Hono writes its responses after the handler returns; pages were written whole already (and
    // say so with their status); raw file bodies may still be streaming.
    const served = c.get('served')
    if (!res.headersSent || served?.status !== undefined) {
      deps.requestLog({ method, path, status: served?.status ?? c.res.status, cache: served?.cache, reason: served?.reason, bytes: served?.bytes, ms: elapsedMs(deps.monotonicMs, startMs) })
      return
    }
    const log = () =>
      deps.requestLog({
        method,
        path,
        status: res.statusCode,
        cache: served?.cache ?? res.getHeader('x-cache'),
        reason: res.getHeader('x-tuf-proxy-reason'),
        bytes: served?.bytes ?? res.getHeader('content-length'),
        ms: elapsedMs(deps.monotonicMs, startMs),
        complete: res.writableFinished,
      })
    if (res.closed) log()
    else res.once('close', log)
  }
}
