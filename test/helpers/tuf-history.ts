/**
 * Seeded histories of TUF repository states for the differential test of verifying mode
 * (issue 8): a small PRNG, the step kinds, a generator, and the world that applies a step to a
 * RepositorySimulator served over HTTP by TufUpstream.
 *
 * A history is plain data (`HistorySpec`), so a failing one can be printed and replayed, or kept
 * verbatim as a regression case. Steps never say what the outcome should be: the independent
 * client (tuf-js straight at the repository) decides that when the test runs.
 *
 * Layouts: PEP 480 (`targets` delegates to `claimed` with an offline key, terminating, then to
 * `recently-claimed` and `unclaimed` with online keys) and PEP 458 (`targets` delegates every
 * path to succinct hash bins with one online key). Projects alpha, beta and gamma live in
 * claimed, recently-claimed and unclaimed respectively under PEP 480, and wherever their paths
 * hash under PEP 458. Each release adds a new version (0.1, 0.2, …) to its project; pages list
 * every file still published, as PyPI's do.
 */
import { createHash } from 'node:crypto'
import { RepositorySimulator } from './repository-simulator.js'
import { generateKey } from './sim-keys.js'
import { TufUpstream, wheelFile, type DistFile } from './tuf-upstream.js'

// ---- PRNG ----------------------------------------------------------------------------------

/** mulberry32: a 32-bit seeded PRNG, small and good enough to pick steps. */
export class Prng {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  int(below: number): number {
    return Math.floor(this.next() * below)
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }
}

// ---- histories -----------------------------------------------------------------------------

export type Layout = 'pep480' | 'pep458'
export const PROJECTS = ['alpha', 'beta', 'gamma'] as const
export type ProjectName = (typeof PROJECTS)[number]

/** Which role an attack on "a delegated role" hits: the one holding this project's page. */
export type Step =
  | { readonly kind: 'release'; readonly project: ProjectName }
  /** an attacker with the online keys publishes a release with a payload: TUF cannot tell */
  | { readonly kind: 'compromise'; readonly project: ProjectName }
  /** an offline role (`claimed` or `targets`) re-signed with a key it does not delegate to */
  | { readonly kind: 'tamper'; readonly role: 'claimed' | 'targets' }
  /** an older timestamp, or a new timestamp beside the previous snapshot */
  | { readonly kind: 'rollback'; readonly role: 'timestamp' | 'snapshot' }
  /** a release in `targets` or in the role holding `project`'s page, served beside the previous version of that role */
  | { readonly kind: 'mix'; readonly role: 'targets' | 'delegated'; readonly project: ProjectName }
  /** a new version of the role, already expired */
  | { readonly kind: 'freeze'; readonly role: 'timestamp' | 'snapshot' | 'targets' | 'delegated'; readonly project: ProjectName }
  /** a new, valid metadata file padded past every client's size limit */
  | { readonly kind: 'endless'; readonly role: 'timestamp' | 'snapshot' }
  /** a new timestamp whose body never comes */
  | { readonly kind: 'stall' }
  /** a release whose page or new file a mirror without keys swaps */
  | { readonly kind: 'swap'; readonly what: 'page' | 'file'; readonly project: ProjectName }
  | { readonly kind: 'rotate'; readonly what: 'root' | 'timestamp' | 'snapshot' | 'consistent' }
  | { readonly kind: 'restart'; readonly how: 'graceful' | 'kill'; readonly releaseFirst: ProjectName | undefined }
  /** every attack in force is undone, then a good release */
  | { readonly kind: 'heal'; readonly project: ProjectName }

/** A step, whether attacks still in force are undone before it, and whether pip runs after it. */
export interface HistoryEntry {
  readonly step: Step
  readonly healFirst: boolean
  readonly pip: ProjectName | undefined
}

export interface HistorySpec {
  readonly seed: number
  readonly layout: Layout
  readonly consistentSnapshot: boolean
  readonly entries: readonly HistoryEntry[]
}

/**
 * A history of `length` steps from `seed`; the last step always heals and releases, so every
 * history ends in a state the independent client accepts (the recovery check). `pipEvery` runs
 * pip after every n-th step and the last one (0: never).
 */
