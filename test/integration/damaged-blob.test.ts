/**
 * A cached file cut short (or grown) on disk outside the proxy: the real proxy process, a real
 * upstream on 127.0.0.1 and the cache directory's own files. A committed blob never changes
 * length, so one that did is removed when it is next opened and the file is fetched and verified
 * again: the client gets the upstream's bytes whole, never a broken transfer on every request.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { truncateSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { FakeUpstream } from '../helpers/fake-upstream.js'
import { get } from '../helpers/http-client.js'
import { ProxyProcess } from '../helpers/proxy-process.js'
import { buildWheel } from '../helpers/wheels.js'

describe('a cached blob whose length changed on disk', () => {
  let upstream: FakeUpstream
  let proxy: ProxyProcess
  const wheel = buildWheel('damaged-pkg', '1.0')
  const sha256 = createHash('sha256').update(wheel.bytes).digest('hex')
  const fileUrl = () => `${proxy.url}/files/damaged-pkg/${wheel.filename}`
  before(async () => {
    upstream = await new FakeUpstream().start()
    upstream.addProject('damaged-pkg', [{ filename: wheel.filename, bytes: wheel.bytes }])
    proxy = await ProxyProcess.start(['--upstream', upstream.simpleUrl])
  })
  after(async () => {
    await proxy.dispose()
    await upstream.stop()
  })

  test('is removed and fetched again: the client gets the whole verified file, and the proxy says why', async () => {
    assert.equal((await get(`${proxy.url}/simple/damaged-pkg/`)).status, 200)
    // A HEAD on a cold file answers once it is verified and committed.
    const head = await request(fileUrl(), { method: 'HEAD' })
    await head.body.dump()
    assert.equal(head.statusCode, 200)
    const cached = await get(fileUrl())
    assert.ok(cached.body.equals(wheel.bytes))
    assert.equal(cached.headers['x-cache'], 'HIT')
    assert.equal(upstream.hits(`/files/${wheel.filename}`), 1)

    truncateSync(join(proxy.cacheDir, 'blobs', 'blobs', sha256.slice(0, 2), sha256), Math.floor(wheel.bytes.byteLength / 2))
    const again = await get(fileUrl())
    assert.equal(again.status, 200)
    assert.equal(again.headers['x-cache'], 'MISS', 'the damaged blob was not served')
    assert.ok(again.body.equals(wheel.bytes), 'the whole file, as the upstream has it')
    assert.equal(upstream.hits(`/files/${wheel.filename}`), 2, 'fetched again')
    assert.deepEqual(
      proxy.events('blob_damaged').map((line) => [line.sha256, line.bytes, line.expectedBytes]),
      [[sha256, Math.floor(wheel.bytes.byteLength / 2), wheel.bytes.byteLength]],
    )
  })
})
