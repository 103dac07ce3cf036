/**
 * Several sources behind one index, safe against dependency confusion (PEP 470's "register a
 * private package name publicly"): one source per project, never a merge. A project is asked of
 * the sources its route names (first matching `routes:` entry), or else of the private sources in
 * their order and then the public ones; the first that has it owns it, and the ownership is
 * recorded on disk. From then on only the owner is asked: when it is down, its cached copy is
 * served or the request fails (fail closed), and a name a private source has is never sent to a
 * public one. The release policy filters every page and every download here, so no client
 * (a lock file, a direct URL) can step around it.
 *
 * Sources fetch and cache; policy/ decides; this file owns ownership, the merged project list,
 * and rendering the filtered pages.
 */
import { describeError, errorCode, sha256Hex, type Clock, type Logger } from '../../base/index.js'
import { contentTypeOf, fileVersion, normalizeName, versionKey, renderProjectListHtml, renderProjectListJson, type ProjectFile, type ProjectPage, type SimpleFormat } from '../../index/index.js'
import { PolicyRefusalError, nameGlob, type FileVerdict, type RefusalReason, type ReleasePolicy } from '../../policy/index.js'
import { SingleFlight } from '../coalesce.js'
import { NotFoundError } from '../errors.js'
import type { FileResult } from '../files.js'
import type { PageService } from '../page-service.js'
import { representationEtag } from '../page-etag.js'
import { quarantinedError } from '../project-files.js'
import { isQuarantined, proxied, renderPage, type CacheStatus, type PageRefresh, type RenderedPage } from '../simple-pages.js'
import type { FirstSeen } from './first-seen.js'
import type { OwnershipRecords } from './ownership.js'
import type { Collision, PolicyLog, Refusal } from './policy-log.js'
import type { Source, SourceNames, SourcePage } from './source.js'

export interface Route {
  /** globs on normalized names: `*` any run, `?` one character */
  readonly projects: readonly string[]
  /** source names, in the order they are asked */
  readonly sources: readonly string[]
}

export interface SourceRouterDeps {
  readonly sources: readonly Source[]
  readonly routes: readonly Route[]
  readonly policy: ReleasePolicy | undefined
  readonly ownership: OwnershipRecords
  readonly firstSeen: FirstSeen
  readonly policyLog: PolicyLog
  readonly clock: Clock
  readonly logger: Logger
}

/** A page filtered by the policy, and its renderings so far. */
interface Filtered {
  readonly project: string
  readonly source: string
  readonly identity: string
  readonly page: ProjectPage
  readonly serial: number | undefined
  /** when a cooldown ends and the filtering must be done again */
  readonly recheckAtMs: number
  readonly files: ReadonlyMap<string, { readonly file: ProjectFile; readonly verdict: FileVerdict }>
  readonly rendered: Map<SimpleFormat, { readonly body: Uint8Array; readonly etag: string; answers: Partial<Record<CacheStatus, RenderedPage>> }>
}

interface MergedList {
  readonly identity: string
  readonly rendered: Map<SimpleFormat, { readonly body: Uint8Array; readonly etag: string }>
}

/** PEP 658: the core metadata of `<file>` is served at `<file>.metadata`. */
const METADATA_SUFFIX = '.metadata'

export class SourceRouter implements PageService {
  readonly #byName: ReadonlyMap<string, Source>
  readonly #routes: ReadonlyArray<{ readonly patterns: readonly RegExp[]; readonly sources: readonly Source[] }>
  readonly #defaultOrder: readonly Source[]
  readonly #owners = new SingleFlight<Source>()
  readonly #filtered = new Map<string, Filtered>()
  #merged: MergedList | undefined

