import { describe, test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import {
  createUpstreamClient,
  UpstreamOfflineError,
  UpstreamProtocolError,
  UpstreamSlowError,
  UpstreamTimeoutError,
  UpstreamTooLargeError,
  type UpstreamClient,
  type UpstreamOptions,
} from '../../../src/upstream/index.js'
import { startServer, testUpstreamOptions, type TestServer } from './test-server.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A route that resets the connection on every odd request, before any response byte, and answers `ok` on every even one. */
function flakyRoute(server: TestServer, path: string): { readonly calls: number } {
  const state = { calls: 0 }
  server.route(path, (req, res) => {
    state.calls++
    if (state.calls % 2 === 1) req.socket.destroy()
    else res.writeHead(200).end('ok')
  })
  return state
}

async function setup(overrides: Partial<UpstreamOptions> = {}): Promise<{ server: TestServer; client: UpstreamClient }> {
  const server = await startServer()
  cleanups.push(() => server.close())
  const client = createUpstreamClient(testUpstreamOptions(server, overrides))
  cleanups.push(() => client.close())
  return { server, client }
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0
  for await (const chunk of body) total += chunk.byteLength
  return total
}

describe('upstream client: size limits', () => {
  test('Content-Length above maxBytes fails before the body is read', async () => {
    const { server, client } = await setup()
    server.route('/big', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' })
      res.write(Buffer.alloc(10))
      // The rest never comes: a client that waited for it would hang until the test times out.
    })
    await assert.rejects(client.getBytes(`${server.origin}/big`, { maxBytes: 100 }), UpstreamTooLargeError)
    await assert.rejects(client.getStream(`${server.origin}/big`, { maxBytes: 100 }), UpstreamTooLargeError)
  })

  test('a chunked body that grows past maxBytes fails mid-stream and the connection is destroyed', async () => {
    const { server, client } = await setup()
    const socketClosures: Array<Promise<void>> = []
    server.route('/grow', (req, res) => {
      res.writeHead(200)
      const timer = setInterval(() => res.write(Buffer.alloc(64, 1)), 5)
      socketClosures.push(new Promise((resolve) => req.socket.on('close', () => resolve(clearInterval(timer)))))
    })
    await assert.rejects(client.getBytes(`${server.origin}/grow`, { maxBytes: 100 }), UpstreamTooLargeError)
    const stream = await client.getStream(`${server.origin}/grow`, { maxBytes: 100 })
    assert.equal(stream.contentLength, undefined)
    await assert.rejects(drain(stream.body), UpstreamTooLargeError)
    // An endless body: if the client kept either socket open, this would never settle.
    await Promise.all(socketClosures)
    assert.equal(socketClosures.length, 2)
  })

  test('a body exactly maxBytes long is accepted', async () => {
    const { server, client } = await setup()
    server.route('/exact', (_req, res) => res.writeHead(200).end(Buffer.alloc(100)))
    const result = await client.getBytes(`${server.origin}/exact`, { maxBytes: 100 })
    assert.equal(result.body.byteLength, 100)
  })
})

describe('upstream client: truncated bodies are errors, never short successes (RFC 9112 §6.3)', () => {
  for (const connection of ['keep-alive', 'close']) {
    test(`Content-Length 100, 50 bytes sent, socket closed (connection: ${connection})`, async () => {
      const { server, client } = await setup()
      server.route('/cut', (req, res) => {
        res.writeHead(200, { 'Content-Length': '100', Connection: connection })
        res.write(Buffer.alloc(50, 7), () => req.socket.destroy())
      })
      await assert.rejects(client.getBytes(`${server.origin}/cut`, { maxBytes: 1000 }), UpstreamProtocolError)
      const stream = await client.getStream(`${server.origin}/cut`, { maxBytes: 1000 })
      assert.equal(stream.contentLength, 100)
      await assert.rejects(drain(stream.body), UpstreamProtocolError)
    })
  }

  test('a chunked body cut before its last chunk', async () => {
    const { server, client } = await setup()
    server.route('/cut-chunked', (req, res) => {
      res.writeHead(200)
      res.write(Buffer.alloc(50, 7), () => req.socket.destroy())
    })
    await assert.rejects(client.getBytes(`${server.origin}/cut-chunked`, { maxBytes: 1000 }), UpstreamProtocolError)
  })
})

