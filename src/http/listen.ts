/**
 * Binds the app with @hono/node-server behind the hot path, and shuts it down gracefully: stop
 * accepting, let running responses finish for a grace period, then close what is left.
 */
import { getRequestListener } from '@hono/node-server'
import { createServer, STATUS_CODES, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
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
  // When each running response started; a Map keeps insertion order, so the oldest is listed first.
  const running = new Map<ServerResponse, number>()
  // One listener for every response (it gets the response as `this`): nothing is allocated per
  // request for it. `on`, not `once`: a response closes once, and `once` costs a wrapper.
  function forget(this: ServerResponse): void {
    running.delete(this)
  }
  const server = createServer((req, res) => {
    const startMs = monotonicMs()
    running.set(res, startMs)
    res.on('close', forget)
    if (!hotPath(req, res, startMs)) void honoListener(req, res)
  })
  server.on('clientError', answerClientError)
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
          return [...running].map(([{ req }, startMs]) => ({ method: req.method ?? '', path: pathOf(req.url), ms: Math.round(nowMs - startMs) }))
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

/**
 * A request Node's parser refused before any handler saw it (a malformed request line, headers
 * over the limit, a request too slow to arrive): answered like every other error, a JSON body
 * with the reason, also in X-Tuf-Proxy-Reason, where Node alone would send a bare status line.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or a socket already half-gone has no one to answer.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, reason] =
    error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large'] : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout'] : [400, 'bad_request']
  const body = `${JSON.stringify({ error: reason, message: `the request could not be parsed: ${STATUS_CODES[status] ?? 'bad request'}` })}\n`
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-tuf-proxy-reason: ${reason}\r\nconnection: close\r\n\r\n${body}`,
  )
}