  constructor(private readonly deps: SourceRouterDeps) {
    this.#byName = new Map(deps.sources.map((source) => [source.name, source]))
    this.#routes = deps.routes.map((route) => ({
      patterns: route.projects.map(nameGlob),
      sources: route.sources.map((name) => {
        const source = this.#byName.get(name)
        if (!source) throw new Error(`route names unknown source ${JSON.stringify(name)}; config/ checks this`)
        return source
      }),
    }))
    // Without a route, private sources are asked first whatever their place in the list: a name a
    // private source has is then never sent to a public one.
    this.#defaultOrder = [...deps.sources.filter((source) => !source.isPublic), ...deps.sources.filter((source) => source.isPublic)]
  }

  async index(format: SimpleFormat): Promise<RenderedPage> {
    const lists = await Promise.allSettled(this.deps.sources.map((source) => source.names()))
    const answered: Array<{ source: Source; names: SourceNames }> = []
    lists.forEach((result, i) => {
      const source = this.deps.sources[i]
      if (!source) return
      if (result.status === 'fulfilled') answered.push({ source, names: result.value })
      // A list is a list: one source's outage costs its names, not the whole index.
      else this.deps.logger.warn('source_list_failed', { source: source.name, code: errorCode(result.reason), detail: describeError(result.reason) })
    })
    if (answered.length === 0) throw lists.find((result) => result.status === 'rejected')?.reason
    const cache: CacheStatus = answered.length < lists.length || answered.some(({ names }) => names.cache === 'STALE') ? 'STALE' : answered.some(({ names }) => names.cache === 'MISS') ? 'MISS' : 'HIT'
    const identity = answered.map(({ source, names }) => `${source.name}:${names.identity}`).join('\n')
    if (this.#merged?.identity !== identity) this.#merged = this.#merge(identity, answered)
    const rendered = this.#merged.rendered.get(format)
    if (!rendered) throw new Error(`no ${format} rendering of the merged project list`)
    return { body: rendered.body, etag: rendered.etag, contentType: contentTypeOf(format), cache, serial: undefined }
  }

  /**
   * The union of the sources' lists, each name once, without the projects the policy denies; and
   * every private name a public list holds too is recorded as a collision. The public lists are
   * fetched whole, so finding collisions this way sends no name anywhere.
   */
  #merge(identity: string, answered: ReadonlyArray<{ source: Source; names: SourceNames }>): MergedList {
    const privateOwners = new Map<string, string>()
    for (const { source, names } of answered) if (!source.isPublic) for (const name of names.names) if (!privateOwners.has(normalizeName(name))) privateOwners.set(normalizeName(name), source.name)
    for (const [project, ownership] of this.deps.ownership.entries()) if (this.#byName.get(ownership.source)?.isPublic === false && !privateOwners.has(project)) privateOwners.set(project, ownership.source)
    const union = new Map<string, string>()
    for (const { source, names } of answered) {
      for (const name of names.names) {
        const project = normalizeName(name)
        const privateSource = privateOwners.get(project)
        if (source.isPublic && privateSource !== undefined) this.deps.policyLog.collision({ project, privateSource, publicSource: source.name })
        if (union.has(project) || this.deps.policy?.projectRefusal(project) !== undefined) continue
        union.set(project, name)
      }
    }
    const list = { meta: { apiVersion: '1.1' }, projects: [...union.values()].map((name) => ({ name })) }
    const html = Buffer.from(renderProjectListHtml(list), 'utf8')
    const json = Buffer.from(renderProjectListJson(list), 'utf8')
    const htmlSha = sha256Hex(html)
    return {
      identity,
      rendered: new Map([
        ['text-html', { body: html, etag: representationEtag('text-html', htmlSha) }],
        ['html-v1', { body: html, etag: representationEtag('html-v1', htmlSha) }],
        ['json-v1', { body: json, etag: representationEtag('json-v1', sha256Hex(json)) }],
      ]),
    }
  }

  async project(project: string, format: SimpleFormat, options?: { readonly revalidate?: boolean }): Promise<RenderedPage> {
    this.#checkProject(project, undefined)
    const { source: owner, isProbed } = await this.#owner(project)
    // A probe just fetched the page: asking again at once would only repeat the request.
    const sourcePage = await owner.page(project, { revalidate: (options?.revalidate ?? false) && !isProbed })
    const filtered = await this.#filter(project, owner, sourcePage)
    // The probe fetched the page this answer is made from: a first answer is a miss.
    return answer(filtered, format, isProbed && sourcePage.cache === 'HIT' ? 'MISS' : sourcePage.cache)
  }

  peekFresh(key: string, format: SimpleFormat): RenderedPage | undefined {
    if (key === '' || this.deps.policy?.projectRefusal(key) !== undefined) return undefined
    const ownership = this.deps.ownership.peek(key)
    const owner = ownership && this.#byName.get(ownership.source)
    if (!owner || !this.#candidates(key).includes(owner)) return undefined
    const filtered = this.#filtered.get(key)
    if (!filtered || filtered.source !== owner.name || this.deps.clock.nowMs() >= filtered.recheckAtMs) return undefined
    const sourcePage = owner.peekPage(key)
    if (!sourcePage || sourcePage.identity !== filtered.identity) return undefined
    return answer(filtered, format, 'HIT')
  }

  /**
   * A distribution file or its `.metadata`, from the project's owner, if the policy allows the
   * distribution. A file no page lists is not fetched (the proxy is no open relay).
   * @throws PolicyRefusalError (403), NotFoundError, and whatever the owner's file() throws
   */
  async file(project: string, fileName: string): Promise<FileResult> {
    this.#checkProject(project, fileName)
    const { source: owner } = await this.#owner(project)
    const sourcePage = await owner.page(project)
    if (isQuarantined(sourcePage.page)) throw quarantinedError(project)
    const filtered = await this.#filter(project, owner, sourcePage)
    const distribution = fileName.endsWith(METADATA_SUFFIX) && !filtered.files.has(fileName) ? fileName.slice(0, -METADATA_SUFFIX.length) : fileName
    const entry = filtered.files.get(distribution)
    if (!entry || (distribution !== fileName && entry.file.coreMetadata === false)) throw new NotFoundError(`project ${project} lists no file ${JSON.stringify(fileName)}`)
    const { verdict } = entry
    if (verdict.kind === 'refuse') {
      this.#refuse({ reason: verdict.reason, project, file: fileName, detail: verdict.detail })
      throw new PolicyRefusalError(verdict.reason, `${fileName}: ${verdict.detail}`, { availableAtMs: verdict.availableAtMs, nowMs: this.deps.clock.nowMs() })
    }
    return owner.file(project, fileName, entry.file)
  }

  /**
   * Revalidates the owner's page now (the admin API's refresh); a project no source has yet is
   * resolved first, as a request would. Never throws: a failure is the refresh's outcome.
   * @returns the refresh and the owner it asked, undefined when none could be found
   */
  async refresh(project: string): Promise<{ readonly source: string | undefined; readonly refresh: PageRefresh }> {
    let owner: Source
    try {
      owner = (await this.#owner(project)).source
    } catch (error) {
      return { source: undefined, refresh: { outcome: 'failed', error, isLastGoodKept: false } }
    }
    return { source: owner.name, refresh: await owner.refresh(project, this.deps.clock.nowMs()) }
  }

  /** Drops the filtered page held in memory (the admin API's purge); the sources forget their own. */
  forget(project: string): void {
    this.#filtered.delete(project)
  }

  status(): { readonly sources: ReadonlyArray<{ name: string; public: boolean }>; readonly refusals: readonly Refusal[]; readonly collisions: readonly Collision[] } {
    return { sources: this.deps.sources.map((source) => ({ name: source.name, public: source.isPublic })), ...this.deps.policyLog.recent() }
  }

  /** @throws PolicyRefusalError: a denied project's page is a 404 and its files a 403 */
  #checkProject(project: string, fileName: string | undefined): void {
    const detail = this.deps.policy?.projectRefusal(project)
    if (detail === undefined) return
    this.#refuse({ reason: 'denied_by_policy', project, file: fileName, detail })
    throw new PolicyRefusalError('denied_by_policy', detail, { isProjectPage: fileName === undefined })
  }

  #refuse(refusal: Omit<Refusal, 'atMs' | 'reason'> & { reason: RefusalReason }): void {
    this.deps.policyLog.refusal(refusal)
  }

  /** The sources a project may come from, in the order they are asked. */
  #candidates(project: string): readonly Source[] {
    return this.#routes.find((route) => route.patterns.some((pattern) => pattern.test(project)))?.sources ?? this.#defaultOrder
  }

  /**
   * The source that owns the project: the recorded one while it is still a candidate, else the
   * first candidate that has it. A candidate that cannot answer stops the search (fail closed):
   * whether it has the project is unknown, so no later source may be asked.
   * @throws NotFoundError when no candidate has it; the failing candidate's error otherwise
   */
  async #owner(project: string): Promise<{ source: Source; isProbed: boolean }> {
    const candidates = this.#candidates(project)
    const recorded = await this.deps.ownership.get(project)
    const owner = recorded && candidates.find((source) => source.name === recorded.source)
    if (owner) {
      const taken = owner.isPublic ? await this.#privateClaim(project, candidates.slice(0, candidates.indexOf(owner)), owner) : undefined
      return taken ? { source: taken, isProbed: true } : { source: owner, isProbed: false }
    }
    const source = await this.#owners.run(project, async () => {
      if (recorded) this.deps.logger.warn('owner_not_routed', { project, source: recorded.source, detail: 'the recorded owner is no longer a source for this project; asking its sources again' })
      for (const source of candidates) {
        let has: boolean
        try {
          has = await source.has(project)
        } catch (error) {
          this.deps.logger.warn('owner_unknown', { project, source: source.name, code: errorCode(error), detail: `the source cannot answer, so no later source is asked: ${describeError(error)}` })
          throw error
        }
        if (!has) continue
        await this.deps.ownership.set(project, source.name, this.deps.clock.nowMs())
        this.deps.logger.info('owner_recorded', { project, source: source.name })
        return source
      }
      throw new NotFoundError(`no source has a project ${JSON.stringify(project)}`)
    })
    return { source, isProbed: true }
  }

  /**
   * A public owner is on record because every private source before it once said it lacks the
   * project; one 404 from a private index (a rebuild, a permissions slip) must not hand the name to
   * the public index for good. So the private sources before it are asked again whenever the
   * project is resolved off the hot path (their answers, 404s included, are cached for the index
   * TTL, so this costs no request most of the time), and the first that has it now takes the
   * project back. A private source that cannot answer is passed over here: the name was checked
   * absent from it before, and failing every public project while a private index is down would
   * take the whole mirror with it.
   * @returns the private source that now owns the project, if one has it
   */
  async #privateClaim(project: string, before: readonly Source[], publicOwner: Source): Promise<Source | undefined> {
    for (const source of before) {
      if (source.isPublic) continue
      let has: boolean
      try {
        has = await source.has(project)
      } catch (error) {
        this.deps.logger.warn('owner_recheck_failed', { project, source: source.name, owner: publicOwner.name, code: errorCode(error), detail: describeError(error) })
        continue
      }
      if (!has) continue
      await this.deps.ownership.set(project, source.name, this.deps.clock.nowMs())
      this.deps.logger.warn('owner_changed', { project, from: publicOwner.name, to: source.name, detail: 'a private source has the project now: it owns it, and the public copy is no longer served' })
      return source
    }
    return undefined
  }

  /** The owner's page with the policy applied, done again when the page changes or a cooldown ends. */
  async #filter(project: string, owner: Source, sourcePage: SourcePage): Promise<Filtered> {
    const nowMs = this.deps.clock.nowMs()
    const known = this.#filtered.get(project)
    if (known && known.source === owner.name && known.identity === sourcePage.identity && nowMs < known.recheckAtMs) return known
    const { page } = sourcePage
    const policy = this.deps.policy
    const firstSeen = policy?.needsFirstSeen ? await this.deps.firstSeen.observe(project, page.files.map((file) => file.filename), nowMs) : undefined
    const files = new Map<string, { file: ProjectFile; verdict: FileVerdict }>()
    const kept: ProjectFile[] = []
    const hidden = new Map<RefusalReason, string[]>()
    let recheckAtMs = Infinity
    for (const file of page.files) {
      const verdict: FileVerdict = policy
        ? policy.fileVerdict(
            project,
            { version: fileVersion(project, file.filename), uploadTimeMs: uploadTimeMs(file.uploadTime), firstSeenMs: firstSeen?.get(file.filename), isYanked: file.yanked !== false },
            nowMs,
          )
        : { kind: 'serve', recheckAtMs: Infinity }
      files.set(file.filename, { file, verdict })
      if (verdict.kind === 'serve') {
        kept.push(file)
        continue
      }
      if (verdict.availableAtMs !== undefined) recheckAtMs = Math.min(recheckAtMs, verdict.availableAtMs)
      const names = hidden.get(verdict.reason) ?? []
      names.push(file.filename)
      hidden.set(verdict.reason, names)
    }
    for (const [reason, names] of hidden) {
      this.#refuse({ reason, project, file: undefined, detail: `${names.length} file(s) hidden from the page: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}` })
    }
    const filtered: Filtered = {
      project,
      source: owner.name,
      identity: sourcePage.identity,
      page: kept.length === page.files.length ? page : { ...page, files: kept, ...(page.versions ? { versions: keptVersions(project, page, kept) } : {}) },
      serial: sourcePage.serial,
      recheckAtMs,
      files,
      rendered: new Map(),
    }
    this.#filtered.set(project, filtered)
    return filtered
  }
}

