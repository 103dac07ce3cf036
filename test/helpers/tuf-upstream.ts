/**
 * A TUF repository over HTTP for integration tests: a RepositorySimulator served by a
 * FakeUpstream on 127.0.0.1:0, metadata under `/metadata/` and targets under `/targets/`, where
 * the simple pages of the index are targets themselves (PEP 458: `simple/<project>/index.html`).
 *
 * The simulator signs; this file only maps URLs to it. Every URL is an exact FakeUpstream route,
 * so FakeUpstream's knobs (tamper, stall, delay, offline) and its request log apply to TUF paths
 * too. Routes are (re)registered by `sync()` after each repository change. Unlike the simulator,
 * which keeps one set of bytes per target path, this keeps every version of a target ever
 * published, so the consistent-snapshot name `dir/HASH.name` of an older version stays
 * fetchable, as on a real repository.
 *
 * Deliberately not a PEP 503 index of its own: `/targets/simple/` (the project list) is not served.
 */
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { FakeUpstream } from './fake-upstream.js'
import type { RepositorySimulator } from './repository-simulator.js'
import { buildWheel } from './wheels.js'

/** A distribution file published as a TUF target. */
export interface DistFile {
  /** target path, relative to the targets base: `packages/…/<filename>` */
  readonly path: string
  readonly filename: string
  readonly bytes: Uint8Array
  readonly sha256: string
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function splitPath(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf('/')
  return { dir: path.slice(0, slash + 1), name: path.slice(slash + 1) }
}

/** FooBar's wheel at `packages/py3/F/FooBar/<filename>` (the layout PyPI's `packages/` tree uses). */
export function wheelFile(project: string, version: string, payload = ''): DistFile {
  const wheel = buildWheel(project, version, payload)
  return { path: `packages/py3/${project.charAt(0)}/${project}/${wheel.filename}`, filename: wheel.filename, bytes: wheel.bytes, sha256: wheel.sha256 }
}

/** An sdist at `packages/source/F/FooBar/FooBar-0.1.tar.gz`; the proxy treats its bytes as opaque. */
export function sdistFile(project: string, version: string): DistFile {
  const filename = `${project}-${version}.tar.gz`
  const bytes = Buffer.from(`not really a tarball: ${project} ${version}\n`)
  return { path: `packages/source/${project.charAt(0)}/${project}/${filename}`, filename, bytes, sha256: sha256(bytes) }
}

export class TufUpstream {
  readonly server: FakeUpstream
  /** every version of each target path: path → sha256 → bytes */
  readonly #versions = new Map<string, Map<string, Uint8Array>>()

  private constructor(
    readonly sim: RepositorySimulator,
    server: FakeUpstream,
  ) {
    this.server = server
  }

  static async start(sim: RepositorySimulator): Promise<TufUpstream> {
    const upstream = new TufUpstream(sim, await new FakeUpstream().start())
    return upstream.sync()
  }

  get url(): string {
    return this.server.url
  }

  get metadataUrl(): string {
    return `${this.url}/metadata/`
  }

  get targetsUrl(): string {
    return `${this.url}/targets/`
  }

  /** The index URL (`--upstream`): project pages are `simple/<project>/index.html` targets below it. */
  get simpleUrl(): string {
    return `${this.url}/targets/simple/`
  }

  stop(): Promise<void> {
    return this.server.stop()
  }

  /** Signs and publishes the changed roles (new snapshot and timestamp), then serves them. */
  publish(): this {
    this.sim.updateSnapshot()
    return this.sync()
  }

