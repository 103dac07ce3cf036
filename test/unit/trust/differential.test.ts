// Differential check: for each simulator scenario, tuf-proxy's engine (through TufSession) and
// tuf-js 5 (through its BaseFetcher seam, in memory) must reach the same verdict: accept or
// reject the refresh, and find the same target. A disagreement is a finding: the known ones are
// listed per scenario with the reason, and the test asserts the disagreement stays as
// documented, so a change on either side is noticed rather than silenced.
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BaseFetcher, Updater } from 'tuf-js'
import { DownloadHTTPError } from 'tuf-js/dist/error.js'
import { fixedClock } from '../../../src/base/index.js'
import { RepositorySimulator } from '../../helpers/repository-simulator.js'
import { generateKey } from '../../helpers/sim-keys.js'
import { METADATA_BASE_URL, openMemorySession } from '../../helpers/tuf-memory.js'

const DAY_MS = 86_400_000

class SimulatorFetcher extends BaseFetcher {
  constructor(private readonly sim: RepositorySimulator) {
    super()
  }

  override fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const bytes = url.startsWith(METADATA_BASE_URL) ? this.sim.fetch(url.slice(METADATA_BASE_URL.length)) : undefined
    if (!bytes) return Promise.reject(new DownloadHTTPError(`404 ${url}`, 404))
    const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength))
    copy.set(bytes)
    return Promise.resolve(new ReadableStream({ start: (controller) => (controller.enqueue(copy), controller.close()) }))
  }
}

type Verdict = 'accept' | 'reject'

interface Scenario {
  readonly name: string
  /** The verdict tuf-proxy must reach (tuf-js must agree unless a knownDifference says why not). */
  readonly expect: Verdict
  readonly options?: ConstructorParameters<typeof RepositorySimulator>[0]
  /** Repository state before the client's first refresh. */
  readonly setup?: (sim: RepositorySimulator) => void
  /** Changes between the first refresh (whose result is ignored) and the judged one. */
  readonly attack?: (sim: RepositorySimulator) => void
  /** Also look this target up after the judged refresh. */
  readonly target?: string
  /** Documented disagreement: why tuf-js reaches the other verdict. */
  readonly knownDifference?: { readonly why: string }
}

const scenarios: Scenario[] = [
  { name: 'honest repository', expect: 'accept', setup: (sim) => void sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot(), target: 'f' },
  { name: 'root key rotation', expect: 'accept', attack: (sim) => void sim.rotateKeys('root').publishRoot() },
  { name: 'new root signed only by new keys', expect: 'reject', attack: (sim) => void sim.rotateKeys('root').publishRoot(sim.signers.get('root')) },
  { name: 'expired final root', expect: 'reject', attack: (sim) => void sim.expire('root', sim.nowMs - DAY_MS).publishRoot() },
  { name: 'timestamp signed by a wrong key', expect: 'reject', attack: (sim) => void sim.signWith('timestamp', [generateKey()]).updateTimestamp() },
  { name: 'timestamp rollback', expect: 'reject', setup: (sim) => void sim.updateTimestamp(), attack: (sim) => void sim.rollback('timestamp', 1) },
  { name: 'timestamp unchanged', expect: 'accept', attack: () => undefined },
  { name: 'expired timestamp (freeze)', expect: 'reject', attack: (sim) => void sim.expire('timestamp', sim.nowMs - DAY_MS).updateTimestamp() },
  { name: 'snapshot hash mismatch', expect: 'reject', options: { metaHashes: true }, attack: (sim) => void sim.updateSnapshot().corruptBytes('snapshot.json') },
  { name: 'snapshot with duplicate signature keyid', expect: 'reject', attack: (sim) => void sim.updateSnapshot().duplicateSignature('snapshot.json') },
  { name: 'snapshot below threshold', expect: 'reject', attack: (sim) => void sim.setRootRole('snapshot', [generateKey(), sim.signers.get('snapshot')?.[0] ?? generateKey()], 2).publishRoot().updateSnapshot() },
  { name: 'targets mix-and-match', expect: 'reject', attack: (sim) => void sim.addTarget('targets', 'f', Buffer.from('x')).updateSnapshot().serveOldSnapshotTargets() },
  { name: 'expired targets', expect: 'reject', attack: (sim) => void sim.expire('targets', sim.nowMs - DAY_MS).updateSnapshot() },
  { name: 'targets labelled as snapshot', expect: 'reject', attack: (sim) => void sim.addTarget('targets', 'g', Buffer.from('g')).updateSnapshot().mislabel('targets.json', 'snapshot') },
  { name: 'malformed timestamp JSON', expect: 'reject', attack: (sim) => void sim.malformed('timestamp.json', '{"signed":') },
  {
    name: 'fast-forward recovery after timestamp key rotation', expect: 'accept',
    setup: (sim) => {
      sim.signed('timestamp').version = 999
      sim.updateTimestamp()
    },
    attack: (sim) => {
      sim.signed('timestamp').version = 1
      sim.rotateKeys('timestamp').publishRoot().updateTimestamp()
    },
  },
  { name: 'consistent snapshot with delegation', expect: 'accept', options: { consistentSnapshot: true }, setup: (sim) => void sim.addDelegation('targets', { name: 'a/b?' }).addTarget('a/b?', 'x/y', Buffer.from('y')).updateSnapshot(), target: 'x/y' },
  { name: 'delegated role signed by a wrong key', expect: 'reject', setup: (sim) => void sim.addDelegation('targets', { name: 'A' }).addTarget('A', 'f', Buffer.from('y')).signWith('A', [generateKey()]).updateSnapshot(), target: 'f' },
  {
    name: 'succinct hash bins', expect: 'accept',
    setup: (sim) => {
      sim.addSuccinctRoles('targets', 6, 'bins')
      sim.addTarget(sim.binOf('targets', 'p/q.whl'), 'p/q.whl', Buffer.from('q')).updateSnapshot()
    },
    target: 'p/q.whl',
  },
  { name: 'terminating delegation hides later roles', expect: 'accept', setup: (sim) => void sim.addDelegation('targets', { name: 'T', terminating: true }).addDelegation('targets', { name: 'U' }).addTarget('U', 'f', Buffer.from('u')).updateSnapshot(), target: 'f' },
  {
    name: 'expires with fractional seconds', expect: 'reject',
    attack: (sim) => {
      sim.signed('timestamp').expires = new Date(sim.nowMs + DAY_MS).toISOString()
      sim.updateTimestamp()
    },
    knownDifference: { why: 'tuf-js parses expires with new Date() (any ISO form); we follow python-tuf strptime("%Y-%m-%dT%H:%M:%SZ")' },
  },
  {
    name: 'snapshot pinned only by an md5 hash', expect: 'reject',
    attack: (sim) => {
      sim.updateSnapshot()
      const bytes = sim.currentBytes('snapshot')
      // a weak but valid digest, to see which algorithms each client accepts
      const md5 = createHash('md5').update(bytes).digest('hex')
      sim.signed('timestamp')['meta'] = { 'snapshot.json': { version: sim.signed('snapshot').version, hashes: { md5 } } }
      sim.signed('timestamp').version += 1
      sim.invalidate('timestamp')
    },
    knownDifference: { why: 'tuf-js accepts any algorithm node:crypto knows; we allow only sha256/384/512 (an unknown or weak algorithm is a mismatch, as python-tuf treats unsupported ones)' },
  },
]

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

