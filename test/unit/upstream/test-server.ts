/**
 * A real node:http server on 127.0.0.1:0 for upstream client tests, with a per-test route table,
 * a request log and a count of accepted TCP connections (to prove keep-alive reuse).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import type { UpstreamOptions } from '../../../src/upstream/index.js'

/** Upstream client options for talking to `server`: short timeouts, no rate floor, test user agent. */
export function testUpstreamOptions(server: TestServer, overrides: Partial<UpstreamOptions> = {}): UpstreamOptions {
  return {
    allowedHosts: [server.host],
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    bodyTimeoutMs: 2000,
    deadlineMs: 10_000,
    minBytesPerSecond: 0,
    rateWindowMs: 1000,
    maxRedirects: 3,
    userAgent: 'tuf-proxy-test/1',
    ...overrides,
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface TestServer {
  readonly origin: string
  readonly host: string
  readonly requests: Array<{ readonly path: string; readonly headers: IncomingMessage['headers'] }>
  connections: number
  route(path: string, handler: Handler): void
  close(): Promise<void>
}

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Handler>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    state.requests.push({ path: req.url ?? '', headers: req.headers })
    const handler = routes.get(req.url ?? '')
    if (handler) handler(req, res)
    else res.writeHead(599).end('no route')
  })
  server.on('connection', (socket: Socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const host = `127.0.0.1:${address.port}`
  const state: TestServer = {
    origin: `http://${host}`,
    host,
    requests: [],
    connections: 0,
    route: (path, handler) => void routes.set(path, handler),
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
  return state
}
