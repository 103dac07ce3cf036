/**
 * Following another process's download (mirror/flight-follow.ts) with two blob stores on one
 * directory in one process standing for two processes. The leader's whole download is forced into
 * the instant between the follower's look for the committed blob and its attempt to lead, which
 * a loaded machine produces by chance.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '../../../src/base/index.js'
import { followLeader } from '../../../src/mirror/flight-follow.js'
import { openBlobStore, type BlobStore } from '../../../src/store/index.js'

async function committedReader(store: BlobStore, sha256: string) {
  const ref = store.get(sha256)
  return ref ? store.openBlob(ref) : undefined
}

describe('following a download of another process', () => {
  test('a follower that finds the lock free because the leader just committed serves the committed blob and never asks the upstream', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-follow-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const leaderStore = await openBlobStore({ dir, maxBytes: Infinity })
    const followerStore = await openBlobStore({ dir, maxBytes: Infinity })
    const bytes = Buffer.from('the bytes of a distribution file '.repeat(1000))
    const sha256 = sha256Hex(bytes)
    const leader = await leaderStore.flight('file')
    assert.ok(leader.isLeader)
    // The leader is still connecting: its lock names no temporary blob yet.
    const writer = await leaderStore.createWriter({ verifiedSha256: sha256 })
    const follower = await followerStore.flight('file')
    assert.equal(follower.isLeader, false)
    let looks = 0
    let upstreamRequests = 0
    const source = followLeader({
      flight: follower,
      expectedSize: undefined,
      openCommitted: async () => {
        const reader = await committedReader(followerStore, sha256)
        looks += 1
        if (looks === 1) {
          // Not committed when the follower looked; by its next step the leader has finished.
          assert.equal(reader, undefined)
          await writer.write(bytes)
          await writer.commit()
          await leader.release()
        }
        return reader
      },
      committedSize: () => followerStore.get(sha256)?.size,
      lead: async () => {
        upstreamRequests += 1
        throw new Error('the follower asked the upstream for a file already committed')
      },
    })
    const received: Buffer[] = []
    for await (const chunk of source.body) received.push(Buffer.from(chunk))
    assert.equal(upstreamRequests, 0)
    assert.ok(Buffer.concat(received).equals(bytes), 'the committed bytes')
    const next = await followerStore.flight('file')
    assert.ok(next.isLeader, 'the follower let the lock go again')
    await next.release()
  })
})
