/**
 * Runs a batch of fault combinations against one real proxy process: a fault-free origin, a
 * FaultUpstream in front of it that the proxy uses as its upstream, and a control proxy straight
 * at the origin whose answers are the oracle for what the proxy renders itself (pages, the
 * project list). Files, `.metadata` and TUF targets are checked against the origin's own bytes.
 *
 * Per combination it asserts: the proxy process is alive; every client gets the oracle's bytes or
 * a clean refusal (never a 200 with a complete wrong body, never nothing, never a hang past
 * CLIENT_DEADLINE_MS); once the fault is off the resource is served right (nothing rejected was
 * cached); and a good resource of the same upstream still works. Failures name the combination.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { describeCombination, expectationOf, isRecoveryRequired, pageFormatOf, type Combination, type Mode } from './fault-combinations.js'
import { FaultUpstream } from './fault-upstream.js'
import { FakeUpstream } from './fake-upstream.js'
import { ProxyProcess } from './proxy-process.js'
import { RepositorySimulator } from './repository-simulator.js'
import { TufUpstream, wheelFile, type DistFile } from './tuf-upstream.js'
import { buildWheel } from './wheels.js'

/** A client waits this long for a whole answer; longer is a hang. */
export const CLIENT_DEADLINE_MS = 30_000
/** After the fault is off, a refusal may linger this long (a breaker, a brief negative cache). */
const RECOVERY_DEADLINE_MS = 15_000
const RECOVERY_POLL_MS = 250
const UPSTREAM_TIMEOUT_SECONDS = 2

export interface CombinationFailure {
  readonly combination: Combination
  readonly message: string
}

export interface BatchResult {
  readonly ran: number
  readonly failures: CombinationFailure[]
}

type Outcome =
  | { readonly kind: 'complete'; readonly status: number; readonly reason: string | undefined; readonly body: Buffer }
  | { readonly kind: 'cut'; readonly status: number; readonly detail: string }
  | { readonly kind: 'no-answer'; readonly detail: string }
  | { readonly kind: 'hang' }

/** One resource of the batch: where clients ask, which upstream paths serve it, and its oracle. */
interface Target {
  readonly proxyPath: string
  readonly accept: string | undefined
  readonly isUpstreamPath: (path: string) => boolean
  readonly oracle: () => Promise<Buffer>
  /** called before the fault is set, e.g. to publish what the combination asks for */
  readonly prepare?: () => Promise<void>
  /** ask again (within RECOVERY_DEADLINE_MS) until the faulted paths were asked: for what the proxy fetches in the background */
  readonly isUpstreamHitAwaited?: boolean
}

async function fetchOutcome(url: string, accept: string | undefined): Promise<Outcome> {
  const signal = AbortSignal.timeout(CLIENT_DEADLINE_MS)
  let status: number
  let reason: string | undefined
  let body: Buffer
  try {
    const response = await request(url, { signal, headers: accept ? { accept } : {}, headersTimeout: CLIENT_DEADLINE_MS * 2, bodyTimeout: CLIENT_DEADLINE_MS * 2 })
    status = response.statusCode
    const header = response.headers['x-tuf-proxy-reason']
    reason = typeof header === 'string' ? header : undefined
    try {
      body = Buffer.from(await response.body.arrayBuffer())
    } catch (error) {
      if (signal.aborted) return { kind: 'hang' }
      return { kind: 'cut', status, detail: String(error) }
    }
  } catch (error) {
    if (signal.aborted) return { kind: 'hang' }
    return { kind: 'no-answer', detail: String(error) }
  }
  return { kind: 'complete', status, reason, body }
}

function isCleanRefusal(outcome: Outcome): boolean {
  // A refusal names its reason, except a plain 404 for what the upstream does not have.
  return outcome.kind === 'complete' && outcome.status >= 400 && outcome.status <= 599 && (outcome.reason !== undefined || outcome.status === 404)
}

