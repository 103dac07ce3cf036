/**
 * A minimal static file server, the bench's upstream when nginx is not installed:
 * `node dist/bench/static-server.js <root> <port>`. Serves `<dir>/index.json` for a directory and
 * the PEP 691 content type for `.json`. Not a reference for speed (run.ts reports no nginx ratio
 * when it stands in).
 */
import { createServer } from 'node:http'
import { staticFiles } from './static-files.js'

const server = createServer(
  staticFiles({
    root: process.argv[2] ?? '.',
    indexName: 'index.json',
    contentType: (path) => (path.endsWith('.json') ? 'application/vnd.pypi.simple.v1+json' : 'application/octet-stream'),
    // nginx rate-limits /slow/; this stand-in only aliases it.
    rewrite: (pathname) => (pathname.startsWith('/slow/') ? `/files/${pathname.slice('/slow/'.length)}` : pathname),
  }),
)
server.keepAliveTimeout = 65_000
server.listen(Number(process.argv[3]), '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
