/**
 * A real HTTP upstream on 127.0.0.1:0 for integration tests: a PEP 503/691 index (HTML or JSON,
 * per instance), files, and any extra routes (TUF metadata and targets), with knobs to misbehave
 * and a request log to count what reached it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { createHash } from 'node:crypto'

export interface UpstreamFile {
  readonly filename: string
  readonly bytes: Uint8Array
  /** hashes to advertise; defaults to the true sha256 */
  hashes?: Record<string, string>
  requiresPython?: string
  yanked?: boolean | string
  /** PEP 658 metadata bytes, served at <file>.metadata */
  metadata?: Uint8Array
  /** advertise a PEP 700 size */
  size?: number
  /** advertise a PEP 700 upload-time (JSON pages only, as PEP 700 defines it) */
  uploadTime?: string
}

export interface Project {
  name: string
  files: UpstreamFile[]
  serial: number
  /** PEP 792 project status, rendered as JSON `project-status` or HTML meta tags */
  status?: { status: string; reason?: string }
}

type Route = (req: IncomingMessage, res: ServerResponse) => void

export interface RequestLogEntry {
  readonly method: string
  readonly path: string
  readonly accept: string | undefined
}

export class FakeUpstream {
  readonly projects = new Map<string, Project>()
  readonly log: RequestLogEntry[] = []
  format: 'html' | 'json' = 'html'
  /** Where page links send clients for files; another server in front of this one sets its own URL. */
  linkBaseUrl: string | undefined
  #server: Server
  #sockets = new Set<Socket>()
  #routes = new Map<string, Route>()
  #tampered = new Map<string, (bytes: Uint8Array) => Uint8Array>()
  #failures = new Map<string, { status: number; remaining: number }>()
  #stalled = new Set<string>()
  #delays = new Map<string, number>()
  #servedSerial = new Map<string, number>()
  #offline = false
  port = 0

