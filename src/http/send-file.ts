/**
 * Writes file bodies straight to Node's ServerResponse instead of through a web ReadableStream:
 * it is faster for large files, and on Node 20 a `Readable.toWeb()` body returned through hono
 * crashes the process when the client disconnects mid-body (nodejs/node#64529).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { BlobReader, Download, FileResult } from '../mirror/index.js'
import { decideRange } from './byte-range.js'

/**
 * Large reads keep syscalls per megabyte low (measured against 64 KiB in bench/), but each sender
 * holds two buffers: at 1 MiB, 16 clients of a cached file held 32 MB (peak RSS 120 MB, issue 9's
 * limit is 110). At 256 KiB the same bench showed 97 MB, and the same CPU per MB and throughput.
 */
const READ_CHUNK_BYTES = 256 * 1024

/**
 * A cold file smaller than this is verified whole before the status line goes out, so a
 * mismatch is a clean 502; a larger one starts streaming after this many bytes.
 */
const VERIFY_BEFORE_HEADERS_BYTES = 1024 * 1024

export type HeaderMap = Record<string, string>

/** The request headers that select part of a cached file (RFC 9110 §14.2, §13.1.5). */
export interface RangeRequest {
  readonly range: string | undefined
  readonly ifRange: string | undefined
}

/** Node's parsed headers, read without building a web Headers object. */
export function rangeRequestOf(headers: IncomingHttpHeaders): RangeRequest {
  const ifRange = headers['if-range']
  return { range: headers.range, ifRange: typeof ifRange === 'string' ? ifRange : undefined }
}

/**
 * A file's strong ETag is its content address: the bytes are verified against that SHA-256
 * before any client receives them whole, so the tag names one sequence of bytes forever.
 */
function etagOf(sha256: string | undefined): string | undefined {
  return sha256 === undefined ? undefined : `"sha256-${sha256}"`
}

/** What went out of a body: the bytes the socket took, and whether that was all of it. */
export interface BodySent {
  readonly bytes: number
  readonly complete: boolean
}

/**
 * What the request log reports for a file answer: headers given to writeHead() cannot be read
 * back from Node's response, so the sender says what it sent.
 */
export interface FileSent extends BodySent {
  /** the X-Cache value sent */
  readonly cache: string
  /** the status when not 200 (206, 416) */
  readonly status?: number
  /** set when the answer is an error (a 416) */
  readonly reason?: string
}

const HEAD_SENT: BodySent = { bytes: 0, complete: true }

/**
 * Sends a cached blob or a download in progress, with `headers` plus `X-Cache`, `Accept-Ranges`
 * and, where the digest is known, `ETag`. A cached blob honours a single byte range; a download
 * in progress is sent whole. A blob evicted between the lookup and the open is looked up once
 * more (it is then downloaded again).
 * @returns once the body went out or was given up, what was sent
 */
export async function sendFileResult(
  res: ServerResponse,
  options: { result: FileResult; headers: HeaderMap; isHead: boolean; request: RangeRequest; lookUpAgain: () => Promise<FileResult> },
): Promise<FileSent> {
  let { result } = options
  const { isHead, request } = options
  const headersOf = (cache: string, sha256: string | undefined): HeaderMap => {
    const etag = etagOf(sha256)
    return { ...options.headers, 'x-cache': cache, 'accept-ranges': 'bytes', ...(etag === undefined ? {} : { etag }) }
  }
  if (result.kind === 'cached') {
    const sent = await sendBlob(res, result, headersOf(result.cache, result.ref.sha256), { isHead, request })
    if (sent) return sent
    result = await options.lookUpAgain()
    if (result.kind === 'cached') {
      const again = await sendBlob(res, result, headersOf(result.cache, result.ref.sha256), { isHead, request })
      if (again) return again
      throw new Error(`cached blob ${result.ref.sha256} vanished twice while being opened`)
    }
  }
  // Fail with a proper status while nothing is sent yet; after this, failures abort the body.
  await result.download.headway(VERIFY_BEFORE_HEADERS_BYTES)
  return { ...(await sendDownload(res, result.download, headersOf(result.cache, result.download.sha256), isHead)), cache: result.cache }
}

