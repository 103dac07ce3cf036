/**
 * The differential test of verifying mode over generated repository histories (issue 8): runs
 * one HistorySpec against the real proxy process and compares, after every step,
 *   (a) tuf-js straight at the repository: a long-lived client (the reference) and a fresh one,
 *   (b) tuf-js through the proxy's `/tuf/metadata/` and `/tuf/targets/`: fresh and long-lived,
 *   (c) plain GETs of `/simple/<project>/` and `/files/<project>/<newest file>`, and on the steps
 *       the spec marks, Debian's pip through `/simple/` (pip costs about a second a run).
 *
 * Invariants checked after every step (names as printed on failure):
 *   alive        the proxy process runs and answers /status; every answer comes within 30 s
 *   agree        (b) and (c) give the same release of every project (the same file list); the
 *                fresh and long-lived (b) give the same verdict and bytes. Only while a mirror swaps
 *                a project's page may (c) serve a page verified earlier that (b) cannot have
 *   provenance   every byte (b), (c) or pip gets is a target listed by the verified metadata of
 *                some state a direct client accepted, and that state's vouching roles (root down
 *                to the listing role) are unexpired now
 *   fresh        when the reference client accepts the whole repository state (every target
 *                listed), the first answers of (b), (c) and pip after `--tuf-refresh` has passed
 *                are that state: asked once, never polled
 *   reasons      every drop the proxy logs or lists in /status names a reason code; every error
 *                answer carries X-Tuf-Proxy-Reason; an attack alone in force that the reference
 *                client refuses is recorded as a drop under one of the attack's reasons
 *   cache        every blob in the cache is a target a direct client accepted; every file of the
 *                persisted trust state is metadata tuf-js accepted or the repository signed
 *                rightly, and none is metadata an attack signed wrongly (wrong key, expired)
 *
 * `--tuf-refresh 0` is used when the proxy accepts it; otherwise 1, and each step waits once past
 * the last contact with the proxy, since a refresh interval genuinely requires it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { blobDigests } from './http-client.js'
import { pipDownload, type PipResult } from './pip.js'
import { ProxyProcess } from './proxy-process.js'
import { describeStep, HistoryWorld, PROJECTS, type HistorySpec, type ProjectName } from './tuf-history.js'
import { sha256Hex, TufProbe, type ProbeResult, type TargetVerdict } from './tuf-probe.js'

const DIRECT_TIMEOUT_MS = 1_500
const VIA_PROXY_TIMEOUT_MS = 20_000
const ANSWER_DEADLINE_MS = 30_000
const MAX_TIMESTAMP_BYTES = 16_384
const REASON_CODE = /^[a-z][a-z0-9_]*$/

export interface Violation {
  readonly invariant: 'alive' | 'agree' | 'provenance' | 'fresh' | 'reasons' | 'cache'
  readonly detail: string
}

export interface StepReport {
  /** -1 is the initial state, before the first step */
  readonly index: number
  readonly label: string
  readonly violations: readonly Violation[]
  /** what the reference client made of the state, for the failure report */
  readonly reference: string
  /** the proxy's error answers during the step's checks (status, path, reason) */
  readonly proxyRefusals: readonly string[]
}

export interface HistoryResult {
  readonly spec: HistorySpec
  readonly refreshSeconds: number
  readonly steps: readonly StepReport[]
  /** the first step with a violation; the history stops there unless `keepGoing` */
  readonly failed: StepReport | undefined
  /** the proxy's last log lines other than requests, when it failed */
  readonly proxyTail: readonly string[]
}

export interface RunOptions {
  /** progress lines (one per step) */
  readonly log?: (line: string) => void
  /** run every step even after a violation (later failures may only follow from the first) */
  readonly keepGoing?: boolean
}

// ---- the proxy ------------------------------------------------------------------------------

let refreshSecondsProbe: Promise<number> | undefined

