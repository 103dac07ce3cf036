/**
 * The practical ceiling for a Node process serving a cached page: `node dist/bench/ram-page-server.js
 * <page file> <headers json> <port>` answers every request with those bytes and headers from
 * memory, with no routing, no logging and no checks. The page bench measures it in the same run
 * as the proxy and nginx, so "how far from what Node can do" is a ratio, not a guess.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const body = readFileSync(process.argv[2] ?? '')
const headers = JSON.parse(readFileSync(process.argv[3] ?? '', 'utf8')) as Record<string, string>
const server = createServer((_req, res) => {
  res.writeHead(200, headers)
  res.end(body)
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.argv[4]), '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