  /** Registers a route for every metadata name and target URL the repository can serve now. */
  sync(): this {
    for (const [role, signed] of this.sim.roles) {
      const encoded = encodeURIComponent(role)
      const newest = role === 'root' ? this.sim.rootVersion : signed.version
      this.#metadataRoute(`${role}.json`, `${encoded}.json`)
      if (role === 'timestamp') continue
      for (let version = 1; version <= newest; version++) this.#metadataRoute(`${version}.${role}.json`, `${version}.${encoded}.json`)
    }
    for (const [path, bytes] of this.sim.targetFiles) {
      let versions = this.#versions.get(path)
      if (!versions) this.#versions.set(path, (versions = new Map()))
      versions.set(sha256(bytes), Buffer.from(bytes))
      for (const urlPath of this.#plainUrlPaths(path)) this.server.route(urlPath, (_req, res) => this.#sendCurrentTarget(res, urlPath, path))
      for (const [hex, old] of versions) {
        const urlPath = this.#consistentUrlPath(path, hex)
        this.server.route(urlPath, (_req, res) => this.#send(res, urlPath, old, contentTypeOf(path)))
      }
    }
    return this
  }

  /** Every URL path a target may be fetched under: plain, `dir/` for pages, and `dir/HASH.name` for each version. */
  targetUrlPaths(path: string): string[] {
    const hashes = [...(this.#versions.get(path)?.keys() ?? [])]
    return [...this.#plainUrlPaths(path), ...hashes.map((hex) => this.#consistentUrlPath(path, hex))]
  }

  /** A CDN without keys swaps the bytes of a target under every URL it is served at. */
  tamperTarget(path: string, change?: (bytes: Uint8Array) => Uint8Array): void {
    for (const urlPath of this.targetUrlPaths(path)) this.server.tamper(urlPath, change)
  }

  untamperTarget(path: string): void {
    for (const urlPath of this.targetUrlPaths(path)) this.server.untamper(urlPath)
  }

  /** Serves exactly `bytes` at a URL path (e.g. `/metadata/timestamp.json`), whatever the repository holds. */
  serveBytes(urlPath: string, bytes: Uint8Array): void {
    this.server.tamper(urlPath, () => bytes)
  }

  /** Endless data: pads what is served at `urlPath` with spaces (still valid JSON) to `totalBytes`. */
  inflate(urlPath: string, totalBytes: number): void {
    this.server.tamper(urlPath, (bytes) => Buffer.concat([bytes, Buffer.alloc(Math.max(0, totalBytes - bytes.byteLength), 0x20)]))
  }

  /** Slow upstream: headers, then never a body. */
  stall(urlPath: string): void {
    this.server.stall(urlPath)
  }

  /** Undoes serveBytes/inflate/stall on a URL path. */
  heal(urlPath: string): void {
    this.server.untamper(urlPath)
    this.server.unstall(urlPath)
  }

  /**
   * Publishes a project in `role`: each file as a target, and the PEP 503 page
   * `simple/<normalized>/index.html` (absolute links to `/targets/<path>#sha256=…`) as a target.
   * `note` (an HTML comment) makes an otherwise identical page new. Call `publish()` afterwards.
   * `role` may be a function of the target path, for layouts that spread one project over
   * several roles (PEP 458 hash bins). Returns the page path and bytes.
   */
  publishProject(role: string | ((path: string) => string), project: string, files: readonly DistFile[], note?: string): { path: string; bytes: Buffer } {
    const roleOf = typeof role === 'string' ? () => role : role
    const normalized = project.replace(/[-_.]+/g, '-').toLowerCase()
    const links = files.map((file) => `<a href="${this.targetsUrl}${file.path}#sha256=${file.sha256}">${file.filename}</a><br/>`)
    const bytes = Buffer.from(`<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for ${normalized}</title></head>\n<body><h1>Links for ${normalized}</h1>\n${links.join('\n')}\n</body></html>\n${note === undefined ? '' : `<!-- ${note} -->\n`}`)
    for (const file of files) this.sim.addTarget(roleOf(file.path), file.path, file.bytes)
    const path = `simple/${normalized}/index.html`
    this.sim.addTarget(roleOf(path), path, bytes)
    return { path, bytes }
  }

  #metadataRoute(decodedName: string, encodedName: string): void {
    const urlPath = `/metadata/${decodedName}`
    this.server.route(urlPath, (_req, res) => {
      const bytes = this.sim.fetch(encodedName)
      if (!bytes) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such metadata\n')
      this.#send(res, urlPath, bytes, 'application/json')
    })
  }

  #sendCurrentTarget(res: ServerResponse, urlPath: string, path: string): void {
    const bytes = this.sim.fetchTarget(path)
    if (!bytes) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such target\n')
    this.#send(res, urlPath, bytes, contentTypeOf(path))
  }

  #send(res: ServerResponse, urlPath: string, bytes: Uint8Array, contentType: string): void {
    this.server.send(res, urlPath, 200, { 'content-type': contentType }, bytes)
  }

  #plainUrlPaths(path: string): string[] {
    const { dir, name } = splitPath(path)
    // A page is reachable at its directory URL too, as a static web server would serve index.html.
    return name === 'index.html' ? [`/targets/${path}`, `/targets/${dir}`] : [`/targets/${path}`]
  }

  #consistentUrlPath(path: string, hex: string): string {
    const { dir, name } = splitPath(path)
    return `/targets/${dir}${hex}.${name}`
  }
}

function contentTypeOf(path: string): string {
  return path.endsWith('.html') ? 'text/html; charset=utf-8' : 'application/octet-stream'
}