async function judge(run: () => Promise<unknown>): Promise<{ verdict: Verdict; result?: unknown }> {
  try {
    return { verdict: 'accept', result: await run() }
  } catch {
    return { verdict: 'reject' }
  }
}

async function runOurs(sim: RepositorySimulator, scenario: Scenario): Promise<{ verdict: Verdict; found?: string | undefined }> {
  const { session } = await openMemorySession({ sim, clock: fixedClock(Date.now()) })
  await session.refresh().catch(() => undefined)
  scenario.attack?.(sim)
  const judged = await judge(async () => {
    await session.refresh()
    return scenario.target === undefined ? undefined : (await session.findTarget(scenario.target))?.hashes['sha256']
  })
  return { verdict: judged.verdict, found: judged.result as string | undefined }
}

async function runTufJs(sim: RepositorySimulator, scenario: Scenario): Promise<{ verdict: Verdict; found?: string | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'tuf-js-diff-'))
  dirs.push(dir)
  writeFileSync(join(dir, 'root.json'), sim.trustedRoot())
  const updater = () => new Updater({ metadataDir: dir, metadataBaseUrl: METADATA_BASE_URL, fetcher: new SimulatorFetcher(sim) })
  await updater().refresh().catch(() => undefined)
  scenario.attack?.(sim)
  const judged = await judge(async () => {
    const client = updater()
    await client.refresh()
    return scenario.target === undefined ? undefined : (await client.getTargetInfo(scenario.target))?.hashes['sha256']
  })
  return { verdict: judged.verdict, found: judged.result as string | undefined }
}

describe('differential: tuf-proxy engine vs tuf-js 5', () => {
  for (const scenario of scenarios) {
    test(scenario.name, async () => {
      // Each client gets its own repository built by the same story (keys differ, verdicts must not).
      const build = () => {
        const sim = new RepositorySimulator(scenario.options)
        scenario.setup?.(sim)
        return sim
      }
      const ours = await runOurs(build(), scenario)
      const theirs = await runTufJs(build(), scenario)
      assert.equal(ours.verdict, scenario.expect, 'tuf-proxy verdict')
      if (scenario.knownDifference) {
        assert.notEqual(theirs.verdict, ours.verdict, `documented difference no longer holds: ${scenario.knownDifference.why}`)
        return
      }
      assert.equal(ours.verdict, theirs.verdict, `tuf-proxy ${ours.verdict}s, tuf-js ${theirs.verdict}s`)
      assert.equal(ours.found === undefined, theirs.found === undefined, 'both find the target, or neither')
    })
  }
})