/** Why an outcome breaks the rules, or undefined when it keeps them. */
function judge(outcome: Outcome, oracle: Buffer, isAnyBodyAllowed: boolean): string | undefined {
  switch (outcome.kind) {
    case 'hang':
      return `no whole answer within ${CLIENT_DEADLINE_MS} ms (a hang)`
    case 'no-answer':
      return `no HTTP answer at all: ${outcome.detail}`
    case 'cut':
      // A refusal after the 200 head: the only way left to refuse a body already being relayed.
      return outcome.status === 200 ? undefined : `status ${outcome.status} with a cut-off body: ${outcome.detail}`
    case 'complete':
      if (outcome.status === 200) {
        if (outcome.body.equals(oracle) || isAnyBodyAllowed) return undefined
        return `200 with a complete wrong body (${outcome.body.length} bytes, sha256 ${sha256(outcome.body).slice(0, 12)}; expected ${oracle.length} bytes, ${sha256(oracle).slice(0, 12)})`
      }
      if (isCleanRefusal(outcome)) return undefined
      return `status ${outcome.status} is neither the resource nor a clean refusal (reason header: ${outcome.reason ?? 'none'}): ${outcome.body.subarray(0, 200).toString('utf8')}`
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function summarize(outcomes: readonly Outcome[]): string {
  const counts = new Map<string, number>()
  for (const outcome of outcomes) {
    const key = outcome.kind === 'complete' ? `${outcome.status}${outcome.reason ? ` ${outcome.reason}` : ''}` : outcome.kind
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, n]) => `${n}× ${key}`).join(', ')
}

/** Polls until a 200 arrives; undefined when it has the oracle's bytes (any bytes when there is no oracle). */
async function waitForGood(url: string, accept: string | undefined, oracle: Buffer | undefined): Promise<string | undefined> {
  const deadline = Date.now() + RECOVERY_DEADLINE_MS
  for (;;) {
    const outcome = await fetchOutcome(url, accept)
    if (outcome.kind === 'complete' && outcome.status === 200) {
      if (oracle === undefined) return undefined
      return outcome.body.equals(oracle) ? undefined : `after the fault, a 200 with other bytes than the resource's (${outcome.body.length} bytes, expected ${oracle.length}): a rejected answer was cached`
    }
    if (Date.now() > deadline) return `after the fault, still no good answer within ${RECOVERY_DEADLINE_MS} ms: ${summarize([outcome])}`
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS))
  }
}

/** The running pieces of a batch, mode by mode. */
interface Rig {
  readonly fault: FaultUpstream
  readonly proxy: ProxyProcess
  readonly control: ProxyProcess
  /** a resource no combination touches, that must work after every combination */
  readonly good: Target
  target(combination: Combination): Target
  stop(): Promise<void>
}

const HTML_ACCEPT = 'text/html'

async function controlGet(control: ProxyProcess, path: string, accept: string | undefined): Promise<Buffer> {
  const deadline = Date.now() + RECOVERY_DEADLINE_MS
  for (;;) {
    const outcome = await fetchOutcome(`${control.url}${path}`, accept)
    if (outcome.kind === 'complete' && outcome.status === 200) return outcome.body
    if (Date.now() > deadline) throw new Error(`the control proxy could not serve ${path}: ${summarize([outcome])}`)
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS))
  }
}

async function indexRig(combinations: readonly Combination[]): Promise<Rig> {
  const origin = await new FakeUpstream().start()
  // JSON pages list PEP 700 sizes, so a body longer than listed is a refusal by size too.
  origin.format = pageFormatOf(combinations[0]?.seed ?? 0)
  const fault = await new FaultUpstream(origin.url).start()
  origin.linkBaseUrl = fault.url
  const wheels = new Map<number, ReturnType<typeof buildWheel>>()
  const projectOf = (c: Combination) => `fz-${c.seed}-${c.index}`
  for (const c of combinations) {
    const wheel = buildWheel(projectOf(c), '1.0', `# ${describeCombination(c)}\n`)
    wheels.set(c.index, wheel)
    const isUnhashed = c.kind === 'unhashed-file'
    origin.addProject(projectOf(c), [{ filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata, ...(isUnhashed ? { hashes: {} } : { size: wheel.bytes.length }) }])
  }
  const goodWheel = buildWheel('always-good', '1.0')
  origin.addProject('always-good', [{ filename: goodWheel.filename, bytes: goodWheel.bytes, metadata: goodWheel.metadata, size: goodWheel.bytes.length }])
  const common = ['--index-ttl', '0', '--upstream-timeout', String(UPSTREAM_TIMEOUT_SECONDS)]
  const proxy = await ProxyProcess.start(['--upstream', `${fault.url}/simple/`, ...common])
  // The origin's links point at the fault upstream; the control proxy must accept them as the proxy does.
  const control = await ProxyProcess.start(['--upstream', `${origin.url}/simple/`, '--allow-host', `127.0.0.1:${fault.port}`, ...common])
  const fileTarget = (project: string, wheel: ReturnType<typeof buildWheel>, isMetadata: boolean): Target => {
    const name = isMetadata ? `${wheel.filename}.metadata` : wheel.filename
    return { proxyPath: `/files/${project}/${name}`, accept: undefined, isUpstreamPath: (path) => path === `/files/${name}`, oracle: async () => Buffer.from(isMetadata ? wheel.metadata : wheel.bytes) }
  }
  return {
    fault,
    proxy,
    control,
    good: fileTarget('always-good', goodWheel, false),
    target(c) {
      const wheel = wheels.get(c.index)
      if (!wheel) throw new Error(`no wheel for ${describeCombination(c)}`)
      const project = projectOf(c)
      switch (c.kind) {
        case 'project-list':
          return { proxyPath: '/simple/', accept: HTML_ACCEPT, isUpstreamPath: (path) => path === '/simple/', oracle: () => controlGet(control, '/simple/', HTML_ACCEPT) }
        case 'page':
          return { proxyPath: `/simple/${project}/`, accept: HTML_ACCEPT, isUpstreamPath: (path) => path === `/simple/${project}/`, oracle: () => controlGet(control, `/simple/${project}/`, HTML_ACCEPT) }
        case 'file':
        case 'unhashed-file':
          return fileTarget(project, wheel, false)
        case 'metadata':
          return fileTarget(project, wheel, true)
        default:
          throw new Error(`${c.kind} is not a resource of the index mode`)
      }
    },
    async stop() {
      await Promise.allSettled([proxy.dispose(), control.dispose()])
      await fault.stop()
      await origin.stop()
    },
  }
}