describe('upstream client: timeouts and unreachable upstreams', () => {
  test('headers timeout: the upstream accepts but never answers', async () => {
    const { server, client } = await setup({ headersTimeoutMs: 200 })
    server.route('/stall', () => undefined)
    await assert.rejects(client.getBytes(`${server.origin}/stall`, { maxBytes: 100 }), UpstreamTimeoutError)
  })

  test('body idle timeout: the upstream stalls mid-body', async () => {
    const { server, client } = await setup({ bodyTimeoutMs: 200 })
    server.route('/stall-body', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' })
      res.write(Buffer.alloc(10))
    })
    await assert.rejects(client.getBytes(`${server.origin}/stall-body`, { maxBytes: 1000 }), UpstreamTimeoutError)
    const stream = await client.getStream(`${server.origin}/stall-body`, { maxBytes: 1000 })
    await assert.rejects(drain(stream.body), UpstreamTimeoutError)
  })

  test('connection refused is UpstreamOfflineError with the cause kept', async () => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const address = probe.address()
    assert.ok(address !== null && typeof address === 'object')
    probe.close()
    await once(probe, 'close')
    const host = `127.0.0.1:${address.port}`
    const client = createUpstreamClient({
      allowedHosts: [host], connectTimeoutMs: 1000, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, deadlineMs: 10_000, minBytesPerSecond: 0, rateWindowMs: 1000, maxRedirects: 0, userAgent: 't',
    })
    cleanups.push(() => client.close())
    await assert.rejects(client.getBytes(`http://${host}/`, { maxBytes: 10 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamOfflineError)
      assert.equal(error.code, 'upstream_unreachable')
      assert.equal((error.cause as { code?: string } | undefined)?.code, 'ECONNREFUSED')
      return true
    })
  })

  test('getBytes retries once after a reset before any response byte; getStream does not', async () => {
    const { server, client } = await setup()
    const flaky = flakyRoute(server, '/flaky')
    const result = await client.getBytes(`${server.origin}/flaky`, { maxBytes: 10 })
    assert.equal(Buffer.from(result.body).toString(), 'ok')
    assert.equal(flaky.calls, 2)
    await assert.rejects(client.getStream(`${server.origin}/flaky`, { maxBytes: 10 }), UpstreamOfflineError)
    assert.equal(flaky.calls, 3)
  })
})

describe('upstream client: connection reuse and aborts', () => {
  test('keep-alive: several sequential requests share one socket', async () => {
    // One connection per origin: without keep-alive every request would need a new socket. (With
    // an unlimited pool undici opens a second socket when a request follows in the same tick as
    // the previous body's end, before the first socket is released.)
    const { server, client } = await setup({ connectionsPerOrigin: 1 })
    server.route('/k', (_req, res) => res.writeHead(200).end('k'))
    server.route('/gone', (_req, res) => res.writeHead(404).end('missing'))
    for (let i = 0; i < 3; i++) await client.getBytes(`${server.origin}/k`, { maxBytes: 10 })
    await client.getBytes(`${server.origin}/gone`, { maxBytes: 10 }).catch(() => undefined)
    const stream = await client.getStream(`${server.origin}/k`, { maxBytes: 10 })
    assert.equal(await drain(stream.body), 1)
    await client.getBytes(`${server.origin}/k`, { maxBytes: 10 })
    assert.equal(server.requests.length, 6)
    assert.equal(server.connections, 1)
  })

  test('stream abort: iteration rejects with AbortError and the upstream socket is closed', async () => {
    const { server, client } = await setup()
    const closed = new Promise<void>((resolve) => {
      server.route('/slow', (req, res) => {
        req.socket.on('close', () => resolve())
        res.writeHead(200, { 'Content-Length': '1000' })
        res.write(Buffer.alloc(10))
      })
    })
    const stream = await client.getStream(`${server.origin}/slow`, { maxBytes: 1000 })
    const iterator = stream.body[Symbol.asyncIterator]()
    const first = await iterator.next()
    assert.equal(first.done, false)
    stream.abort()
    await assert.rejects(iterator.next(), (error: unknown) => error instanceof Error && error.name === 'AbortError')
    await closed
  })

  test('the caller signal aborts a request waiting for headers, with the signal reason', async () => {
    const { server, client } = await setup()
    const controller = new AbortController()
    server.route('/wait', () => controller.abort(new Error('client went away')))
    await assert.rejects(client.getBytes(`${server.origin}/wait`, { maxBytes: 10, signal: controller.signal }), /client went away/)
  })

  test('the caller signal aborts a stream mid-body', async () => {
    const { server, client } = await setup()
    server.route('/partial', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' })
      res.write(Buffer.alloc(10))
    })
    const controller = new AbortController()
    const stream = await client.getStream(`${server.origin}/partial`, { maxBytes: 1000, signal: controller.signal })
    const iterator = stream.body[Symbol.asyncIterator]()
    await iterator.next()
    controller.abort(new Error('reader gone'))
    await assert.rejects(iterator.next(), /reader gone/)
  })
})

