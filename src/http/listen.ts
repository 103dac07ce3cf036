/**
 * Binds the app with @hono/node-server behind the hot path, and shuts it down gracefully: stop
 * accepting, let running responses finish for a grace period, then close what is left.
 */
import { getRequestListener } from '@hono/node-server'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Hono } from 'hono'
import type { AppEnv } from './app.js'
import type { HotPath } from './hot-pages.js'

const IDLE_SOCKET_TIMEOUT_MS = 120_000

export interface Listening {
  readonly address: AddressInfo
  close(graceMs: number): Promise<void>
}

export function listen(app: Hono<AppEnv>, hotPath: HotPath, options: { host: string; port: number }): Promise<Listening> {
  const honoListener = getRequestListener(app.fetch)
  const server = createServer((req, res) => {
    if (!hotPath(req, res)) void honoListener(req, res)
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