async function tufRig(combinations: readonly Combination[]): Promise<Rig> {
  const sim = new RepositorySimulator({ consistentSnapshot: true })
  const origin = await TufUpstream.start(sim)
  const fault = await new FaultUpstream(origin.url).start()
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-fault-'))
  const rootFile = join(dir, 'root.json')
  const projectOf = (c: Combination) => `Fz${c.seed}x${c.index}`
  const files = new Map<number, DistFile>()
  // Like TufUpstream.publishProject, but the links lead to the fault upstream's targets URL, the
  // TUF targets base the proxy is given (a link anywhere else names nothing it can verify).
  const publish = (project: string, distFiles: readonly DistFile[]) => {
    const normalizedName = project.toLowerCase()
    const links = distFiles.map((file) => `<a href="${fault.url}/targets/${file.path}#sha256=${file.sha256}">${file.filename}</a><br/>`)
    const page = Buffer.from(`<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for ${normalizedName}</title></head>\n<body><h1>Links for ${normalizedName}</h1>\n${links.join('\n')}\n</body></html>\n`)
    for (const file of distFiles) sim.addTarget('targets', file.path, file.bytes)
    sim.addTarget('targets', `simple/${normalizedName}/index.html`, page)
  }
  const good = wheelFile('AlwaysGood', '1.0')
  publish('AlwaysGood', [good])
  // tuf-metadata combinations publish their project when they run, so a refresh is needed to see it.
  for (const c of combinations) {
    const file = wheelFile(projectOf(c), '1.0', `# ${describeCombination(c)}\n`)
    files.set(c.index, file)
    if (c.kind !== 'tuf-metadata') publish(projectOf(c), [file])
  }
  origin.publish()
  writeFileSync(rootFile, sim.trustedRoot())
  const argsFor = (base: string) => [
    '--upstream', `${base}/targets/simple/`, '--tuf-root', rootFile, '--tuf-metadata-url', `${base}/metadata/`, '--tuf-targets-url', `${base}/targets/`,
    '--tuf-layout', 'paths', '--tuf-refresh', '1', '--index-ttl', '0', '--upstream-timeout', String(UPSTREAM_TIMEOUT_SECONDS),
  ]
  const proxy = await ProxyProcess.start(argsFor(fault.url))
  // The control proxy reads the same signed pages, whose links name the fault upstream.
  const control = await ProxyProcess.start([...argsFor(origin.url), '--allow-host', `127.0.0.1:${fault.port}`])
  const normalized = (c: Combination) => projectOf(c).toLowerCase()
  const fileTarget = (project: string, file: DistFile): Target => ({
    proxyPath: `/files/${project.toLowerCase()}/${file.filename}`,
    accept: undefined,
    isUpstreamPath: (path) => path.startsWith('/targets/packages/') && path.endsWith(file.filename),
    oracle: async () => Buffer.from(file.bytes),
  })
  return {
    fault,
    proxy,
    control,
    good: fileTarget('AlwaysGood', good),
    target(c) {
      const file = files.get(c.index)
      if (!file) throw new Error(`no file for ${describeCombination(c)}`)
      const pagePath = `/simple/${normalized(c)}/`
      switch (c.kind) {
        case 'tuf-page':
          return { proxyPath: pagePath, accept: HTML_ACCEPT, isUpstreamPath: (path) => path.startsWith(`/targets/simple/${normalized(c)}/`), oracle: () => controlGet(control, pagePath, HTML_ACCEPT) }
        case 'tuf-target':
          return fileTarget(projectOf(c), file)
        case 'tuf-metadata':
          return {
            proxyPath: pagePath,
            accept: HTML_ACCEPT,
            isUpstreamPath: (path) => path.startsWith('/metadata/'),
            isUpstreamHitAwaited: true,
            oracle: () => controlGet(control, pagePath, HTML_ACCEPT),
            prepare: async () => {
              publish(projectOf(c), [file])
              origin.publish()
            },
          }
        default:
          throw new Error(`${c.kind} is not a resource of the TUF mode`)
      }
    },
    async stop() {
      await Promise.allSettled([proxy.dispose(), control.dispose()])
      await fault.stop()
      await origin.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function countHits(fault: FaultUpstream, target: Target): number {
  let hits = 0
  for (const [path, n] of fault.hits) if (target.isUpstreamPath(path)) hits += n
  return hits
}

/** Takes a crash report off a dead proxy (so the canary does not report it twice) and starts it again. */
async function reviveIfDead(proxy: ProxyProcess): Promise<string | undefined> {
  if (!proxy.hasCrashed) return undefined
  const report = proxy.crashReport
  await proxy.stop().catch(() => undefined)
  await proxy.restart()
  return report
}

async function runOne(rig: Rig, combination: Combination, notes: string[]): Promise<string[]> {
  const problems: string[] = []
  const target = rig.target(combination)
  await target.prepare?.()
  const oracle = await target.oracle()
  const isAnyBodyAllowed = expectationOf(combination) === 'any'
  rig.fault.inject(target.isUpstreamPath, { transport: combination.transport, fault: combination.fault })
  const url = `${rig.proxy.url}${target.proxyPath}`
  const hitsBefore = countHits(rig.fault, target)
  const outcomes: Outcome[] = []
  const deadline = Date.now() + RECOVERY_DEADLINE_MS
  do {
    outcomes.push(...(await Promise.all(Array.from({ length: combination.concurrency }, () => fetchOutcome(url, target.accept)))))
    if (!target.isUpstreamHitAwaited || countHits(rig.fault, target) > hitsBefore || Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS))
  } while (true)
  rig.fault.clear()
  notes.push(`clients got ${summarize(outcomes)}; faulted upstream answers: ${countHits(rig.fault, target) - hitsBefore}`)
  const verdicts = outcomes.map((outcome) => judge(outcome, oracle, isAnyBodyAllowed)).filter((verdict) => verdict !== undefined)
  if (verdicts.length > 0) problems.push(`while faulted (${summarize(outcomes)}): ${[...new Set(verdicts)].join('; ')}`)
  const crash = await reviveIfDead(rig.proxy)
  if (crash) return [...problems, `the proxy process died:\n${crash}`]
  const recovery = await waitForGood(url, target.accept, isRecoveryRequired(combination) ? oracle : undefined)
  if (recovery) problems.push(recovery)
  const goodProblem = await waitForGood(`${rig.proxy.url}${rig.good.proxyPath}`, rig.good.accept, await rig.good.oracle())
  if (goodProblem) problems.push(`a good resource of the same upstream: ${goodProblem}`)
  const lateCrash = await reviveIfDead(rig.proxy)
  if (lateCrash) problems.push(`the proxy process died:\n${lateCrash}`)
  return problems
}

/**
 * Runs `combinations` (all of one mode) against one proxy, one after another; clients within a
 * combination run concurrently. Never throws for a failing combination: they are returned.
 */
export async function runBatch(
  mode: Mode,
  combinations: readonly Combination[],
  onResult: (combination: Combination, problems: readonly string[], notes: readonly string[]) => void = () => undefined,
): Promise<BatchResult> {
  const rig = mode === 'index' ? await indexRig(combinations) : await tufRig(combinations)
  const failures: CombinationFailure[] = []
  try {
    for (const combination of combinations) {
      let problems: string[]
      const notes: string[] = []
      try {
        problems = await runOne(rig, combination, notes)
      } catch (error) {
        problems = [`the harness failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`]
      }
      onResult(combination, problems, notes)
      if (problems.length > 0) failures.push({ combination, message: `${describeCombination(combination)}\n  ${problems.join('\n  ')}` })
    }
  } finally {
    await rig.stop()
  }
  return { ran: combinations.length, failures }
}
