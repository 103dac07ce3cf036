/**
 * The upstream of the verifying-overhead benchmark, as a process of its own:
 * `node dist/bench/tuf-static-upstream.js <dir>` serves the files under `<dir>` (TUF metadata
 * under `/metadata/`, targets and index pages under `/targets/`), `<path>/` as
 * `<path>/index.html` like a static web server, and prints `{"port":N}` once listening on
 * 127.0.0.1. Files are read at request time, so the tree may be written after it starts.
 * Not on the measured path: the benchmark measures cached requests only.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { staticFiles } from './static-files.js'

function contentType(path: string): string {
  if (path.endsWith('.json')) return 'application/json'
  if (path.endsWith('.html')) return 'text/html; charset=utf-8'
  return 'application/octet-stream'
}

const root = process.argv[2]
if (!root) throw new Error('usage: tuf-static-upstream.js <dir>')

const server = createServer(staticFiles({ root, indexName: 'index.html', contentType }))
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