/**
 * PEP 700 `versions`: a version all of whose files are hidden is hidden too. Versions are matched
 * as PEP 440 compares them, since the list and the file names may spell one version differently
 * (`1.0` beside `x-1.0.0.tar.gz`).
 */
function keptVersions(project: string, page: ProjectPage, kept: readonly ProjectFile[]): string[] {
  const keyOf = (file: ProjectFile) => {
    const version = fileVersion(project, file.filename)
    return version === undefined ? undefined : versionKey(version)
  }
  const listed = new Set(page.files.map(keyOf))
  const remaining = new Set(kept.map(keyOf))
  return (page.versions ?? []).filter((version) => !listed.has(versionKey(version)) || remaining.has(versionKey(version)))
}

function uploadTimeMs(uploadTime: string | undefined): number | undefined {
  if (uploadTime === undefined) return undefined
  const ms = Date.parse(uploadTime)
  return Number.isFinite(ms) ? ms : undefined
}

function answer(filtered: Filtered, format: SimpleFormat, cache: CacheStatus): RenderedPage {
  let rendered = filtered.rendered.get(format)
  if (!rendered) {
    const body = Buffer.from(renderPage(proxied(filtered.project, filtered.page), format), 'utf8')
    rendered = { body, etag: representationEtag(format, sha256Hex(body)), answers: {} }
    filtered.rendered.set(format, rendered)
  }
  const known = rendered.answers[cache]
  if (known) return known
  const page: RenderedPage = { body: rendered.body, etag: rendered.etag, contentType: contentTypeOf(format), cache, serial: filtered.serial }
  rendered.answers[cache] = page
  return page
}
