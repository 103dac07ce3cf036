/**
 * A minimal static file server, the bench's upstream when nginx is not installed:
 * `node dist/bench/static-server.js <root> <port>`. Serves `<dir>/index.json` for a directory and
 * the PEP 691 content type for `.json`. Not a reference for speed (run.ts reports no nginx ratio
 * when it stands in).
 */
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { join, normalize } from 'node:path'
import { pipeline } from 'node:stream/promises'

const root = process.argv[2] ?? '.'
const port = Number(process.argv[3])

const server = createServer((req, res) => {
  const requested = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
  // nginx rate-limits /slow/; this stand-in only aliases it.
  const pathname = requested.startsWith('/slow/') ? `/files/${requested.slice('/slow/'.length)}` : requested
  const relative = normalize(pathname.endsWith('/') ? `${pathname}index.json` : pathname)
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
  const type = path.endsWith('.json') ? 'application/vnd.pypi.simple.v1+json' : 'application/octet-stream'
  res.writeHead(200, { 'content-type': type, 'content-length': String(size) })
  pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res).catch(() => res.destroy())
})
server.keepAliveTimeout = 65_000
server.listen(port, '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