describe('upstream client: hostile bodies never reach the process as an unhandled error', () => {
  test('a Content-Length over maxBytes with the whole body sent: refused, and the process keeps running', async () => {
    const { server, client } = await setup()
    // A file whose index lists a smaller size than the real one: every byte arrives at once.
    server.route('/larger-than-listed', (_req, res) => res.end(Buffer.alloc(256 * 1024, 7)))
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown) => void uncaught.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(client.getStream(`${server.origin}/larger-than-listed`, { maxBytes: 1000 }), UpstreamTooLargeError)
        await assert.rejects(client.getBytes(`${server.origin}/larger-than-listed`, { maxBytes: 1000 }), UpstreamTooLargeError)
      }
      // The destroyed bodies' errors are emitted on later ticks; give them every chance to surface.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('uncaughtException', onUncaught)
    }
    assert.deepEqual(uncaught.map(String), [])
  })
})

describe('upstream client: slow drips end at the deadline or the rate floor (TUF slow retrieval)', () => {
  function drip(server: TestServer, path: string, intervalMs: number): void {
    server.route(path, (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100000' })
      const timer = setInterval(() => res.write('x'), intervalMs)
      res.on('close', () => clearInterval(timer))
    })
  }

  test('getBytes: a body that keeps trickling past deadlineMs fails with slow_retrieval', async () => {
    const { server, client } = await setup({ deadlineMs: 400, bodyTimeoutMs: 5000 })
    drip(server, '/drip', 50)
    await assert.rejects(client.getBytes(`${server.origin}/drip`, { maxBytes: 1e6 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamSlowError, String(error))
      assert.equal(error.code, 'slow_retrieval')
      assert.equal(error.fault, 'upstream_timeout')
      return true
    })
  })

  test('getStream: a file body below minBytesPerSecond fails with slow_retrieval although no idle timeout fires', async () => {
    const { server, client } = await setup({ minBytesPerSecond: 1000, rateWindowMs: 300, bodyTimeoutMs: 5000, deadlineMs: 5000 })
    drip(server, '/drip-file', 50)
    const stream = await client.getStream(`${server.origin}/drip-file`, { maxBytes: 1e6 })
    let received = 0
    await assert.rejects(
      (async () => {
        for await (const chunk of stream.body) received += chunk.byteLength
      })(),
      UpstreamSlowError,
    )
    assert.ok(received > 0 && received < 100, `received ${received} bytes before the floor ended it`)
  })

  test('getStream: the deadline covers the head, not the rest of a body that flows at a good rate', async () => {
    const { server, client } = await setup({ minBytesPerSecond: 1000, rateWindowMs: 200, deadlineMs: 300 })
    server.route('/steady', (_req, res) => {
      res.writeHead(200, { 'Content-Length': String(20 * 4096) })
      let sent = 0
      const timer = setInterval(() => {
        res.write(Buffer.alloc(4096))
        if (++sent === 20) {
          clearInterval(timer)
          res.end()
        }
      }, 40)
      res.on('close', () => clearInterval(timer))
    })
    const stream = await client.getStream(`${server.origin}/steady`, { maxBytes: 1e6 })
    assert.equal(await drain(stream.body), 20 * 4096)
  })
})

describe('upstream client: 304 only answers a conditional request (RFC 9110 §15.4.5)', () => {
  test('a 304 to an unconditional GET is a protocol error, for bytes and streams', async () => {
    const { server, client } = await setup()
    server.route('/unasked-304', (_req, res) => {
      res.writeHead(304)
      res.end()
    })
    await assert.rejects(client.getBytes(`${server.origin}/unasked-304`, { maxBytes: 100 }), UpstreamProtocolError)
    await assert.rejects(client.getStream(`${server.origin}/unasked-304`, { maxBytes: 100 }), UpstreamProtocolError)
    const answered = await client.getBytes(`${server.origin}/unasked-304`, { maxBytes: 100, headers: { 'If-None-Match': '"v1"' } })
    assert.equal(answered.status, 304)
  })
})

