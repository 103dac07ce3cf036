/**
 * The operator's supply-chain policy over releases: a cooldown (`min-release-age`) on a chosen
 * clock, deny and allow-only lists of projects and versions, and whether yanked files are shown.
 * Evidence in (a normalized project name, a file's version, its upload time or first-seen time,
 * `now`), a verdict out; the mirror applies it to every page and every download alike, so a lock
 * file or a direct URL cannot bypass what a page hides. Names are PEP 503 normalized by the caller.
 */
import { ProxyError } from '../base/index.js'
import { matchesSpecifiers, parseSpecifierSet, parseVersion, SpecifierError, type Specifier } from '../index/index.js'

export interface ReleasePolicyOptions {
  /** 0 = no cooldown */
  readonly minReleaseAgeSeconds: number
  readonly releaseAgeClock: 'upload-time' | 'first-seen'
  readonly missingUploadTime: 'deny' | 'allow'
  /** name globs the cooldown does not apply to */
  readonly exempt: readonly string[]
  /** name globs, optionally with a PEP 440 specifier set: `evil-*`, `requests==2.99.0` */
  readonly deny: readonly string[]
  /** when non-empty, only projects matching one of these globs are served */
  readonly allowOnly: readonly string[]
  readonly yanked: 'serve' | 'hide'
}

/** Why a file or project is refused: the stable reason in the 403/404, the log line and the metric. */
export type RefusalReason = 'too_new' | 'no_upload_time' | 'denied_by_policy' | 'yanked'

export type FileVerdict =
  | { readonly kind: 'serve'; /** when this verdict may change (a cooldown ends), else Infinity */ readonly recheckAtMs: number }
  | { readonly kind: 'refuse'; readonly reason: RefusalReason; readonly detail: string; /** too_new: when it becomes available */ readonly availableAtMs?: number }

export interface FileEvidence {
  /** PEP 440 version from the file name, undefined when it has none that parses */
  readonly version: string | undefined
  /** PEP 700 upload-time in ms, when the page gave one */
  readonly uploadTimeMs: number | undefined
  /** when this proxy first saw the file listed, under the first-seen clock */
  readonly firstSeenMs: number | undefined
  readonly isYanked: boolean
}

/** An operator's policy entry that cannot be used; names the key, as a ConfigError would. */
export class PolicyOptionError extends ProxyError {
  readonly code = 'config'
  readonly fault = 'bad_request'
}

/** A refusal by the policy: 403 for a file, 404 for a denied project's page (`fault`). */
export class PolicyRefusalError extends ProxyError {
  readonly fault: 'refused_by_policy' | 'not_found'
  /** too_new: when the file becomes available, and the seconds until then (RFC 9110 §10.2.3 Retry-After) */
  readonly availableAtMs: number | undefined
  readonly retryAfterSeconds: number | undefined
  constructor(
    readonly code: RefusalReason,
    message: string,
    options: { readonly availableAtMs?: number | undefined; readonly nowMs?: number; readonly isProjectPage?: boolean } = {},
  ) {
    super(message)
    this.fault = options.isProjectPage ? 'not_found' : 'refused_by_policy'
    this.availableAtMs = options.availableAtMs
    this.retryAfterSeconds = options.availableAtMs === undefined || options.nowMs === undefined ? undefined : Math.max(1, Math.ceil((options.availableAtMs - options.nowMs) / 1000))
  }
}

interface DenyRule {
  readonly text: string
  readonly name: RegExp
  /** undefined: the whole project */
  readonly specifiers: readonly Specifier[] | undefined
}

/**
 * A glob on PEP 503 normalized names (`*` any run of characters, `?` one), itself normalized, so
 * `Acme_*` and `acme-*` are the same rule.
 */
