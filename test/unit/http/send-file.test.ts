/**
 * http/send-file.ts, streamBlob: a cached body is read on the event loop's thread (cheaper than
 * libuv's thread pool for bytes in the page cache), and once a read proves slow (it waited for
 * the disk) the rest of that body is read on the thread pool, so a slow disk does not hold every
 * other client up for each read. The body is intact either way.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { sha256Hex } from '../../../src/base/index.js'
import { SLOW_READ_MS, streamBlob } from '../../../src/http/send-file.js'
import type { BlobReader } from '../../../src/store/index.js'

/** Several of streamBlob's 256 KiB reads, the last one short. */
const BODY = Buffer.from(Array.from({ length: 5 * 256 * 1024 + 123 }, (_unused, i) => (i * 7 + (i >> 9)) & 0xff))

/** A reader of BODY recording how each read was made; its first readSync takes as long as a disk read. */
function slowFirstReader(calls: string[]): BlobReader {
  const copy = (buffer: Uint8Array, position: number, length: number) => {
    const chunk = BODY.subarray(position, position + length)
    buffer.set(chunk)
    return chunk.byteLength
  }
  return {
    readSync(buffer, position, length) {
      if (calls.length === 0) {
        // A read that blocks the thread, as one waiting for a disk does.
        for (const untilMs = performance.now() + 4 * SLOW_READ_MS; performance.now() < untilMs; );
      }
      calls.push('event loop')
      return copy(buffer, position, length)
    },
    async read(buffer, position, length) {
      calls.push('thread pool')
      return copy(buffer, position, length)
    },
    close: async () => undefined,
  }
}

describe('streamBlob', () => {
  let server: Server
  let url: string
  let calls: string[] = []
  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(BODY.byteLength) })
      void streamBlob(res, slowFirstReader(calls), { sha256: sha256Hex(BODY), size: BODY.byteLength })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  after(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  test('reads on the event loop until a read is slow, then on the thread pool, and sends every byte', async () => {
    calls = []
    const response = await request(url)
    const body = Buffer.from(await response.body.arrayBuffer())
    assert.equal(response.statusCode, 200)
    assert.equal(sha256Hex(body), sha256Hex(BODY))
    assert.deepEqual(calls, ['event loop', ...Array.from({ length: 5 }, () => 'thread pool')])
  })
})
