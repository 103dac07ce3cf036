import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLockFiles } from '../../../src/store/index.js'

function recorder(): { events: string[]; logger: { log(): void; info(event: string): void; warn(event: string): void; error(): void } } {
  const events: string[] = []
  return { events, logger: { log: () => undefined, info: (event) => void events.push(event), warn: (event) => void events.push(event), error: () => undefined } }
}

/** The pid of a process that has exited (so `kill(pid, 0)` fails with ESRCH). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

describe('lock files shared by processes', () => {
  test('a lock is exclusive until released, and its file names the holder', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-locks-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const locks = openLockFiles({ dir, logger: recorder().logger })
    const held = await locks.tryAcquire('x')
    assert.ok(held)
    assert.equal(await locks.tryAcquire('x'), undefined)
    assert.equal((await locks.holder('x'))?.pid, process.pid)
    await held.publish('abc.part')
    assert.equal((await locks.holder('x'))?.detail, 'abc.part')
    await held.release()
    assert.equal(await locks.holder('x'), undefined)
    const again = await locks.tryAcquire('x')
    assert.ok(again)
    await again.release()
  })

  test('the lock of a dead process on this host is taken over at once, and logged', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-locks-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const { events, logger } = recorder()
    const locks = openLockFiles({ dir, logger })
    await writeFile(join(dir, 'x.lock'), JSON.stringify({ pid: deadPid(), host: hostname(), token: 'dead' }))
    assert.equal(await locks.isLive('x'), false)
    const held = await locks.tryAcquire('x')
    assert.ok(held, 'taken over')
    assert.deepEqual(events, ['lock_taken_over'])
    assert.equal((await locks.holder('x'))?.pid, process.pid)
    await held.release()
  })

  test('another host\'s lock is taken over only once its heartbeat is older than the stale time', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-locks-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const locks = openLockFiles({ dir, logger: recorder().logger, staleMs: 10_000 })
    const path = join(dir, 'x.lock')
    // A pid that means nothing here: the holder runs in another container.
    await writeFile(path, JSON.stringify({ pid: 1, host: `${hostname()}-elsewhere`, token: 'remote' }))
    assert.equal(await locks.tryAcquire('x'), undefined, 'a fresh heartbeat keeps it')
    const beatSeconds = (Date.now() - 10_001) / 1000
    await utimes(path, beatSeconds, beatSeconds)
    const held = await locks.tryAcquire('x')
    assert.ok(held, 'a stale heartbeat lets it go')
    await held.release()
  })

  test('a holder whose lock was taken over notices it at its next heartbeat and never removes the new holder\'s lock', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-locks-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const { events, logger } = recorder()
    const locks = openLockFiles({ dir, logger, heartbeatMs: 5 })
    const held = await locks.tryAcquire('x')
    assert.ok(held)
    await writeFile(join(dir, 'x.lock'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'newer' }))
    while (held.isHeld) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.ok(events.includes('lock_lost'))
    await held.release()
    assert.match(await readFile(join(dir, 'x.lock'), 'utf8'), /"newer"/)
  })
})
