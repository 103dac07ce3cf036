/**
 * Binds the app with @hono/node-server behind the hot path, and shuts it down gracefully: stop
 * accepting, let running responses finish for a grace period, then close what is left.
 */
import { getRequestListener } from '@hono/node-server'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Hono } from 'hono'
import type { MonotonicMs } from '../base/index.js'
import type { AppEnv } from './app.js'
import type { HotPath } from './hot-pages.js'

const IDLE_SOCKET_TIMEOUT_MS = 120_000

export interface Listening {
  readonly address: AddressInfo
  close(graceMs: number): Promise<void>
  /** The requests being answered now, oldest first: what a dying process names in its last line. */
  inFlight(): Array<{ method: string; path: string; ms: number }>
}

export function listen(app: Hono<AppEnv>, hotPath: HotPath, options: { host: string; port: number; monotonicMs: MonotonicMs }): Promise<Listening> {
  const honoListener = getRequestListener(app.fetch)
  const { monotonicMs } = options
  // A Set keeps insertion order, so the oldest request is listed first.
  const running = new Set<{ req: IncomingMessage; startMs: number }>()
  const server = createServer((req, res) => {
    const request = { req, startMs: monotonicMs() }
    running.add(request)
    // `on`, not `once`: a response closes once, and `once` costs a wrapper per request.
    res.on('close', () => running.delete(request))
    if (!hotPath(req, res, request.startMs)) void honoListener(req, res)
  })
  server.keepAliveTimeout = 65_000
  // A client that stops reading would otherwise pin its file handle, buffers and download reader
  // forever: a socket on which nothing moves for this long is closed.
  server.timeout = IDLE_SOCKET_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve({
        address: server.address() as AddressInfo,
        inFlight: () => {
          const nowMs = monotonicMs()
          return [...running].map(({ req, startMs }) => ({ method: req.method ?? '', path: pathOf(req.url), ms: Math.round(nowMs - startMs) }))
        },
        close: (graceMs) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), graceMs)
            timer.unref()
            server.close(() => {
              clearTimeout(timer)
              done()
            })
            server.closeIdleConnections()
          }),
      })
    })
  })
}

/** The path as the request log writes it: no query string, and bounded (targets may be hostile). */
function pathOf(target: string | undefined): string {
  const path = (target ?? '').split('?')[0] ?? ''
  return path.length > 256 ? `${path.slice(0, 256)}…` : path
}
