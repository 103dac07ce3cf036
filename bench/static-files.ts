/**
 * The request handler of the bench's stand-in upstreams (static-server.ts, tuf-static-upstream.ts):
 * files under a root, `<path>/` as `<path>/<indexName>`, read at request time. Not a reference for
 * speed; the bench compares against nginx when it is installed.
 */
import { createReadStream, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join, normalize } from 'node:path'
import { pipeline } from 'node:stream/promises'

export interface StaticFilesOptions {
  readonly root: string
  readonly indexName: string
  readonly contentType: (path: string) => string
  /** maps a decoded request path to the path to serve (e.g. an alias) */
  readonly rewrite?: (pathname: string) => string
}

export function staticFiles(options: StaticFilesOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://upstream.invalid').pathname)
    } catch {
      return void res.writeHead(400).end()
    }
    pathname = options.rewrite?.(pathname) ?? pathname
    const relative = normalize(pathname.endsWith('/') ? `${pathname}${options.indexName}` : pathname)
    if (relative.split('/').includes('..')) return void res.writeHead(400).end()
    const path = join(options.root, relative)
    let size: number
    try {
      const stat = statSync(path)
      if (!stat.isFile()) throw new Error('not a file')
      size = stat.size
    } catch {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
    res.writeHead(200, { 'content-type': options.contentType(path), 'content-length': String(size) })
    if (req.method === 'HEAD') return void res.end()
    pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res).catch(() => res.destroy())
  }
}