export function generateHistory(seed: number, length: number, pipEvery = 4): HistorySpec {
  const prng = new Prng(seed)
  const layout: Layout = prng.chance(0.5) ? 'pep480' : 'pep458'
  const consistentSnapshot = prng.chance(0.5)
  const project = () => prng.pick(PROJECTS)
  const onlineProject = () => (layout === 'pep480' ? prng.pick(['beta', 'gamma'] as const) : project())
  // Weighted: releases and attacks the proxy most often meets come up most.
  const makers: Array<[number, () => Step]> = [
    [5, () => ({ kind: 'release', project: project() })],
    [2, () => ({ kind: 'compromise', project: onlineProject() })],
    [3, () => ({ kind: 'tamper', role: layout === 'pep480' && prng.chance(0.7) ? 'claimed' : 'targets' })],
    [2, () => ({ kind: 'rollback', role: prng.pick(['timestamp', 'snapshot'] as const) })],
    [2, () => ({ kind: 'mix', role: prng.chance(0.3) ? 'targets' : 'delegated', project: project() })],
    [2, () => ({ kind: 'freeze', role: prng.pick(['timestamp', 'snapshot', 'targets', 'delegated'] as const), project: project() })],
    [1, () => ({ kind: 'endless', role: prng.pick(['timestamp', 'snapshot'] as const) })],
    [1, () => ({ kind: 'stall' })],
    [2, () => ({ kind: 'swap', what: prng.pick(['page', 'file'] as const), project: project() })],
    [1, () => ({ kind: 'rotate', what: prng.pick(['root', 'timestamp', 'snapshot', 'consistent'] as const) })],
    [2, () => ({ kind: 'restart', how: prng.chance(0.6) ? 'kill' : 'graceful', releaseFirst: prng.chance(0.5) ? project() : undefined })],
    [1, () => ({ kind: 'heal', project: project() })],
  ]
  const totalWeight = makers.reduce((sum, [weight]) => sum + weight, 0)
  const entries: HistoryEntry[] = []
  for (let index = 0; index < length; index++) {
    const isLast = index === length - 1
    let step: Step
    if (isLast) step = { kind: 'heal', project: project() }
    else {
      let roll = prng.int(totalWeight)
      const maker = makers.find(([weight]) => (roll -= weight) < 0)
      if (!maker) throw new Error('weights do not cover the roll')
      step = maker[1]()
    }
    const healFirst = prng.chance(0.7)
    const runPip = pipEvery > 0 && (isLast || index % pipEvery === pipEvery - 1)
    entries.push({ step, healFirst, pip: runPip ? project() : undefined })
  }
  return { seed, layout, consistentSnapshot, entries }
}

