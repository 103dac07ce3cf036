/**
 * A fault-injecting upstream on raw `node:net`, so it can misbehave below HTTP: it sits in front
 * of a fault-free origin (a FakeUpstream or a TufUpstream's server), fetches each answer from it
 * (the oracle) and writes it back to the proxy with the transport and the fault set for that
 * path: HTTP/1.0, `Connection: close` or keep-alive; a correct body, truncated, over-long, a
 * Content-Length that lies either way, chunked with no length (whole or cut), a reset mid-body,
 * headers then silence, a byte at a time, a 5xx, a 304 nobody asked for, redirect chains and
 * loops, headers too large to parse, or a gzip body nobody asked for.
 *
 * It does not decide what the proxy should do about any of it: see fault-combinations.ts. A
 * faulted answer carries no validators (ETag, Last-Modified), as a server that corrupts a body
 * would not know the body's real tag; so a page accepted in good faith is not revalidated later.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'

export type Transport = 'keep-alive' | 'close' | 'http1.0'

export const FAULTS = [
  'none',
  'truncated',
  'overlong',
  'short-length',
  'long-length',
  'chunked',
  'chunked-cut',
  'reset',
  'stall',
  'drip',
  'status-500',
  'status-503',
  'unasked-304',
  'redirect-chain',
  'redirect-too-long',
  'redirect-loop',
  'huge-headers',
  'gzip',
] as const
export type Fault = (typeof FAULTS)[number]

export interface FaultPlan {
  readonly transport: Transport
  readonly fault: Fault
}

/** How often `drip` sends its next byte: far below any idle timeout. */
export const DRIP_INTERVAL_MS = 300
/** Hops of `redirect-chain` (within the proxy's limit of 5) and of `redirect-too-long` (past it). */
const SHORT_CHAIN_HOPS = 3
const LONG_CHAIN_HOPS = 7
const HOP_PREFIX = '/__hop/'
const HUGE_HEADER_BYTES = 96 * 1024
const MAX_REQUEST_HEAD_BYTES = 64 * 1024

