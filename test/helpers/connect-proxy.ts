/**
 * A small real HTTP proxy on 127.0.0.1:0, as an office network puts in front of the internet:
 * `CONNECT host:port` opens a tunnel (RFC 9110 §9.3.6), an absolute-form request (RFC 9112 §3.2.2)
 * is forwarded. It can demand Basic credentials (407, RFC 9110 §11.7.1), and records every tunnel's
 * and every forwarded request's target so a test can tell what went through it.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'

export interface ConnectProxyOptions {
  /** `user:password` the client must send as Proxy-Authorization: Basic; absent = no authentication */
  readonly credentials?: string
}

export class ConnectProxy {
  /** `host:port` of each CONNECT that was let through, in order */
  readonly tunnels: string[] = []
  /** absolute URLs of the forwarded plain-http requests */
  readonly forwarded: string[] = []
  /** requests answered 407 */
  authRefusals = 0
  port = 0
  #server: Server
  #sockets = new Set<Socket>()

  constructor(private readonly options: ConnectProxyOptions = {}) {
    this.#server = createServer((req, res) => {
      if (!this.#authorized(req)) {
        this.authRefusals++
        res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', connection: 'close' }).end()
        return
      }
      const target = req.url ?? ''
      this.forwarded.push(target)
      const outgoing = request(target, { method: req.method, headers: withoutProxyHeaders(req.headers) }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      outgoing.on('error', () => res.writeHead(502, { connection: 'close' }).end())
      req.pipe(outgoing)
    })
    this.#server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      client.on('error', () => undefined)
      if (!this.#authorized(req)) {
        this.authRefusals++
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
        return
      }
      const [host, port] = splitHostPort(req.url ?? '')
      const upstream = connect(port, host, () => {
        this.tunnels.push(`${host}:${port}`)
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'))
      this.#track(upstream)
    })
    this.#server.on('connection', (socket: Socket) => this.#track(socket))
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  /** The proxy's URL, with `user:password@` when given. */
  url(credentials?: string): string {
    return `http://${credentials ? `${credentials}@` : ''}127.0.0.1:${this.port}`
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
  }

  #authorized(req: IncomingMessage): boolean {
    if (this.options.credentials === undefined) return true
    return req.headers['proxy-authorization'] === `Basic ${Buffer.from(this.options.credentials).toString('base64')}`
  }
}

function splitHostPort(authority: string): [string, number] {
  const colon = authority.lastIndexOf(':')
  return [authority.slice(0, colon).replace(/^\[|\]$/g, ''), Number(authority.slice(colon + 1))]
}

function withoutProxyHeaders(headers: IncomingMessage['headers']): IncomingMessage['headers'] {
  const copy = { ...headers }
  delete copy['proxy-authorization']
  delete copy['proxy-connection']
  return copy
}
