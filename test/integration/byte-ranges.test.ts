/**
 * Range requests on cached files through the real proxy process (RFC 9110 §14): single ranges
 * answer 206 with the upstream's exact bytes, an unsatisfiable one 416 with the length, several
 * ranges the whole file, If-Range with the file's ETag; a cold file is sent whole while it
 * downloads. Raw HTTP (undici) and a real client (curl -r / -C -).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { bulkBytes } from '../helpers/wheels.js'
import { createHash } from 'node:crypto'

/** Larger than the 256 KiB read chunk of send-file.ts, so ranges cross chunk boundaries. */
const SIZE = 700 * 1024 + 17
const FILE = 'ranged_pkg-1.0-py3-none-any.whl'

describe('byte ranges on cached files', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const bytes = bulkBytes(SIZE, 7)
  // Not one repeating block: a wrong offset must show as wrong bytes.
  for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const etag = `"sha256-${sha256}"`
  let url = ''
  const work = mkdtempSync(join(tmpdir(), 'tuf-proxy-ranges-'))
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('ranged-pkg', [{ filename: FILE, bytes }])
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
    url = `${proxy.url}/files/ranged-pkg/${FILE}`
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
    rmSync(work, { recursive: true, force: true })
  })

  test('a cold file asked for with a Range is sent whole (200) while it downloads, with Accept-Ranges and its ETag', async () => {
    const cold = await get(url, { range: 'bytes=0-99' })
    assert.equal(cold.status, 200)
    assert.equal(cold.headers['x-cache'], 'MISS')
    assert.equal(cold.headers['accept-ranges'], 'bytes')
    assert.equal(cold.headers.etag, etag, 'the ETag is the digest the bytes are verified against')
    assert.ok(cold.body.equals(bytes))
    // A HEAD waits for the download to be committed (core-proxy.test.ts), so the next GETs are hits.
    const head = await request(url, { method: 'HEAD', headers: { range: 'bytes=0-9' } })
    await head.body.dump()
    assert.equal(head.statusCode, 200, 'HEAD ignores Range (RFC 9110 §14.2: defined for GET only)')
    assert.equal(head.headers['content-length'], String(SIZE))
  })

  for (const [range, start, end] of [
    ['bytes=0-99', 0, 99],
    ['bytes=262100-262200', 262100, 262200],
    ['bytes=1000-', 1000, SIZE - 1],
    ['bytes=-500', SIZE - 500, SIZE - 1],
    ['bytes=0-', 0, SIZE - 1],
    [`bytes=${SIZE - 10}-${SIZE + 1000}`, SIZE - 10, SIZE - 1],
  ] as const) {
    test(`${range}: 206, Content-Range, and exactly the upstream's bytes ${start}-${end}`, async () => {
      const answer = await get(url, { range })
      assert.equal(answer.status, 206)
      assert.equal(answer.headers['content-range'], `bytes ${start}-${end}/${SIZE}`)
      assert.equal(answer.headers['content-length'], String(end - start + 1))
      assert.equal(answer.headers['x-cache'], 'HIT')
      assert.equal(answer.headers.etag, etag)
      assert.equal(answer.headers['accept-ranges'], 'bytes')
      assert.ok(answer.body.equals(bytes.subarray(start, end + 1)), 'the bytes of the range')
    })
  }

  test('an unsatisfiable range: 416 with Content-Range: bytes */size and the reason', async () => {
    for (const range of [`bytes=${SIZE}-`, 'bytes=-0', `bytes=${SIZE + 5}-${SIZE + 9}, ${SIZE * 2}-`]) {
      const answer = await get(url, { range })
      assert.equal(answer.status, 416, range)
      assert.equal(answer.headers['content-range'], `bytes */${SIZE}`)
      assert.equal(answer.headers['x-tuf-proxy-reason'], 'range_not_satisfiable')
      assert.equal(JSON.parse(answer.text).error, 'range_not_satisfiable')
    }
    await proxy.waitForLog((line) => line.event === 'request' && line.status === 416)
  })

  test('several ranges, an invalid range or another unit: the whole file, 200', async () => {
    for (const range of ['bytes=0-1, 5-6', 'bytes=5-1', 'items=0-5', 'bytes=x']) {
      const answer = await get(url, { range })
      assert.equal(answer.status, 200, range)
      assert.equal(answer.headers['content-range'], undefined)
      assert.ok(answer.body.equals(bytes), range)
    }
  })

  test('If-Range: the ETag gets the range; another ETag, a weak one or a date gets the whole file', async () => {
    const matching = await get(url, { range: 'bytes=10-19', 'if-range': etag })
    assert.equal(matching.status, 206)
    assert.ok(matching.body.equals(bytes.subarray(10, 20)))
    for (const ifRange of ['"sha256-0000"', `W/${etag}`, 'Sat, 01 Jan 2000 00:00:00 GMT']) {
      const answer = await get(url, { range: 'bytes=10-19', 'if-range': ifRange })
      assert.equal(answer.status, 200, ifRange)
      assert.ok(answer.body.equals(bytes), ifRange)
    }
  })

  test('curl -r fetches a range, and curl -C - resumes a partial download to the exact upstream bytes', (t) => {
    if (spawnSync('curl', ['--version']).status !== 0) {
      if (process.env.CI === 'true') assert.fail('curl is missing in CI')
      t.skip('curl is not installed')
      return
    }
    const part = join(work, 'part')
    const ranged = spawnSync('curl', ['-sS', '--noproxy', '*', '-r', '300000-300999', '-o', part, '-w', '%{http_code}', url], { encoding: 'utf8' })
    assert.equal(ranged.stdout, '206', ranged.stderr)
    assert.ok(readFileSync(part).equals(bytes.subarray(300000, 301000)))
    // An interrupted download: the first 123457 bytes on disk, then curl resumes from there.
    const resumed = join(work, 'resumed.whl')
    writeFileSync(resumed, bytes.subarray(0, 123457))
    const resume = spawnSync('curl', ['-sS', '--noproxy', '*', '-C', '-', '-o', resumed, '-w', '%{http_code}', url], { encoding: 'utf8' })
    assert.equal(resume.stdout, '206', resume.stderr)
    assert.ok(readFileSync(resumed).equals(bytes), 'the resumed file is byte-identical to the upstream file')
  })
})
