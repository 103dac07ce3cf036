/**
 * Writes file bodies straight to Node's ServerResponse instead of through a web ReadableStream:
 * it is faster for large files, and on Node 20 a `Readable.toWeb()` body returned through hono
 * crashes the process when the client disconnects mid-body (nodejs/node#64529).
 */
import type { ServerResponse } from 'node:http'
import type { BlobReader, Download, FileResult } from '../mirror/index.js'

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

/** What went out of a body: the bytes the socket took, and whether that was all of it. */
export interface BodySent {
  readonly bytes: number
  readonly complete: boolean
}

/** What the request log reports for a file answer. */
export interface FileSent extends BodySent {
  /** the X-Cache value sent */
  readonly cache: string
}

const HEAD_SENT: BodySent = { bytes: 0, complete: true }

/**
 * Sends a cached blob or a download in progress, with `headers` plus `X-Cache`. A blob evicted
 * between the lookup and the open is looked up once more (it is then downloaded again).
 * @returns once the body went out or was given up, what was sent
 */
export async function sendFileResult(
  res: ServerResponse,
  options: { result: FileResult; headers: HeaderMap; isHead: boolean; lookUpAgain: () => Promise<FileResult> },
): Promise<FileSent> {
  let { result } = options
  const { isHead } = options
  if (result.kind === 'cached') {
    const sent = await sendBlob(res, result, { ...options.headers, 'x-cache': result.cache }, isHead)
    if (sent) return { ...sent, cache: result.cache }
    result = await options.lookUpAgain()
    if (result.kind === 'cached') {
      const again = await sendBlob(res, result, { ...options.headers, 'x-cache': result.cache }, isHead)
      if (again) return { ...again, cache: result.cache }
      throw new Error(`cached blob ${result.ref.sha256} vanished twice while being opened`)
    }
  }
  // Fail with a proper status while nothing is sent yet; after this, failures abort the body.
  await result.download.headway(VERIFY_BEFORE_HEADERS_BYTES)
  return { ...(await sendDownload(res, result.download, { ...options.headers, 'x-cache': result.cache }, isHead)), cache: result.cache }
}

/** @returns undefined, having sent nothing, when the blob was evicted before it could be opened */
async function sendBlob(res: ServerResponse, cached: FileResult & { kind: 'cached' }, headers: HeaderMap, isHead: boolean): Promise<BodySent | undefined> {
  const { ref } = cached
  // Opened before the status line: if eviction removes the blob later, this reader stays valid.
  const file = await cached.open()
  if (!file) return undefined
  res.writeHead(200, { ...headers, 'content-length': String(ref.size) })
  if (isHead) {
    await file.close()
    res.end()
    return HEAD_SENT
  }
  return streamBlob(res, file, ref)
}

/**
 * Sends the body of a blob whose headers are written, and closes `file`: with two reused buffers,
 * one being sent while the next is read. Measured in bench/: a fresh buffer per read
 * (fs.createReadStream) costs about 2.3x the CPU per megabyte and most of the peak memory with
 * many concurrent downloads. A failure mid-body (the client went away, the disk failed) destroys
 * the response, since its length is promised. Also the body of a page kept as a blob (write-page.ts).
 */
export async function streamBlob(res: ServerResponse, file: BlobReader, ref: { readonly sha256: string; readonly size: number }): Promise<BodySent> {
  const tally = { bytes: 0 }
  try {
    let current = { buffer: Buffer.allocUnsafe(READ_CHUNK_BYTES), sent: Promise.resolve(true) }
    let other = { buffer: Buffer.allocUnsafe(READ_CHUNK_BYTES), sent: Promise.resolve(true) }
    for (let position = 0; position < ref.size; [current, other] = [other, current]) {
      // A buffer is refilled only once the socket has taken its previous contents.
      if (!(await current.sent)) return { bytes: tally.bytes, complete: false }
      const bytesRead = await file.read(current.buffer, position, Math.min(READ_CHUNK_BYTES, ref.size - position))
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