export function nameGlob(glob: string): RegExp {
  const normalized = glob.trim().replace(/[-_.]+/g, '-').toLowerCase()
  return new RegExp(`^${normalized.replace(/[+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
}

function compileNames(key: string, globs: readonly string[]): RegExp[] {
  return globs.map((glob, i) => {
    if (!/^[A-Za-z0-9._*?-]+$/.test(glob.trim())) throw new PolicyOptionError(`policy.${key}[${i}]: ${JSON.stringify(glob)} is not a project name or glob (letters, digits, . _ - and the wildcards * ?)`)
    return nameGlob(glob)
  })
}

function compileDeny(entries: readonly string[]): DenyRule[] {
  return entries.map((entry, i) => {
    const split = /^([^=!<>~\s]+)\s*(.*)$/.exec(entry.trim())
    const namePart = split?.[1] ?? ''
    const [name] = compileNames('deny', [namePart]).map((pattern) => pattern)
    const rest = split?.[2] ?? ''
    if (!name) throw new PolicyOptionError(`policy.deny[${i}]: ${JSON.stringify(entry)} names no project`)
    if (rest === '') return { text: entry, name, specifiers: undefined }
    try {
      return { text: entry, name, specifiers: parseSpecifierSet(rest) }
    } catch (error) {
      if (error instanceof SpecifierError) throw new PolicyOptionError(`policy.deny[${i}]: ${error.message}`, { cause: error })
      throw error
    }
  })
}

export class ReleasePolicy {
  readonly #exempt: readonly RegExp[]
  readonly #deny: readonly DenyRule[]
  readonly #allowOnly: readonly RegExp[]

  /** @throws PolicyOptionError naming the entry that cannot be used */
  constructor(readonly options: ReleasePolicyOptions) {
    if (!Number.isSafeInteger(options.minReleaseAgeSeconds) || options.minReleaseAgeSeconds < 0) throw new PolicyOptionError('policy.min-release-age: must be a non-negative duration')
    this.#exempt = compileNames('exempt', options.exempt)
    this.#deny = compileDeny(options.deny)
    this.#allowOnly = compileNames('allow-only', options.allowOnly)
  }

  /** Whether the policy needs the first-seen times of a project's files. */
  get needsFirstSeen(): boolean {
    return this.options.minReleaseAgeSeconds > 0 && this.options.releaseAgeClock === 'first-seen'
  }

  /**
   * Whether a project is served at all: not denied as a whole, and allowed under allow-only.
   * @returns undefined when it is, else the refusal's detail
   */
  projectRefusal(project: string): string | undefined {
    if (this.#allowOnly.length > 0 && !this.#allowOnly.some((pattern) => pattern.test(project))) return `${project} is not on policy.allow-only`
    const rule = this.#deny.find((deny) => deny.specifiers === undefined && deny.name.test(project))
    return rule ? `${project} is denied by policy.deny entry ${JSON.stringify(rule.text)}` : undefined
  }

  /** The verdict on one file of a project that projectRefusal() let through. */
  fileVerdict(project: string, file: FileEvidence, nowMs: number): FileVerdict {
    const versioned = this.#deny.filter((deny) => deny.specifiers !== undefined && deny.name.test(project))
    if (versioned.length > 0) {
      const parsed = file.version === undefined ? undefined : parseVersion(file.version)
      // Fail closed: a version rule cannot clear a file whose version it cannot read.
      if (!parsed || file.version === undefined) return refuse('denied_by_policy', `a policy.deny rule names versions of ${project}, and this file's version cannot be read`)
      const versionText = file.version
      // A deny rule names every version it matches, pre-releases included: a resolver's
      // §Handling of pre-releases default does not apply to what must never be served.
      const rule = versioned.find((deny) => matchesSpecifiers(versionText, deny.specifiers ?? [], { includePreReleases: true }))
      if (rule) return refuse('denied_by_policy', `${project} ${file.version} is denied by policy.deny entry ${JSON.stringify(rule.text)}`)
    }
    // PEP 592 keeps yanked files installable by exact pin; `hide` is the operator opting out of that.
    if (file.isYanked && this.options.yanked === 'hide') return refuse('yanked', `${project} ${file.version ?? ''} is yanked, and policy.yanked is hide`)
    const minAgeMs = this.options.minReleaseAgeSeconds * 1000
    if (minAgeMs === 0 || this.#exempt.some((pattern) => pattern.test(project))) return { kind: 'serve', recheckAtMs: Infinity }
    const releasedAtMs = this.options.releaseAgeClock === 'upload-time' ? file.uploadTimeMs : file.firstSeenMs
    if (releasedAtMs === undefined) {
      if (this.options.missingUploadTime === 'allow') return { kind: 'serve', recheckAtMs: Infinity }
      return refuse('no_upload_time', `the index gives no upload-time for this file of ${project}, and policy.missing-upload-time is deny`)
    }
    const availableAtMs = releasedAtMs + minAgeMs
    if (nowMs < availableAtMs) {
      return { kind: 'refuse', reason: 'too_new', availableAtMs, detail: `released ${new Date(releasedAtMs).toISOString()}; policy.min-release-age holds it until ${new Date(availableAtMs).toISOString()}` }
    }
    return { kind: 'serve', recheckAtMs: Infinity }
  }
}

function refuse(reason: RefusalReason, detail: string): FileVerdict {
  return { kind: 'refuse', reason, detail }
}