/** 0 when this proxy accepts `--tuf-refresh 0`, else 1 (the minimum before issue 8). */
function refreshSecondsFor(start: (refresh: number) => Promise<ProxyProcess>): Promise<number> {
  refreshSecondsProbe ??= start(0).then(
    async (proxy) => {
      await proxy.dispose()
      return 0
    },
    (error: unknown) => {
      if (String(error).includes('tuf-refresh')) return 1
      throw error
    },
  )
  return refreshSecondsProbe
}

interface PageAnswer {
  readonly status: number
  readonly reason: string | undefined
  /** file names the page lists, sorted; undefined unless 200 */
  readonly files: readonly string[] | undefined
  readonly body: Buffer
}

async function getOnce(url: string): Promise<PageAnswer | { readonly error: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(ANSWER_DEADLINE_MS) })
    const body = Buffer.from(await response.arrayBuffer())
    const reason = response.headers.get('x-tuf-proxy-reason') ?? undefined
    return { status: response.status, reason, files: response.status === 200 ? listedFiles(body) : undefined, body }
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }
  }
}

/** The file names a PEP 503 page links to (anchor texts), sorted: the release it shows. */
export function listedFiles(page: Uint8Array): string[] {
  return [...Buffer.from(page).toString('utf8').matchAll(/<a\b[^>]*>([^<]+)<\/a>/g)].map((match) => match[1] ?? '').sort()
}

/** `alpha-0.12-py3-none-any.whl` → [0, 12]; what pip would call newest wins. */
function versionOf(filename: string): number[] {
  const match = /^[a-z]+-(\d+)\.(\d+)-/.exec(filename)
  return match ? [Number(match[1]), Number(match[2])] : [-1, -1]
}

function newestListed(files: readonly string[]): string | undefined {
  return [...files].sort((a, b) => {
    const [a0 = 0, a1 = 0] = versionOf(a)
    const [b0 = 0, b1 = 0] = versionOf(b)
    return a0 - b0 || a1 - b1
  }).at(-1)
}

async function dropCounts(proxy: ProxyProcess): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  const response = await fetch(`${proxy.url}/metrics`, { signal: AbortSignal.timeout(ANSWER_DEADLINE_MS) })
  for (const match of (await response.text()).matchAll(/^tuf_proxy_drops_total\{reason="([^"]*)"\} (\d+)$/gm)) counts.set(match[1] ?? '', Number(match[2]))
  return counts
}

interface StatusDrops {
  readonly drops?: ReadonlyArray<{ readonly reason?: unknown; readonly url?: unknown; readonly detail?: unknown }>
}

// ---- the ledger of what direct clients accepted ----------------------------------------------

class Ledger {
  /** target sha256 → latest expiry of a state in which a direct client accepted it */
  readonly targets = new Map<string, number>()
  /** project → listed-files key of an accepted page → latest expiry */
  readonly pages = new Map<ProjectName, Map<string, number>>()
  /** sha256 of metadata files tuf-js persisted, of every published root, and of every role the repository signed rightly */
  readonly metadata = new Set<string>()
  /** sha256 of metadata the repository signed wrongly (wrong key, already expired) */
  readonly taintedMetadata = new Set<string>()

  addTarget(sha256: string, validUntilMs: number): void {
    this.targets.set(sha256, Math.max(validUntilMs, this.targets.get(sha256) ?? 0))
  }

  addPage(project: ProjectName, bytes: Uint8Array, validUntilMs: number): void {
    let pages = this.pages.get(project)
    if (!pages) this.pages.set(project, (pages = new Map()))
    const key = listedFiles(bytes).join(' ')
    pages.set(key, Math.max(validUntilMs, pages.get(key) ?? 0))
  }
}

// ---- one history ----------------------------------------------------------------------------

