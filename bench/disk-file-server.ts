/**
 * The practical ceiling for a Node process serving a cached file: `node dist/bench/disk-file-server.js
 * <file> <port>` answers every request with that file, read from disk per request, with no
 * routing, no logging and no checks. The file bench measures it in the same run as the proxy and
 * nginx, so "how far from what Node can do" is a ratio, not a guess.
 *
 * Node has no sendfile for HTTP/1.1 or net sockets (only http2's respondWithFD; libuv's
 * uv_fs_sendfile is not exposed), so every byte is read into user memory and written out. The
 * fastest way measured here (4 connections of a 52 MB file, wrk, CPU per MB of the server):
 * one reused 256 KiB buffer read with readSync on the event loop, refilled once the socket has
 * taken it: 0.14-0.17 ms/MB. Reads on libuv's thread pool (FileHandle.read or fs.read, 2 or 4
 * buffers, write callbacks or 'drain'): 0.22-0.29 ms/MB. fs.createReadStream (a new buffer per
 * read) piped to the response: 0.48 ms/MB. The same bytes held in RAM: 0.06-0.11 ms/MB.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'

const READ_BYTES = 256 * 1024
const path = process.argv[2] ?? ''
const spareBuffers: Buffer[] = []

/** Reads the next chunk at `position` and writes it; called again once the socket took it. */
function sendFrom(res: ServerResponse, file: { fd: number; size: number; buffer: Buffer }, position: number): void {
  if (position >= file.size) {
    res.end()
    release(file)
    return
  }
  const bytesRead = readSync(file.fd, file.buffer, 0, Math.min(READ_BYTES, file.size - position), position)
  res.write(file.buffer.subarray(0, bytesRead), (error) => {
    if (error) release(file)
    else sendFrom(res, file, position + bytesRead)
  })
}

function release(file: { fd: number; buffer: Buffer }): void {
  closeSync(file.fd)
  spareBuffers.push(file.buffer)
}

const server = createServer((_req, res) => {
  const fd = openSync(path, 'r')
  const { size } = fstatSync(fd)
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) })
  sendFrom(res, { fd, size, buffer: spareBuffers.pop() ?? Buffer.allocUnsafe(READ_BYTES) }, 0)
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.argv[3]), '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
