/**
 * The upstream of the verifying-overhead benchmark, as a process of its own:
 * `node dist/bench/tuf-static-upstream.js <dir>` serves the files under `<dir>` (TUF metadata
 * under `/metadata/`, targets and index pages under `/targets/`), `<path>/` as
 * `<path>/index.html` like a static web server, and prints `{"port":N}` once listening on
 * 127.0.0.1. Files are read at request time, so the tree may be written after it starts.
 * Not on the measured path: the benchmark measures cached requests only.
 */
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import { pipeline } from 'node:stream/promises'

function contentType(path: string): string {
  if (path.endsWith('.json')) return 'application/json'
  if (path.endsWith('.html')) return 'text/html; charset=utf-8'
  return 'application/octet-stream'
}

const root = process.argv[2]
if (!root) throw new Error('usage: tuf-static-upstream.js <dir>')

const server = createServer((req, res) => {
  let pathname: string
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://upstream.invalid').pathname)
  } catch {
    return void res.writeHead(400).end()
  }
  const relative = normalize(pathname.endsWith('/') ? `${pathname}index.html` : pathname)
  if (relative.split('/').includes('..')) return void res.writeHead(400).end()
  const path = join(root, relative)
  let size: number
  try {
    const stat = statSync(path)
    if (!stat.isFile()) throw new Error('not a file')
    size = stat.size
  } catch {
    return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  }
  res.writeHead(200, { 'content-type': contentType(path), 'content-length': String(size) })
  if (req.method === 'HEAD') return void res.end()
  pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res).catch(() => res.destroy())
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
