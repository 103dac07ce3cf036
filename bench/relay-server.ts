/**
 * The practical ceiling for a Node process relaying a cold file: `node dist/bench/relay-server.js
 * <upstream origin> <port> [sha256]` answers `GET <path>` with the body of `<upstream origin><path>`,
 * fetched with undici as the proxy fetches files (its own Agent with the proxy's default timeouts,
 * `Accept-Encoding: identity`, src/upstream/client.ts) and piped to the client as it arrives: no
 * hashing, no disk, no checks, no logging. With `sha256` it also feeds every chunk to node:crypto's
 * SHA-256 and nothing else. The cold bench measures both in the same run as the proxy and the
 * direct download, so "how much of the gap is Node's own floor" is a ratio, not a guess.
 */
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { Agent, request } from 'undici'
import { DEFAULTS } from '../src/config/index.js'

const origin = process.argv[2] ?? ''
const port = Number(process.argv[3])
const isHashing = process.argv[4] === 'sha256'
const timeoutMs = DEFAULTS.upstreamTimeoutSeconds * 1000
const agent = new Agent({ connect: { timeout: timeoutMs, rejectUnauthorized: true }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })

const server = createServer((req, res) => {
  const relay = async () => {
    const upstream = await request(`${origin}${req.url ?? '/'}`, { dispatcher: agent, method: 'GET', headers: { 'accept-encoding': 'identity', 'user-agent': 'tuf-proxy-bench-relay' } })
    const length = upstream.headers['content-length']
    res.writeHead(upstream.statusCode, { 'content-type': 'application/octet-stream', ...(typeof length === 'string' ? { 'content-length': length } : {}) })
    if (isHashing) {
      const hash = createHash('sha256')
      upstream.body.on('data', (chunk: Buffer) => hash.update(chunk))
      upstream.body.once('end', () => hash.digest())
    }
    await pipeline(upstream.body, res)
  }
  relay().catch(() => res.destroy())
})
server.keepAliveTimeout = 65_000
server.listen(port, '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