describe('upstream client: only the identity coding that was asked for (RFC 9110 §12.5.3)', () => {
  test('a gzip body sent to Accept-Encoding: identity is a protocol error, never the resource bytes', async () => {
    const { server, client } = await setup()
    server.route('/gz', (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(Buffer.from([0x1f, 0x8b, 8, 0])))
    server.route('/identity', (_req, res) => res.writeHead(200, { 'Content-Encoding': 'identity' }).end('plain'))
    await assert.rejects(client.getBytes(`${server.origin}/gz`, { maxBytes: 100 }), UpstreamProtocolError)
    await assert.rejects(client.getStream(`${server.origin}/gz`, { maxBytes: 100 }), UpstreamProtocolError)
    assert.equal(Buffer.from((await client.getBytes(`${server.origin}/identity`, { maxBytes: 100 })).body).toString(), 'plain')
  })
})

describe('upstream client: getInto ends as getBytes does, the body never whole in memory', () => {
  /** A sink that counts what it took. */
  function counting(): { received: number; open: () => { write: (chunk: Uint8Array) => Promise<void> } } {
    const state = {
      received: 0,
      open: () => ({ write: async (chunk: Uint8Array) => void (state.received += chunk.byteLength) }),
    }
    return state
  }

  test('the sink has the first bytes while the upstream still holds the rest back', async () => {
    const { server, client } = await setup()
    let release: () => void = () => undefined
    const released = new Promise<void>((resolve) => (release = resolve))
    server.route('/list', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '200', 'Content-Type': 'text/html', 'X-PyPI-Last-Serial': '7' })
      res.write(Buffer.alloc(100, 1))
      void released.then(() => res.end(Buffer.alloc(100, 2)))
    })
    const chunks: Buffer[] = []
    let headers: Readonly<Record<string, string>> = {}
    const head = await client.getInto(`${server.origin}/list`, { maxBytes: 1000 }, (answer) => {
      headers = answer.headers
      return {
        async write(chunk) {
          chunks.push(Buffer.from(chunk))
          // Only a sink that gets bytes before the body ends lets the upstream finish it.
          release()
        },
      }
    })
    assert.equal(head.status, 200)
    assert.equal(headers['x-pypi-last-serial'], '7')
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(100, 2)]))
  })

  test('too large (by Content-Length and as it grows), truncated, slow: the errors of getBytes', async () => {
    const { server, client } = await setup({ deadlineMs: 400, bodyTimeoutMs: 5000 })
    server.route('/big', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' })
      res.write(Buffer.alloc(10))
    })
    server.route('/grow', (req, res) => {
      res.writeHead(200)
      const timer = setInterval(() => res.write(Buffer.alloc(64, 1)), 5)
      req.socket.on('close', () => clearInterval(timer))
    })
    server.route('/cut', (req, res) => {
      res.writeHead(200, { 'Content-Length': '100' })
      res.write(Buffer.alloc(50, 7), () => req.socket.destroy())
    })
    server.route('/drip', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100000' })
      const timer = setInterval(() => res.write('x'), 50)
      res.on('close', () => clearInterval(timer))
    })
    const big = counting()
    await assert.rejects(client.getInto(`${server.origin}/big`, { maxBytes: 100 }, big.open), UpstreamTooLargeError)
    assert.equal(big.received, 0, 'refused before the body is read')
    const grow = counting()
    await assert.rejects(client.getInto(`${server.origin}/grow`, { maxBytes: 100 }, grow.open), UpstreamTooLargeError)
    assert.ok(grow.received <= 100, `the sink took ${grow.received} bytes, no more than maxBytes`)
    await assert.rejects(client.getInto(`${server.origin}/cut`, { maxBytes: 1000 }, counting().open), UpstreamProtocolError)
    await assert.rejects(client.getInto(`${server.origin}/drip`, { maxBytes: 1e6 }, counting().open), UpstreamSlowError)
  })

  test('a reset before any response byte is retried once, as for getBytes; a sink failure ends the download with its error', async () => {
    const { server, client } = await setup()
    const flaky = flakyRoute(server, '/flaky')
    const sink = counting()
    await client.getInto(`${server.origin}/flaky`, { maxBytes: 10 }, sink.open)
    assert.equal(sink.received, 2)
    assert.equal(flaky.calls, 2)
    const refusal = new Error('the sink refuses')
    await assert.rejects(
      client.getInto(`${server.origin}/flaky`, { maxBytes: 10 }, () => ({ write: () => Promise.reject(refusal) })),
      (error: unknown) => error === refusal,
    )
  })
})