/** Response headers that describe the connection or the framing; this server sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date'])
const VALIDATORS = new Set(['etag', 'last-modified'])

interface OriginAnswer {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

interface ParsedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

export class FaultUpstream {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #plans: Array<{ readonly matches: (path: string) => boolean; readonly plan: FaultPlan }> = []
  /** Requests seen per path (hops of a redirect chain counted under the path they lead to). */
  readonly hits = new Map<string, number>()
  port = 0

  constructor(readonly originUrl: string) {
    this.#server = createServer((socket) => this.#accept(socket))
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    const address = this.#server.address()
    this.port = typeof address === 'object' && address ? address.port : 0
    return this
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async stop(): Promise<void> {
    this.clear()
    for (const timer of this.#timers) clearInterval(timer)
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** Every later answer for a path that `matches` (exact string or predicate) gets `plan`; the first matching rule wins. */
  inject(matches: string | ((path: string) => boolean), plan: FaultPlan): void {
    const test = typeof matches === 'string' ? (path: string) => path === matches : matches
    this.#plans.unshift({ matches: test, plan })
  }

  /** Back to fault-free keep-alive answers for every path; stalled and dripping answers in flight are cut off. */
  clear(): void {
    this.#plans = []
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers.clear()
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0
  }

  #planFor(path: string): FaultPlan {
    return this.#plans.find((rule) => rule.matches(path))?.plan ?? { transport: 'keep-alive', fault: 'none' }
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let buffered = Buffer.alloc(0)
    let busy = false
    const next = (): void => {
      if (busy || socket.destroyed) return
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) {
        if (buffered.length > MAX_REQUEST_HEAD_BYTES) socket.destroy()
        return
      }
      const head = buffered.subarray(0, end).toString('latin1')
      buffered = buffered.subarray(end + 4)
      busy = true
      this.#answer(socket, parseRequest(head))
        .then((keepOpen) => {
          busy = false
          if (keepOpen) next()
          else socket.end()
        })
        .catch(() => socket.destroy())
    }
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      next()
    })
  }

  /** Writes one answer; resolves whether the connection may carry another request. */
  async #answer(socket: Socket, request: ParsedRequest): Promise<boolean> {
    const hop = parseHop(request.path)
    const path = hop ? hop.path : request.path
    const plan = this.#planFor(path)
    this.hits.set(path, this.hitsOf(path) + 1)
    if (hop) {
      // A hop of a chain this server started: follow it with the plan's transport, fault-free at its end.
      if (hop.remaining > 0) return this.#redirect(socket, plan.transport, `${HOP_PREFIX}${hop.remaining - 1}${path}`)
      return this.#write(socket, { transport: plan.transport, fault: 'none' }, await this.#fromOrigin(request, path, true), request)
    }
    switch (plan.fault) {
      case 'redirect-chain':
        return this.#redirect(socket, plan.transport, `${HOP_PREFIX}${SHORT_CHAIN_HOPS - 1}${path}`)
      case 'redirect-too-long':
        return this.#redirect(socket, plan.transport, `${HOP_PREFIX}${LONG_CHAIN_HOPS - 1}${path}`)
      case 'redirect-loop':
        return this.#redirect(socket, plan.transport, path)
      default: {
        // A faulted answer is built from the full answer, so conditional headers are not passed on.
        const answer = await this.#fromOrigin(request, path, plan.fault === 'none')
        return this.#write(socket, plan, answer, request)
      }
    }
  }

  #fromOrigin(request: ParsedRequest, path: string, isConditionalAllowed: boolean): Promise<OriginAnswer> {
    const headers: Record<string, string> = {}
    for (const name of ['accept', 'user-agent', ...(isConditionalAllowed ? ['if-none-match', 'if-modified-since'] : [])]) {
      const value = request.headers[name]
      if (value !== undefined) headers[name] = value
    }
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(new URL(path, this.originUrl), { method: 'GET', headers, agent: false }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', reject)
        response.on('end', () => {
          const pairs: Array<readonly [string, string]> = []
          for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) pairs.push([response.rawHeaders[i] ?? '', response.rawHeaders[i + 1] ?? ''])
          resolve({ status: response.statusCode ?? 502, headers: pairs, body: Buffer.concat(chunks) })
        })
      })
      outgoing.on('error', reject)
      outgoing.end()
    })
  }

  #redirect(socket: Socket, transport: Transport, location: string): boolean {
    const body = Buffer.from('redirecting\n')
    writeHead(socket, transport, 302, 'Found', [['Location', location], ['Content-Type', 'text/plain'], ['Content-Length', String(body.length)]])
    socket.write(body)
    return transport === 'keep-alive'
  }

  async #write(socket: Socket, plan: FaultPlan, answer: OriginAnswer, request: ParsedRequest): Promise<boolean> {
    const { transport, fault } = plan
    const isFaulted = fault !== 'none' && fault !== 'chunked'
    const passed = answer.headers.filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()) && !(isFaulted && VALIDATORS.has(name.toLowerCase())))
    const body = answer.body
    const half = body.subarray(0, Math.floor(body.length / 2))
    const mayContinue = transport === 'keep-alive'
    // HTTP/1.0 answers are delimited by closing the connection, as a simple HTTP/1.0 server does.
    const isCloseDelimited = transport === 'http1.0'
    const lengthHeader = (length: number): Array<[string, string]> => (isCloseDelimited ? [] : [['Content-Length', String(length)]])
    if (answer.status === 304 || fault === 'unasked-304') {
      // RFC 9110 §15.4.5: a 304 has no body; sent here whatever the request's conditions were.
      writeHead(socket, transport, 304, 'Not Modified', answer.status === 304 ? passed : passed.filter(([name]) => name.toLowerCase() !== 'content-type'))
      return mayContinue
    }
    switch (fault) {
      case 'none':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ...lengthHeader(body.length)])
        socket.write(body)
        return mayContinue && !isCloseDelimited
      case 'truncated':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ...lengthHeader(body.length)])
        socket.write(half)
        return false
      case 'overlong': {
        // Large enough to still be arriving when the proxy decides, whatever it decides on.
        const longer = Buffer.concat([body, Buffer.from('\n<!-- trailing bytes no index sent -->\n'.repeat(8192))])
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ...lengthHeader(longer.length)])
        socket.write(longer)
        return mayContinue && !isCloseDelimited
      }
      case 'short-length':
        // The rest of the body stays on the connection, where the next answer is expected.
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Content-Length', String(half.length)]])
        socket.write(body)
        return mayContinue
      case 'long-length':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Content-Length', String(body.length + 100)]])
        socket.write(body)
        return false
      case 'chunked':
      case 'chunked-cut': {
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Transfer-Encoding', 'chunked']])
        const pieces = fault === 'chunked' ? splitInto(body, 3) : [half]
        for (const piece of pieces) if (piece.length > 0) socket.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`, 'latin1')
        if (fault === 'chunked') socket.write('0\r\n\r\n')
        return fault === 'chunked' && mayContinue
      }
      case 'reset':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Content-Length', String(body.length)]])
        socket.write(half, () => socket.resetAndDestroy())
        return new Promise<boolean>((resolve) => socket.once('close', () => resolve(false)))
      case 'stall':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Content-Length', String(body.length)]])
        return new Promise<boolean>((resolve) => socket.once('close', () => resolve(false)))
      case 'drip':
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ...lengthHeader(body.length)])
        return this.#drip(socket, body).then(() => mayContinue && !isCloseDelimited)
      case 'status-500':
      case 'status-503': {
        const status = fault === 'status-500' ? 500 : 503
        const text = Buffer.from(`injected ${status} for ${request.path}\n`)
        writeHead(socket, transport, status, reasonPhrase(status), [['Content-Type', 'text/plain'], ...lengthHeader(text.length)])
        socket.write(text)
        return mayContinue && !isCloseDelimited
      }
      case 'huge-headers': {
        const filler: Array<[string, string]> = []
        for (let i = 0; i * 1024 < HUGE_HEADER_BYTES; i++) filler.push([`X-Filler-${i}`, 'f'.repeat(1000)])
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ...filler, ...lengthHeader(body.length)])
        socket.write(body)
        return false
      }
      case 'gzip': {
        const gzipped = gzipSync(body)
        writeHead(socket, transport, answer.status, reasonPhrase(answer.status), [...passed, ['Content-Encoding', 'gzip'], ...lengthHeader(gzipped.length)])
        socket.write(gzipped)
        return mayContinue && !isCloseDelimited
      }
      case 'redirect-chain':
      case 'redirect-too-long':
      case 'redirect-loop':
        throw new Error(`fault ${fault} is answered before the body is built`)
    }
  }

  /** One byte every DRIP_INTERVAL_MS until the body is out, the connection closes, or clear() stops it. */
  #drip(socket: Socket, body: Buffer): Promise<void> {
    return new Promise((resolve) => {
      let sent = 0
      const timer = setInterval(() => {
        if (socket.destroyed || sent >= body.length || !this.#timers.has(timer)) {
          clearInterval(timer)
          this.#timers.delete(timer)
          if (sent < body.length) socket.destroy()
          resolve()
          return
        }
        socket.write(body.subarray(sent, sent + 1))
        sent++
      }, DRIP_INTERVAL_MS)
      this.#timers.add(timer)
      socket.once('close', () => {
        clearInterval(timer)
        this.#timers.delete(timer)
        resolve()
      })
    })
  }
}

function writeHead(socket: Socket, transport: Transport, status: number, reason: string, headers: ReadonlyArray<readonly [string, string]>): void {
  const version = transport === 'http1.0' ? 'HTTP/1.0' : 'HTTP/1.1'
  const connection: Array<readonly [string, string]> = transport === 'close' ? [['Connection', 'close']] : []
  const lines = [`${version} ${status} ${reason}`, ...[...headers, ...connection].map(([name, value]) => `${name}: ${value}`)]
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
}

function parseRequest(head: string): ParsedRequest {
  const [requestLine = '', ...headerLines] = head.split('\r\n')
  const [method = 'GET', target = '/'] = requestLine.split(' ')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { method, path: target, headers }
}

function parseHop(path: string): { remaining: number; path: string } | undefined {
  const match = /^\/__hop\/(\d+)(\/.*)$/.exec(path)
  return match ? { remaining: Number(match[1]), path: match[2] ?? '/' } : undefined
}

function splitInto(body: Buffer, parts: number): Buffer[] {
  const size = Math.max(1, Math.ceil(body.length / parts))
  const pieces: Buffer[] = []
  for (let offset = 0; offset < body.length; offset += size) pieces.push(body.subarray(offset, offset + size))
  return pieces
}

function reasonPhrase(status: number): string {
  const phrases: Record<number, string> = { 200: 'OK', 304: 'Not Modified', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' }
  return phrases[status] ?? 'Status'
}