export function describeStep(step: Step): string {
  const { kind, ...rest } = step
  const args = Object.entries(rest)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${String(value)}`)
  return args.length ? `${kind}(${args.join(', ')})` : kind
}

// ---- the world -----------------------------------------------------------------------------

const YEAR_MS = 365 * 86_400_000
const MIB = 1024 * 1024
/** Trust-error and upstream codes a refusal of each attack may be recorded under. */
const SIGNATURE = ['bad_signature', 'threshold_not_met']
const VERSIONS = ['rollback', 'mix_and_match', 'equal_version']
/** a swapped page is longer than the length its target lists, so a capped download ends over the limit */
const BYTES = ['hash_mismatch', 'length_or_hash_mismatch', 'upstream_too_large']

/** An attack in force: what undoes it, and which drop reasons the proxy may record for it. */
export interface Attack {
  readonly step: number
  readonly label: string
  readonly expectedDrops: readonly string[]
  /** the role whose current bytes the repository signs wrongly (wrong key, already expired) while in force */
  readonly taints?: string
  /** the target path whose bytes a mirror swaps while in force */
  readonly swaps?: string
  /** Undoes the attack; returns whether repository metadata must be republished. */
  heal(): boolean
}

interface ProjectState {
  readonly name: ProjectName
  /** files the repository lists now, oldest first */
  files: DistFile[]
  nextVersion: number
}

export class HistoryWorld {
  readonly sim: RepositorySimulator
  readonly attacks: Attack[] = []
  readonly projects = new Map<ProjectName, ProjectState>()
  /** every page the repository ever published, by SHA-256 */
  readonly pagesBySha256 = new Map<string, Uint8Array>()
  /** the offline keys, kept to re-sign with after a tamper */
  readonly #attackerKey = generateKey()
  #upstream: TufUpstream | undefined

  private constructor(readonly spec: HistorySpec) {
    this.sim = new RepositorySimulator({ consistentSnapshot: spec.consistentSnapshot })
  }

  static async create(spec: HistorySpec): Promise<HistoryWorld> {
    const world = new HistoryWorld(spec)
    world.#upstream = await TufUpstream.start(world.sim)
    const { sim } = world
    if (spec.layout === 'pep480') {
      const projectPaths = (project: string) => [`simple/${project}/*`, `packages/*/${project.charAt(0).toUpperCase()}/${capitalize(project)}/*`]
      const anyProject = ['simple/*/index.html', 'packages/*/*/*/*']
      sim.addDelegation('targets', { name: 'claimed', terminating: true, paths: projectPaths('alpha') })
      sim.addDelegation('targets', { name: 'recently-claimed', paths: anyProject })
      sim.addDelegation('targets', { name: 'unclaimed', paths: anyProject })
    } else {
      sim.addSuccinctRoles('targets', 3, 'bins')
    }
    for (const name of PROJECTS) {
      world.projects.set(name, { name, files: [], nextVersion: 1 })
      world.#release(name, false)
    }
    world.upstream.publish()
    return world
  }

  get upstream(): TufUpstream {
    if (!this.#upstream) throw new Error('world not started')
    return this.#upstream
  }

  async stop(): Promise<void> {
    await this.#upstream?.stop()
  }

  /** The role that lists `path` in this layout. */
  roleFor(project: ProjectName, path: string): string {
    if (this.spec.layout === 'pep458') return this.sim.binOf('targets', path)
    return project === 'alpha' ? 'claimed' : project === 'beta' ? 'recently-claimed' : 'unclaimed'
  }

  pagePath(project: ProjectName): string {
    return `simple/${project}/index.html`
  }

  /** Every target the repository lists now: each page and every file on it. */
  targetPaths(): string[] {
    return [...this.projects.values()].flatMap((state) => [this.pagePath(state.name), ...state.files.map((file) => file.path)])
  }

  newestFile(project: ProjectName): DistFile | undefined {
    return this.#project(project).files.at(-1)
  }

  /** The earliest expiry of the roles that vouch for `path` now (root to the listing role). */
  validUntilMs(path: string): number {
    const expiries = ['root', 'timestamp', 'snapshot'].map((role) => Date.parse(this.sim.signed(role).expires))
    let role = [...this.sim.roles.keys()].find((name) => name !== 'root' && this.sim.signed(name)['targets'] !== undefined && path in this.sim.targetsOf(name))
    while (role && role !== 'root') {
      expiries.push(Date.parse(this.sim.signed(role).expires))
      role = this.sim.delegatorOf.get(role)
    }
    return Math.min(...expiries)
  }

  /**
   * The current bytes of every role, split into those the repository signs as it should
   * (right keys, unexpired) and those an attack in force makes wrong.
   */
  currentMetadata(): { honest: Uint8Array[]; tainted: Uint8Array[] } {
    const tainted = new Set(this.attacks.flatMap((attack) => (attack.taints ? [attack.taints] : [])))
    const honest: Uint8Array[] = []
    const wrong: Uint8Array[] = []
    for (const role of this.sim.roles.keys()) (tainted.has(role) ? wrong : honest).push(this.sim.currentBytes(role))
    return { honest, tainted: wrong }
  }

  /** Target paths whose bytes a mirror swaps now. */
  swappedPaths(): Set<string> {
    return new Set(this.attacks.flatMap((attack) => (attack.swaps ? [attack.swaps] : [])))
  }

  /** Undoes every attack in force, republishing when one changed metadata. */
  healAll(): void {
    let republish = false
    // Newest first: each heal restores what was there before its own attack, so stacked attacks
    // on one role (a second tamper saves the first one's wrong key) unwind to the true state.
    for (const attack of this.attacks.splice(0).reverse()) republish = attack.heal() || republish
    this.sim.heal()
    if (republish) this.upstream.publish()
  }

  /** Applies one step to the repository (restarts are the runner's, not the repository's). */
  apply(index: number, step: Step): void {
    const { sim, upstream } = this
    switch (step.kind) {
      case 'release':
      case 'heal':
        this.#release(step.project, false)
        upstream.publish()
        return
      case 'compromise':
        this.#release(step.project, true)
        upstream.publish()
        return
      case 'restart':
        if (step.releaseFirst) {
          this.#release(step.releaseFirst, false)
          upstream.publish()
        }
        return
      case 'tamper': {
        const role = step.role
        const keys = sim.signers.get(role) ?? []
        let evil: DistFile | undefined
        if (role === 'claimed') evil = this.#release('alpha', true)
        else sim.addTarget('targets', `notes/tampered-${index}.txt`, Buffer.from(`written by an attacker at step ${index}\n`))
        sim.signWith(role, [this.#attackerKey])
        upstream.publish()
        this.attacks.push({
          step: index,
          label: describeStep(step),
          expectedDrops: SIGNATURE,
          taints: role,
          heal: () => {
            sim.signWith(role, keys)
            if (evil) this.#unpublish('alpha', evil)
            else delete sim.targetsOf('targets')[`notes/tampered-${index}.txt`]
            sim.invalidate(role)
            return true
          },
        })
        return
      }
      case 'rollback': {
        if (step.role === 'timestamp') {
          upstream.publish()
          sim.rollback('timestamp', sim.signed('timestamp').version - 1)
        } else {
          upstream.publish()
          sim.rollback('snapshot', sim.signed('snapshot').version - 1)
        }
        this.attacks.push({ step: index, label: describeStep(step), expectedDrops: VERSIONS, heal: () => false })
        return
      }
      case 'mix': {
        const project = step.project
        let role: string
        if (step.role === 'targets') {
          role = 'targets'
          sim.addTarget('targets', `notes/mix-${index}.txt`, Buffer.from(`a top-level target of step ${index}\n`))
          this.#release(project, false)
        } else {
          // The new page's role changes with this release, so it has a previous version to serve.
          this.#release(project, false)
          role = this.roleFor(project, this.pagePath(project))
        }
        upstream.publish()
        sim.rollback(role, sim.signed(role).version - 1)
        this.attacks.push({ step: index, label: describeStep(step), expectedDrops: VERSIONS, heal: () => false })
        return
      }
      case 'freeze': {
        const role = step.role === 'delegated' ? this.roleFor(step.project, this.pagePath(step.project)) : step.role
        sim.expire(role, Date.now() - 60_000)
        if (role === 'timestamp') sim.updateTimestamp()
        else {
          if (role !== 'snapshot') this.#release(step.project, false)
          sim.updateSnapshot()
        }
        upstream.sync()
        this.attacks.push({
          step: index,
          label: describeStep(step),
          expectedDrops: ['expired'],
          taints: role,
          heal: () => {
            sim.expire(role, Date.now() + YEAR_MS)
            return true
          },
        })
        return
      }
      case 'endless': {
        upstream.publish()
        const paths = step.role === 'timestamp' ? ['/metadata/timestamp.json'] : ['/metadata/snapshot.json', `/metadata/${sim.signed('snapshot').version}.snapshot.json`]
        // Valid JSON, correctly signed, padded with spaces: only a size limit refuses it.
        for (const path of paths) upstream.inflate(path, step.role === 'timestamp' ? MIB : 2.5 * MIB)
        this.attacks.push({
          step: index,
          label: describeStep(step),
          expectedDrops: ['upstream_too_large', 'length_or_hash_mismatch'],
          heal: () => {
            for (const path of paths) upstream.heal(path)
            return false
          },
        })
        return
      }
      case 'stall': {
        sim.updateTimestamp()
        upstream.sync()
        upstream.stall('/metadata/timestamp.json')
        this.attacks.push({
          step: index,
          label: describeStep(step),
          expectedDrops: ['slow_retrieval', 'upstream_timeout'],
          heal: () => {
            upstream.heal('/metadata/timestamp.json')
            return false
          },
        })
        return
      }
      case 'swap': {
        const fresh = this.#release(step.project, false)
        upstream.publish()
        const path = step.what === 'page' ? this.pagePath(step.project) : fresh.path
        const evil = wheelFile(capitalize(step.project), '99.0', 'import os  # swapped in by a mirror\n')
        const change =
          step.what === 'page'
            ? (bytes: Uint8Array) => Buffer.from(Buffer.from(bytes).toString('utf8').replace('</body>', `<a href="${upstream.targetsUrl}${evil.path}#sha256=${evil.sha256}">${evil.filename}</a><br/>\n</body>`))
            : (bytes: Uint8Array) => {
                const copy = Buffer.from(bytes)
                copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1
                return copy
              }
        upstream.tamperTarget(path, change)
        this.attacks.push({
          step: index,
          label: describeStep(step),
          expectedDrops: BYTES,
          swaps: path,
          heal: () => {
            upstream.untamperTarget(path)
            return false
          },
        })
        return
      }
      case 'rotate': {
        if (step.what === 'consistent') sim.setConsistentSnapshot(!(sim.signed('root')['consistent_snapshot'] as boolean))
        else sim.rotateKeys(step.what)
        sim.publishRoot()
        upstream.publish()
        return
      }
    }
  }

  /** A new version of `project` (good, or with an attacker's payload), its page listing every file. */
  #release(project: ProjectName, evil: boolean): DistFile {
    const state = this.#project(project)
    const file = wheelFile(capitalize(project), `0.${state.nextVersion++}`, evil ? 'import os  # attacker payload\n' : '')
    state.files.push(file)
    this.#publishPage(state)
    return file
  }

  #unpublish(project: ProjectName, file: DistFile): void {
    const state = this.#project(project)
    state.files = state.files.filter((candidate) => candidate !== file)
    delete this.sim.targetsOf(this.roleFor(project, file.path))[file.path]
    this.sim.invalidate(this.roleFor(project, file.path))
    this.#publishPage(state)
  }

  #publishPage(state: ProjectState): void {
    const page = this.upstream.publishProject((path) => this.roleFor(state.name, path), capitalize(state.name), state.files)
    this.pagesBySha256.set(createHash('sha256').update(page.bytes).digest('hex'), page.bytes)
  }

  #project(project: ProjectName): ProjectState {
    const state = this.projects.get(project)
    if (!state) throw new Error(`no project ${project}`)
    return state
  }
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1)
}
