/**
 * Binds the app with @hono/node-server and shuts it down gracefully: stop accepting, let running
 * responses finish for a grace period, then close what is left.
 */
import { serve } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Hono } from 'hono'
import type { AppEnv } from './app.js'

export interface Listening {
  readonly address: AddressInfo
  close(graceMs: number): Promise<void>
}

export function listen(app: Hono<AppEnv>, options: { host: string; port: number }): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, (address) => {
      resolve({
        address,
        close: (graceMs) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => httpServer.closeAllConnections(), graceMs)
            timer.unref()
            httpServer.close(() => {
              clearTimeout(timer)
              done()
            })
            httpServer.closeIdleConnections()
          }),
      })
    }) as Server
    const httpServer = server
    server.keepAliveTimeout = 65_000
    server.once('error', reject)
  })
}