/** @returns what was sent, or undefined, having sent nothing, when the blob was evicted before it could be opened */
async function sendBlob(res: ServerResponse, cached: FileResult & { kind: 'cached' }, headers: HeaderMap, how: { isHead: boolean; request: RangeRequest }): Promise<FileSent | undefined> {
  const { ref } = cached
  const cache = headers['x-cache'] ?? cached.cache
  // Opened before the status line: if eviction removes the blob later, this reader stays valid.
  const file = await cached.open()
  if (!file) return undefined
  // RFC 9110 §14.2: GET is the only method range handling is defined for; HEAD gets the whole answer.
  const range = how.isHead ? { kind: 'whole' as const } : decideRange(how.request, { etag: headers.etag, size: ref.size })
  if (range.kind === 'unsatisfiable') {
    await file.close()
    // RFC 9110 §15.5.17: a 416 names the current length in an unsatisfied-range Content-Range.
    const body = `${JSON.stringify({ error: 'range_not_satisfiable', message: `the file has ${ref.size} bytes; the requested range lies outside them` })}\n`
    res.writeHead(416, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-range': `bytes */${ref.size}`,
      'content-length': String(Buffer.byteLength(body)),
      'accept-ranges': 'bytes',
      'x-cache': cache,
      'x-tuf-proxy-reason': 'range_not_satisfiable',
    })
    res.end(body)
    return { status: 416, cache, bytes: Buffer.byteLength(body), complete: true, reason: 'range_not_satisfiable' }
  }
  if (range.kind === 'partial') {
    // RFC 9110 §15.3.7: 206 with Content-Range; the validators and cache headers stay.
    res.writeHead(206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${ref.size}`, 'content-length': String(range.end - range.start + 1) })
    return { status: 206, cache, ...(await streamBlob(res, file, ref, { start: range.start, endExclusive: range.end + 1 })) }
  }
  res.writeHead(200, { ...headers, 'content-length': String(ref.size) })
  if (how.isHead) {
    await file.close()
    res.end()
    return { cache, ...HEAD_SENT }
  }
  return { cache, ...(await streamBlob(res, file, ref)) }
}

/**
 * Sends the body of a blob whose headers are written, and closes `file`: with two reused buffers,
 * one being sent while the next is read. Measured in bench/: a fresh buffer per read
 * (fs.createReadStream) costs about 2.3x the CPU per megabyte and most of the peak memory with
 * many concurrent downloads. A failure mid-body (the client went away, the disk failed) destroys
 * the response, since its length is promised. Also the body of a page kept as a blob (write-page.ts).
 * `part` sends only that byte range of the blob (a 206).
 */
export async function streamBlob(
  res: ServerResponse,
  file: BlobReader,
  ref: { readonly sha256: string; readonly size: number },
  part: { readonly start: number; readonly endExclusive: number } = { start: 0, endExclusive: ref.size },
): Promise<BodySent> {
  const tally = { bytes: 0 }
  try {
    let current = { buffer: Buffer.allocUnsafe(READ_CHUNK_BYTES), sent: Promise.resolve(true) }
    let other = { buffer: Buffer.allocUnsafe(READ_CHUNK_BYTES), sent: Promise.resolve(true) }
    for (let position = part.start; position < part.endExclusive; [current, other] = [other, current]) {
      // A buffer is refilled only once the socket has taken its previous contents.
      if (!(await current.sent)) return { bytes: tally.bytes, complete: false }
      const bytesRead = await file.read(current.buffer, position, Math.min(READ_CHUNK_BYTES, part.endExclusive - position))
      if (bytesRead === 0) throw new Error(`blob ${ref.sha256} is shorter than its recorded ${ref.size} bytes`)
      position += bytesRead
      current.sent = written(res, current.buffer.subarray(0, bytesRead), tally)
    }
    if (!(await current.sent) || !(await other.sent)) return { bytes: tally.bytes, complete: false }
    res.end()
    return { bytes: tally.bytes, complete: true }
  } catch {
    // The client went away or the disk failed mid-body: nothing more to send; close the socket.
    res.destroy()
    return { bytes: tally.bytes, complete: false }
  } finally {
    await file.close()
  }
}

/**
 * Writes `chunk`; true once the socket took it (and counted in `tally`), false if the response
 * closed first. The close listener is removed as soon as the write settles: a reaction left on one
 * long-lived "closed" promise per chunk would pile up, thousands per download.
 */
function written(res: ServerResponse, chunk: Uint8Array, tally: { bytes: number }): Promise<boolean> {
  // Read now: the caller reuses the buffer behind `chunk` once the write settles.
  const length = chunk.byteLength
  return new Promise<boolean>((resolve) => {
    if (res.destroyed) {
      resolve(false)
      return
    }
    const onClose = () => resolve(false)
    res.once('close', onClose)
    res.write(chunk, (error) => {
      res.off('close', onClose)
      if (!error) tally.bytes += length
      resolve(!error)
    })
  })
}

/**
 * Streams a download in progress. On a verification failure the response is destroyed short of
 * its end, so the client sees a broken transfer, never a complete corrupt file.
 */
async function sendDownload(res: ServerResponse, download: Download, headers: HeaderMap, isHead: boolean): Promise<BodySent> {
  if (isHead) {
    // A HEAD on a cold file fills the cache (like nginx's proxy_cache_convert_head) and answers with the verified size.
    const ref = await download.finished()
    res.writeHead(200, { ...headers, 'content-length': String(ref.size) })
    res.end()
    return HEAD_SENT
  }
  await download.headway(VERIFY_BEFORE_HEADERS_BYTES)
  const size = download.size
  res.writeHead(200, size === undefined ? headers : { ...headers, 'content-length': String(size) })
  const tally = { bytes: 0 }
  try {
    // Chunk N's buffer may be reused for chunk N + 2 (see Download.chunks), so the next chunk is
    // asked for only once the socket has taken the one before the current.
    let previous: Promise<boolean> = Promise.resolve(true)
    for await (const chunk of download.chunks()) {
      if (res.destroyed) return { bytes: tally.bytes, complete: false }
      const sent = written(res, chunk, tally)
      if (!(await previous)) return { bytes: tally.bytes, complete: false }
      previous = sent
    }
    if (!(await previous)) return { bytes: tally.bytes, complete: false }
    res.end()
    return { bytes: tally.bytes, complete: true }
  } catch {
    res.destroy()
    return { bytes: tally.bytes, complete: false }
  }
}