export async function runHistory(spec: HistorySpec, options: RunOptions = {}): Promise<HistoryResult> {
  const world = await HistoryWorld.create(spec)
  const { sim, upstream } = world
  const dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-history-'))
  const rootFile = join(dir, 'root.json')
  writeFileSync(rootFile, sim.trustedRoot())
  const proxyArgs = (refresh: number) => [
    '--upstream', upstream.simpleUrl, '--tuf-root', rootFile, '--tuf-metadata-url', upstream.metadataUrl, '--tuf-targets-url', upstream.targetsUrl,
    '--tuf-layout', 'paths', '--tuf-refresh', String(refresh), '--index-ttl', '0', '--tuf-max-timestamp-bytes', String(MAX_TIMESTAMP_BYTES), '--upstream-timeout', '1',
  ]
  const refreshSeconds = await refreshSecondsFor((refresh) => ProxyProcess.start(proxyArgs(refresh)))
  const proxy = await ProxyProcess.start(proxyArgs(refreshSeconds))
  const directUrls = { metadataBaseUrl: upstream.metadataUrl, targetBaseUrl: upstream.targetsUrl }
  const proxyUrls = () => ({ metadataBaseUrl: `${proxy.url}/tuf/metadata/`, targetBaseUrl: `${proxy.url}/tuf/targets/` })
  const reference = new TufProbe(directUrls, sim.trustedRoot(), DIRECT_TIMEOUT_MS)
  const followsProxy = new TufProbe(proxyUrls(), sim.trustedRoot(), VIA_PROXY_TIMEOUT_MS)
  const ledger = new Ledger()
  const steps: StepReport[] = []
  let lastContactMs = Date.now()
  let failed: StepReport | undefined
  let proxyTail: string[] = []

  const checkStep = async (index: number, label: string, pipProject: ProjectName | undefined): Promise<StepReport> => {
    const violations: Violation[] = []
    const fail = (invariant: Violation['invariant'], detail: string) => violations.push({ invariant, detail })
    for (let v = 1; v <= sim.rootVersion; v++) ledger.metadata.add(sha256Hex(sim.trustedRoot(v)))
    const current = world.currentMetadata()
    for (const bytes of current.honest) ledger.metadata.add(sha256Hex(bytes))
    for (const bytes of current.tainted) ledger.taintedMetadata.add(sha256Hex(bytes))

    // (a) the repository as the independent client sees it.
    const paths = world.targetPaths()
    const ref = await reference.probe(paths)
    const freshDirect = new TufProbe(directUrls, sim.trustedRoot(), DIRECT_TIMEOUT_MS)
    const fresh = await freshDirect.probe(paths)
    for (const digest of [...reference.persistedDigests(), ...freshDirect.persistedDigests()]) ledger.metadata.add(digest)
    freshDirect.dispose()
    // What the state's verified metadata lists counts, even when a mirror kept the bytes from the client.
    for (const result of [ref, fresh]) {
      for (const [path, verdict] of result.targets) {
        const sha256 = verdict.accepted ? verdict.sha256 : verdict.listedSha256
        if (sha256 === undefined) continue
        const validUntilMs = world.validUntilMs(path)
        ledger.addTarget(sha256, validUntilMs)
        const project = PROJECTS.find((name) => world.pagePath(name) === path)
        const page = world.pagesBySha256.get(sha256)
        if (project && page) ledger.addPage(project, page, validUntilMs)
      }
    }
    const stateAccepted = ref.refreshError === undefined && [...ref.targets.values()].every((verdict) => verdict.accepted || verdict.listed)
    const refusedSomething = [...ref.targets.values()].some((verdict) => !verdict.accepted)

    // Wait once past --tuf-refresh since the proxy last heard from us: its next answer must be fresh.
    const waitMs = lastContactMs + refreshSeconds * 1000 + 100 - Date.now()
    if (refreshSeconds > 0 && waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs))
    const dropsBefore = await dropCounts(proxy).catch(() => new Map<string, number>())
    const logsBefore = proxy.logs.length

    // (b) and (c): which asks first alternates, so each is sometimes the first answer after the refresh is due.
    const probed = PROJECTS.flatMap((project) => {
      const newest = world.newestFile(project)
      return newest ? [world.pagePath(project), newest.path] : [world.pagePath(project)]
    })
    const pages = new Map<ProjectName, PageAnswer | { readonly error: string }>()
    const files = new Map<ProjectName, { readonly name: string; readonly answer: PageAnswer | { readonly error: string } }>()
    const askPlain = async () => {
      for (const project of PROJECTS) {
        const page = await getOnce(`${proxy.url}/simple/${project}/`)
        pages.set(project, page)
        const newest = 'files' in page && page.files ? newestListed(page.files) : undefined
        if (newest) files.set(project, { name: newest, answer: await getOnce(`${proxy.url}/files/${project}/${newest}`) })
      }
    }
    let viaProxy: ProbeResult | undefined
    let viaProxyLong: ProbeResult | undefined
    const askTuf = async () => {
      const freshViaProxy = new TufProbe(proxyUrls(), sim.trustedRoot(), VIA_PROXY_TIMEOUT_MS)
      viaProxy = await freshViaProxy.probe(probed)
      freshViaProxy.dispose()
      viaProxyLong = await followsProxy.probe(probed)
    }
    if ((spec.seed + index) % 2 === 0) {
      await askPlain()
      await askTuf()
    } else {
      await askTuf()
      await askPlain()
    }
    let pip: PipResult | undefined
    if (pipProject) pip = await pipDownload(`${proxy.url}/simple/`, pipProject)
    lastContactMs = Date.now()
    if (!viaProxy || !viaProxyLong) throw new Error('unreachable: both probes ran')
    const b = viaProxy
    const bLong = viaProxyLong

    // alive
    if (!proxy.isRunning) fail('alive', `the proxy process exited; stderr: ${proxy.stderr.slice(-500)}`)
    const status = await getOnce(`${proxy.url}/status`)
    if (!('status' in status) || status.status !== 200) fail('alive', `/status: ${'error' in status ? status.error : status.status}`)
    for (const [project, page] of pages) if ('error' in page) fail('alive', `/simple/${project}/ got no answer: ${page.error}`)
    for (const [project, file] of files) if ('error' in file.answer) fail('alive', `/files/${project}/${file.name} got no answer: ${file.answer.error}`)

    const now = Date.now()
    const vouched = (sha256: string) => (ledger.targets.get(sha256) ?? 0) > now
    const show = (verdict: TargetVerdict | undefined) => (!verdict ? 'not asked' : verdict.accepted ? `accepted ${listedOrSha(verdict)}` : `refused (${verdict.error.slice(0, 160)})`)

    for (const project of PROJECTS) {
      const pagePath = world.pagePath(project)
      const refPage = ref.targets.get(pagePath)
      const bPage = b.targets.get(pagePath)
      const bLongPage = bLong.targets.get(pagePath)
      const cPage = pages.get(project)
      const cServed = cPage && 'status' in cPage && cPage.status === 200 ? cPage : undefined

      // agree
      const pageSwapped = world.swappedPaths().has(pagePath)
      if (bPage?.accepted && cServed) {
        if (listedFiles(bPage.bytes).join(' ') !== cServed.files?.join(' ')) fail('agree', `${project}: tuf-js via /tuf/ got [${listedFiles(bPage.bytes).join(' ')}], /simple/ served [${cServed.files?.join(' ')}]`)
      } else if (Boolean(bPage?.accepted) !== Boolean(cServed) && !pageSwapped) {
        fail('agree', `${project}: tuf-js via /tuf/ ${show(bPage)}; /simple/ answered ${describeAnswer(cPage)}`)
      }
      if (Boolean(bPage?.accepted) !== Boolean(bLongPage?.accepted) || (bPage?.accepted && bLongPage?.accepted && bPage.sha256 !== bLongPage.sha256)) {
        fail('agree', `${project}: a fresh tuf-js via /tuf/ ${show(bPage)}, the long-lived one ${show(bLongPage)}`)
      }

      // provenance
      for (const [who, verdict] of [['tuf-js via /tuf/', bPage], ['long-lived tuf-js via /tuf/', bLongPage]] as const) {
        if (verdict?.accepted && !vouched(verdict.sha256)) fail('provenance', `${project}: ${who} got a page no direct client accepted in a state still unexpired: [${listedFiles(verdict.bytes).join(' ')}]`)
      }
      if (cServed && !((ledger.pages.get(project)?.get(cServed.files?.join(' ') ?? '') ?? 0) > now)) {
        fail('provenance', `${project}: /simple/ served [${cServed.files?.join(' ')}], a release no direct client accepted in a state still unexpired`)
      }
      const newest = world.newestFile(project)
      for (const [who, result] of [['tuf-js via /tuf/', b], ['long-lived tuf-js via /tuf/', bLong]] as const) {
        const verdict = newest ? result.targets.get(newest.path) : undefined
        if (verdict?.accepted && !vouched(verdict.sha256)) fail('provenance', `${project}: ${who} got bytes of ${newest?.filename} no direct client accepted (sha256 ${verdict.sha256})`)
      }
      const cFile = files.get(project)
      const cFileServed = cFile && 'status' in cFile.answer && cFile.answer.status === 200 ? cFile.answer : undefined
      if (cFile && cFileServed && !vouched(sha256Hex(cFileServed.body))) fail('provenance', `${project}: /files/ served ${cFile.name} with bytes no direct client accepted (sha256 ${sha256Hex(cFileServed.body).slice(0, 16)}…)`)

      // fresh
      if (stateAccepted && refPage?.accepted) {
        const want = listedFiles(refPage.bytes).join(' ')
        if (!bPage?.accepted || bPage.sha256 !== refPage.sha256) fail('fresh', `${project}: the repository's page is [${want}]; tuf-js via /tuf/ ${show(bPage)}`)
        if (!bLongPage?.accepted || bLongPage.sha256 !== refPage.sha256) fail('fresh', `${project}: the repository's page is [${want}]; long-lived tuf-js via /tuf/ ${show(bLongPage)}`)
        if (!cServed || cServed.files?.join(' ') !== want) fail('fresh', `${project}: the repository's page is [${want}]; /simple/ answered ${describeAnswer(cPage)}`)
        const refFile = newest ? ref.targets.get(newest.path) : undefined
        if (newest && refFile?.accepted) {
          const bFile = b.targets.get(newest.path)
          if (!bFile?.accepted || bFile.sha256 !== refFile.sha256) fail('fresh', `${project}: tuf-js via /tuf/ on ${newest.filename}: ${show(bFile)}`)
          if (cFile?.name === newest.filename && (!cFileServed || sha256Hex(cFileServed.body) !== refFile.sha256)) {
            fail('fresh', `${project}: /files/ on ${newest.filename} answered ${describeAnswer(cFile.answer)}`)
          }
          if (pip && pipProject === project && (pip.status !== 0 || pip.files.join(' ') !== newest.filename)) {
            fail('fresh', `${project}: pip download got [${pip.files.join(' ')}] (exit ${pip.status}), the repository's newest is ${newest.filename}: ${pip.stderr.trim().split('\n').slice(-2).join(' / ')}`)
          }
        }
      }
      if (pip && pipProject === project) {
        for (const name of pip.files) {
          if (!vouched(sha256Hex(readFileSync(join(pip.dest, name))))) fail('provenance', `${project}: pip downloaded ${name} with bytes no direct client accepted`)
        }
      }
    }
    if (pip) rmSync(pip.dest, { recursive: true, force: true })

    // reasons
    for (const line of proxy.events('drop')) {
      if (typeof line['reason'] !== 'string' || !REASON_CODE.test(line['reason'])) fail('reasons', `a drop log line names no reason: ${JSON.stringify(line)}`)
    }
    if ('status' in status && status.status === 200) {
      for (const drop of (JSON.parse(status.body.toString('utf8')) as StatusDrops).drops ?? []) {
        if (typeof drop.reason !== 'string' || !REASON_CODE.test(drop.reason)) fail('reasons', `a /status drop names no reason: ${JSON.stringify(drop)}`)
      }
    }
    const answers: Array<[string, PageAnswer | { readonly error: string }]> = [
      ...[...pages].map(([project, answer]): [string, PageAnswer | { readonly error: string }] => [`/simple/${project}/`, answer]),
      ...[...files].map(([project, file]): [string, PageAnswer | { readonly error: string }] => [`/files/${project}/${file.name}`, file.answer]),
    ]
    for (const [url, answer] of answers) {
      if ('status' in answer && answer.status >= 400 && !(answer.reason && REASON_CODE.test(answer.reason))) fail('reasons', `${url} answered ${answer.status} without X-Tuf-Proxy-Reason`)
    }
    const dropsAfter = await dropCounts(proxy).catch(() => new Map<string, number>())
    const moved = [...dropsAfter].filter(([reason, count]) => count > (dropsBefore.get(reason) ?? 0)).map(([reason, count]) => `${reason}+${count - (dropsBefore.get(reason) ?? 0)}`)
    const attack = world.attacks.length === 1 ? world.attacks[0] : undefined
    if (attack && attack.step === index && refusedSomething) {
      if (!attack.expectedDrops.some((reason) => (dropsAfter.get(reason) ?? 0) > (dropsBefore.get(reason) ?? 0))) {
        fail('reasons', `${attack.label} is refused by the direct client, but the proxy recorded no drop under ${attack.expectedDrops.join('/')} (drops this step: ${moved.join(', ') || 'none'})`)
      }
    }

    // cache
    for (const digest of blobDigests(proxy.cacheDir)) if (!ledger.targets.has(digest)) fail('cache', `blob ${digest} is no target the metadata of a state a direct client accepted lists`)
    const trustDir = join(proxy.cacheDir, 'tuf', 'metadata')
    // Roots sit in the directory; the rest of the state in the set directory CURRENT names.
    const trustFiles = safeReaddir(trustDir).flatMap((name) =>
      name.startsWith('set-') ? safeReaddir(join(trustDir, name)).map((inner) => join(name, inner)) : name === 'CURRENT' ? [] : [name])
    for (const name of trustFiles) {
      if (name.split('/').pop()?.startsWith('.')) continue
      const digest = sha256Hex(readFileSync(join(trustDir, name)))
      if (ledger.taintedMetadata.has(digest) || !ledger.metadata.has(digest)) {
        fail('cache', `trust state file ${name} holds metadata ${ledger.taintedMetadata.has(digest) ? 'signed wrongly (wrong key or expired)' : 'the repository never signed rightly'} (sha256 ${digest.slice(0, 16)}…)`)
      }
    }

    const referenceSummary = ref.refreshError
      ? `refresh refused: ${ref.refreshError.slice(0, 200)}`
      : `${stateAccepted ? 'whole state accepted' : 'partly refused'}; ${[...ref.targets].filter(([, verdict]) => !verdict.accepted).map(([path, verdict]) => `${path}: ${verdict.accepted ? '' : verdict.error.slice(0, 120)}`).join('; ') || 'every target accepted'}; proxy drops this step: ${moved.join(', ') || 'none'}`
    const proxyRefusals = proxy.logs
      .slice(logsBefore)
      .filter((line) => line.event === 'request' && Number(line['status']) >= 400)
      .map((line) => `${String(line['status'])} ${String(line['path'])} ${String(line['reason'])}`)
    return { index, label, violations, reference: referenceSummary, proxyRefusals: [...new Set(proxyRefusals)] }
  }

  try {
    const initial = await checkStep(-1, 'initial state', undefined)
    steps.push(initial)
    if (initial.violations.length) failed = initial
    for (const [index, entry] of spec.entries.entries()) {
      if (failed && !options.keepGoing) break
      const { step } = entry
      if (entry.healFirst || step.kind === 'heal') world.healAll()
      world.apply(index, step)
      if (step.kind === 'restart') {
        if (step.how === 'kill') await proxy.kill()
        else await proxy.stop()
        await proxy.restart()
        followsProxy.retarget(proxyUrls())
        lastContactMs = Date.now()
      }
      const label = `${entry.healFirst ? 'heal, then ' : ''}${describeStep(step)}${entry.pip ? ` [pip ${entry.pip}]` : ''}`
      const report = await checkStep(index, label, entry.pip)
      steps.push(report)
      options.log?.(
        [
          `  seed ${spec.seed} step ${index} ${label}: ${report.violations.length ? 'FAILED' : 'ok'}`,
          ...report.violations.map((violation) => `      [${violation.invariant}] ${violation.detail}`),
          ...(report.violations.length ? [`      reference: ${report.reference}`, `      proxy error answers: ${report.proxyRefusals.join('; ') || 'none'}`] : []),
        ].join('\n'),
      )
      if (report.violations.length) failed ??= report
    }
  } finally {
    proxyTail = proxy.logs.filter((line) => line.event !== 'request').slice(-12).map((line) => JSON.stringify(line).slice(0, 400))
    await proxy.dispose()
    reference.dispose()
    followsProxy.dispose()
    await world.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return { spec, refreshSeconds, steps, failed, proxyTail }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

function listedOrSha(verdict: TargetVerdict & { accepted: true }): string {
  const files = listedFiles(verdict.bytes)
  return files.length ? `[${files.join(' ')}]` : `sha256 ${verdict.sha256.slice(0, 12)}…`
}

function describeAnswer(answer: PageAnswer | { readonly error: string } | undefined): string {
  if (!answer) return 'nothing (not asked)'
  if ('error' in answer) return `no answer (${answer.error})`
  if (answer.status === 200) return answer.files ? `200 [${answer.files.join(' ')}]` : '200'
  return `${answer.status} ${answer.reason ?? '(no reason)'}`
}

/** What a failing history prints: enough to replay it and to keep it as a regression case. */
export function formatFailure(result: HistoryResult): string {
  const { spec, failed } = result
  if (!failed) return `seed ${spec.seed}: ok`
  const lines = [
    `TUF differential history FAILED: seed ${spec.seed} (${spec.layout}, consistent_snapshot ${spec.consistentSnapshot}, --tuf-refresh ${result.refreshSeconds}) at step ${failed.index}: ${failed.label}`,
    `  replay: npm run fuzz:tuf -- --seed ${spec.seed} --steps ${spec.entries.length}`,
    '  history (up to the failure):',
    ...spec.entries.slice(0, failed.index + 1).map((entry, index) => `    ${String(index).padStart(2)} ${entry.healFirst ? 'heal, then ' : ''}${describeStep(entry.step)}${entry.pip ? ` [pip ${entry.pip}]` : ''}`),
    `  the reference client (tuf-js at the repository): ${failed.reference}`,
    '  violations:',
    ...failed.violations.map((violation) => `    [${violation.invariant}] ${violation.detail}`),
    `  the proxy's error answers in that step: ${failed.proxyRefusals.join('; ') || 'none'}`,
    ...result.steps
      .filter((step) => step.index > failed.index && step.violations.length)
      .map((step) => `  later, step ${step.index} ${step.label}: ${[...new Set(step.violations.map((v) => v.invariant))].join(', ')}`),
    '  proxy log tail:',
    ...result.proxyTail.map((line) => `    ${line}`),
    `  spec: ${JSON.stringify({ ...spec, entries: spec.entries.slice(0, failed.index + 1) })}`,
  ]
  return lines.join('\n')
}