  /** `tls`: serve https with this key and certificate (see helpers/tls-certs.ts) instead of http. */
  constructor(private readonly options: { tls?: { key: string; cert: string } } = {}) {
    const handle = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res)
    this.#server = options.tls ? createHttpsServer(options.tls, handle) : createServer(handle)
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`
  }

  get simpleUrl(): string {
    return `${this.url}/simple/`
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  addProject(name: string, files: UpstreamFile[], serial = 1): Project {
    const project = { name, files, serial }
    this.projects.set(normalize(name), project)
    return project
  }

  /** Extra exact-path routes, e.g. TUF metadata; they see the same knobs as the index. */
  route(path: string, handler: Route): void {
    this.#routes.set(path, handler)
  }

  /**
   * The first request for `path` gets half of `bytes` and then hangs (a leader's download stuck
   * mid-file); later ones get them whole. @returns what ends the hung response
   */
  hangFirstRequest(path: string, bytes: Uint8Array): () => void {
    let served = 0
    const hung: ServerResponse[] = []
    this.route(path, (_req, res) => {
      served += 1
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) })
      if (served === 1) {
        res.write(bytes.subarray(0, bytes.byteLength / 2))
        hung.push(res)
      } else res.end(bytes)
    })
    return () => hung.forEach((res) => res.destroy())
  }

  /** Serve `path` with the bytes passed through `change` (after hashes were advertised). */
  tamper(path: string, change: (bytes: Uint8Array) => Uint8Array = flipLastByte): void {
    this.#tampered.set(path, change)
  }

  untamper(path: string): void {
    this.#tampered.delete(path)
  }

  failNext(path: string, status: number, times = 1): void {
    this.#failures.set(path, { status, remaining: times })
  }

  /** Answer headers for `path`, then never send the body. */
  stall(path: string): void {
    this.#stalled.add(path)
  }

  unstall(path: string): void {
    this.#stalled.delete(path)
  }

  delay(path: string, ms: number): void {
    this.#delays.set(path, ms)
  }

  /** Serve this serial for a project page instead of the project's current one (a lagging replica). */
  serveSerial(project: string, serial: number | undefined): void {
    if (serial === undefined) this.#servedSerial.delete(normalize(project))
    else this.#servedSerial.set(normalize(project), serial)
  }

  /** Every request is answered by closing the connection. */
  offline(isOffline = true): void {
    this.#offline = isOffline
  }

  hits(path: string): number {
    return this.log.filter((entry) => entry.path === path).length
  }

  fileUrl(filename: string): string {
    return `${this.linkBaseUrl ?? this.url}/files/${filename}`
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', this.url).pathname)
    this.log.push({ method: req.method ?? 'GET', path, accept: req.headers.accept })
    if (this.#offline) {
      req.socket.destroy()
      return
    }
    const failure = this.#failures.get(path)
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1
      res.writeHead(failure.status, { 'content-type': 'text/plain' }).end('injected failure\n')
      return
    }
    const run = () => {
      const route = this.#routes.get(path)
      if (route) return route(req, res)
      this.#serveIndex(path, req, res)
    }
    const delayMs = this.#delays.get(path)
    if (delayMs) setTimeout(run, delayMs)
    else run()
  }

  /** Sends bytes, applying tamper and stall knobs; exported for extra routes. */
  send(res: ServerResponse, path: string, status: number, headers: Record<string, string>, bytes: Uint8Array): void {
    const change = this.#tampered.get(path)
    const body = change ? change(bytes) : bytes
    res.writeHead(status, { ...headers, 'content-length': String(body.byteLength) })
    if (this.#stalled.has(path)) {
      res.flushHeaders()
      return
    }
    res.end(body)
  }

  #serveIndex(path: string, req: IncomingMessage, res: ServerResponse): void {
    const wantsJson = this.format === 'json'
    if (path === '/simple/') {
      const names = [...this.projects.values()].map((project) => project.name)
      const body = wantsJson
        ? JSON.stringify({ meta: { 'api-version': '1.1' }, projects: names.map((name) => ({ name })) })
        : `<!DOCTYPE html><html><body>${names.map((name) => `<a href="${normalize(name)}/">${name}</a>`).join('\n')}</body></html>`
      return this.#sendPage(res, path, req, body, wantsJson, undefined)
    }
    const pageMatch = /^\/simple\/([^/]+)\/$/.exec(path)
    if (pageMatch) {
      const project = this.projects.get(pageMatch[1] ?? '')
      if (!project) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such project\n')
      const serial = this.#servedSerial.get(normalize(project.name)) ?? project.serial
      return this.#sendPage(res, path, req, this.#renderProject(project, wantsJson, serial), wantsJson, serial)
    }
    const fileMatch = /^\/files\/([^/]+)$/.exec(path)
    if (fileMatch) {
      const name = fileMatch[1] ?? ''
      for (const project of this.projects.values()) {
        for (const file of project.files) {
          if (file.filename === name) return this.send(res, path, 200, { 'content-type': 'application/octet-stream' }, file.bytes)
          if (`${file.filename}.metadata` === name && file.metadata) return this.send(res, path, 200, { 'content-type': 'text/plain' }, file.metadata)
        }
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  }

  #sendPage(res: ServerResponse, path: string, req: IncomingMessage, body: string, isJson: boolean, serial: number | undefined): void {
    const bytes = Buffer.from(body)
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`
    const headers: Record<string, string> = {
      'content-type': isJson ? 'application/vnd.pypi.simple.v1+json' : 'text/html; charset=utf-8',
      etag,
    }
    if (serial !== undefined) headers['x-pypi-last-serial'] = String(serial)
    if (req.headers['if-none-match'] === etag && !this.#tampered.has(path)) {
      res.writeHead(304, headers).end()
      return
    }
    this.send(res, path, 200, headers, bytes)
  }

  #renderProject(project: Project, isJson: boolean, serial: number): string {
    const hashesOf = (file: UpstreamFile) => file.hashes ?? { sha256: createHash('sha256').update(file.bytes).digest('hex') }
    if (isJson) {
      return JSON.stringify({
        meta: { 'api-version': project.status ? '1.4' : '1.1', '_last-serial': serial },
        name: project.name,
        ...(project.status ? { 'project-status': project.status } : {}),
        versions: [],
        files: project.files.map((file) => ({
          filename: file.filename,
          url: this.fileUrl(file.filename),
          hashes: hashesOf(file),
          ...(file.requiresPython ? { 'requires-python': file.requiresPython } : {}),
          ...(file.yanked !== undefined ? { yanked: file.yanked } : {}),
          ...(file.metadata ? { 'core-metadata': { sha256: createHash('sha256').update(file.metadata).digest('hex') } } : {}),
          ...(file.size !== undefined ? { size: file.size } : {}),
          ...(file.uploadTime !== undefined ? { 'upload-time': file.uploadTime } : {}),
        })),
      })
    }
    const links = project.files.map((file) => {
      const [algorithm, hex] = Object.entries(hashesOf(file))[0] ?? []
      const fragment = algorithm ? `#${algorithm}=${hex}` : ''
      const attributes = [
        file.requiresPython ? ` data-requires-python="${file.requiresPython.replace(/</g, '&lt;').replace(/>/g, '&gt;')}"` : '',
        file.yanked ? ` data-yanked="${typeof file.yanked === 'string' ? file.yanked : ''}"` : '',
        file.metadata ? ` data-core-metadata="sha256=${createHash('sha256').update(file.metadata).digest('hex')}"` : '',
      ].join('')
      return `<a href="${this.fileUrl(file.filename)}${fragment}"${attributes}>${file.filename}</a><br/>`
    })
    const statusMeta = project.status
      ? `<meta name="pypi:project-status" content="${project.status.status}">${project.status.reason ? `<meta name="pypi:project-status-reason" content="${project.status.reason}">` : ''}`
      : ''
    return `<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="${project.status ? '1.4' : '1.0'}">${statusMeta}</head><body><h1>Links for ${project.name}</h1>\n${links.join('\n')}\n</body></html><!--SERIAL ${serial}-->`
  }
}

export function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase()
}

export function flipLastByte(bytes: Uint8Array): Uint8Array {
  const copy = Buffer.from(bytes)
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0xff
  return copy
}
