/**
 * PEP 440 versions and version specifiers (the "Version specifiers" specification of the PyPA,
 * which PEP 440 became): parsing with the spec's normalizations, the total order of §"Summary of
 * permitted suffixes and relative ordering", and the comparison operators of §"Version
 * specifiers". Pure: it decides which versions a specifier such as `>=2,<3` admits; which files
 * that means is the caller's business (`mirror --project` selects with the spec's default
 * exclusion of pre-releases, a `policy.deny` rule refuses with pre-releases included).
 *
 * Deliberately not here: `===` beyond the spec's case-insensitive string equality, and legacy
 * (non-PEP 440) versions, which match no specifier but `===` (as in pip since 24.1).
 */

export interface Version {
  readonly epoch: number
  /** the release segment with trailing zeros removed (1.0.0 and 1 are equal; §Release segment) */
  readonly release: readonly number[]
  /** as written, for prefix matching, which pads with zeros itself */
  readonly releaseWritten: readonly number[]
  readonly pre: readonly ['a' | 'b' | 'rc', number] | undefined
  readonly post: number | undefined
  readonly dev: number | undefined
  /** §Local version identifiers: segments, numbers where all digits */
  readonly local: ReadonlyArray<number | string> | undefined
  /** the normalized form (§Normalization) */
  readonly text: string
}

// The spec's appendix regular expression, anchored, case-insensitive, with surrounding whitespace allowed.
const VERSION_PATTERN =
  /^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i

/** §Pre-release spelling: alpha → a, beta → b, c/pre/preview → rc. */
function normalizePreLabel(label: string): 'a' | 'b' | 'rc' {
  const lower = label.toLowerCase()
  if (lower === 'a' || lower === 'alpha') return 'a'
  if (lower === 'b' || lower === 'beta') return 'b'
  return 'rc'
}

function toNumber(digits: string): number {
  const value = Number(digits)
  // Larger segments exist only in hostile input; refusing them keeps the order exact.
  if (!Number.isSafeInteger(value)) throw new RangeError(`version segment ${digits} is too large`)
  return value
}

/** The version, or undefined when `text` is not a PEP 440 version. */
export function parseVersion(text: string): Version | undefined {
  const match = VERSION_PATTERN.exec(text)
  if (!match) return undefined
  try {
    const epoch = match[1] === undefined ? 0 : toNumber(match[1])
    const releaseWritten = (match[2] ?? '0').split('.').map(toNumber)
    const release = [...releaseWritten]
    while (release.length > 1 && release[release.length - 1] === 0) release.pop()
    // §Implicit pre-release number: `1.0a` is `1.0a0`; §Implicit post-release number likewise.
    const pre = match[3] === undefined ? undefined : ([normalizePreLabel(match[3]), match[4] === undefined ? 0 : toNumber(match[4])] as const)
    const post = match[5] !== undefined ? toNumber(match[5]) : match[6] !== undefined ? (match[7] === undefined ? 0 : toNumber(match[7])) : undefined
    const dev = match[8] === undefined ? undefined : match[9] === undefined ? 0 : toNumber(match[9])
    // §Local version segments: `-` and `_` normalize to `.`, all-digit segments compare as numbers.
    const local = match[10]?.toLowerCase().split(/[-_.]/).map((part) => (/^\d+$/.test(part) ? toNumber(part) : part))
    const text = [
      epoch !== 0 ? `${epoch}!` : '',
      releaseWritten.join('.'),
      pre ? `${pre[0]}${pre[1]}` : '',
      post !== undefined ? `.post${post}` : '',
      dev !== undefined ? `.dev${dev}` : '',
      local ? `+${local.join('.')}` : '',
    ].join('')
    return { epoch, release, releaseWritten, pre, post, dev, local, text }
  } catch {
    return undefined
  }
}

/**
 * A key equal for exactly the versions that compare equal (§Release segment: `1.0` and `1.0.0`;
 * §Normalization: `1.0-a1` and `1.0a1`); a text that is not PEP 440 is its own key, compared as
 * written but without case, as installers compare legacy versions.
 */
export function versionKey(text: string): string {
  const version = parseVersion(text)
  if (!version) return `legacy:${text.trim().toLowerCase()}`
  const { epoch, release, pre, post, dev, local } = version
  return `${epoch}!${release.join('.')}${pre ? `${pre[0]}${pre[1]}` : ''}${post !== undefined ? `.post${post}` : ''}${dev !== undefined ? `.dev${dev}` : ''}${local ? `+${local.join('.')}` : ''}`
}

export function isPreRelease(version: Version): boolean {
  return version.pre !== undefined || version.dev !== undefined
}

const PRE_ORDER = { a: 0, b: 1, rc: 2 } as const

function compareNumbers(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0)
    if (diff !== 0) return Math.sign(diff)
  }
  return 0
}

/**
 * The pre-release key of §Summary of permitted suffixes: `1.0.dev0 < 1.0a0 < 1.0 < 1.0.post0`,
 * and a dev release of a final release comes before its pre-releases.
 */
function preKey(version: Version): number[] {
  if (version.pre) return [0, PRE_ORDER[version.pre[0]], version.pre[1]]
  if (version.dev !== undefined && version.post === undefined) return [-1]
  return [1]
}

function compareLocal(a: Version['local'], b: Version['local']): number {
  // §Local version identifiers: a version without a local label sorts before one with it.
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1
    if (x === y) continue
    // Numeric segments sort after alphanumeric ones; like kinds compare naturally.
    if (typeof x !== typeof y) return typeof x === 'number' ? 1 : -1
    return x < y ? -1 : 1
  }
  return 0
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareVersions(a: Version, b: Version, options: { ignoreLocal?: boolean } = {}): number {
  return (
    Math.sign(a.epoch - b.epoch) ||
    compareNumbers(a.release, b.release) ||
    compareNumbers(preKey(a), preKey(b)) ||
    compareNumbers([a.post === undefined ? -1 : a.post], [b.post === undefined ? -1 : b.post]) ||
    compareNumbers([a.dev === undefined ? Infinity : a.dev], [b.dev === undefined ? Infinity : b.dev]) ||
    (options.ignoreLocal ? 0 : compareLocal(a.local, b.local))
  )
}

type Operator = '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '==='

export interface Specifier {
  readonly operator: Operator
  readonly version: Version | undefined
  /** the version as written (for `===`, and messages) */
  readonly text: string
  /** `==1.*` / `!=1.*` */
  readonly isPrefix: boolean
}

export class SpecifierError extends Error {
  override readonly name = 'SpecifierError'
}

const CLAUSE_PATTERN = /^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;<>=!~][^\s,;]*)\s*$/

/**
 * Parses a comma-separated specifier set such as `>=2,<3` (§Version specifiers). An empty string
 * is the empty set, which admits every version.
 * @throws SpecifierError naming the clause that is not a specifier
 */
export function parseSpecifierSet(text: string): readonly Specifier[] {
  if (text.trim() === '') return []
  return text.split(',').map((clause) => {
    const match = CLAUSE_PATTERN.exec(clause)
    if (!match) throw new SpecifierError(`${JSON.stringify(clause.trim())} is not a version specifier (write e.g. >=2,<3)`)
    const operator = match[1] as Operator
    const written = match[2] ?? ''
    if (operator === '===') return { operator, version: parseVersion(written), text: written, isPrefix: false }
    const isPrefix = written.endsWith('.*')
    // §Version matching: `.*` only with == and !=, and never after a local label.
    if (isPrefix && operator !== '==' && operator !== '!=') throw new SpecifierError(`${clause.trim()}: a trailing .* is allowed only with == and !=`)
    const version = parseVersion(isPrefix ? written.slice(0, -2) : written)
    if (!version) throw new SpecifierError(`${JSON.stringify(written)} in ${JSON.stringify(clause.trim())} is not a PEP 440 version`)
    if (version.local && (isPrefix || !['==', '!=', '==='].includes(operator))) throw new SpecifierError(`${clause.trim()}: a local version label is allowed only with == and !=`)
    // §Compatible release: `~=1` is not allowed; at least two release segments.
    if (operator === '~=' && version.releaseWritten.length < 2) throw new SpecifierError(`${clause.trim()}: ~= needs at least two release segments, as in ~=1.0`)
    return { operator, version, text: written, isPrefix }
  })
}

/** §Version matching with a trailing `.*`: the candidate's public version begins with the prefix, release padded with zeros. */
function matchesPrefix(candidate: Version, prefix: Version): boolean {
  if (candidate.epoch !== prefix.epoch) return false
  const wanted = prefix.releaseWritten
  const have = wanted.map((_, i) => candidate.releaseWritten[i] ?? 0)
  if (compareNumbers(have, wanted) !== 0) return false
  const hasSuffix = prefix.pre !== undefined || prefix.post !== undefined || prefix.dev !== undefined
  if (!hasSuffix) return true
  // A prefix with a suffix (`==1.0rc1.*`) matches that exact public version's dev and post releases.
  if (candidate.releaseWritten.length > wanted.length && candidate.releaseWritten.slice(wanted.length).some((n) => n !== 0)) return false
  return JSON.stringify(candidate.pre) === JSON.stringify(prefix.pre) && (prefix.post === undefined || candidate.post === prefix.post) && (prefix.dev === undefined || candidate.dev === prefix.dev)
}

/** §Arbitrary equality: a case-insensitive string comparison, nothing more. */
function isArbitraryEqual(candidateText: string, spec: Specifier): boolean {
  return candidateText.trim().toLowerCase() === spec.text.toLowerCase()
}

function matchesOne(candidate: Version, spec: Specifier, candidateText: string): boolean {
  const { version } = spec
  if (spec.operator === '===') return isArbitraryEqual(candidateText, spec)
  if (!version) return false
  // §Version matching: a specifier without a local label ignores the candidate's.
  const ignoreLocal = version.local === undefined
  const cmp = compareVersions(candidate, version, { ignoreLocal })
  switch (spec.operator) {
    case '==':
      return spec.isPrefix ? matchesPrefix(candidate, version) : cmp === 0
    case '!=':
      return spec.isPrefix ? !matchesPrefix(candidate, version) : cmp !== 0
    case '<=':
      return cmp <= 0
    case '>=':
      return cmp >= 0
    case '<': {
      // §Exclusive ordered comparison: `<V` excludes pre-releases of V unless V is one.
      if (cmp >= 0) return false
      if (!isPreRelease(version) && isPreRelease(candidate) && sameRelease(candidate, version)) return false
      return true
    }
    case '>': {
      // §Exclusive ordered comparison: `>V` "MUST NOT allow a post-release of the given version
      // unless V itself is a post release", nor a local version of V. A post-release of V has V's
      // epoch, release and pre-release: 1.7rc1.post1 is one of 1.7rc1, 1.7.post1 is not.
      if (compareVersions(candidate, version, { ignoreLocal: true }) <= 0) return false
      const isPostOfVersion = candidate.post !== undefined && sameRelease(candidate, version) && candidate.pre?.[0] === version.pre?.[0] && candidate.pre?.[1] === version.pre?.[1]
      return version.post !== undefined || !isPostOfVersion
    }
    case '~=': {
      // §Compatible release: `~=V.N` is `>=V.N, ==V.*`.
      const prefix = parseVersion(`${version.epoch}!${version.releaseWritten.slice(0, -1).join('.')}`)
      return cmp >= 0 && prefix !== undefined && matchesPrefix(candidate, prefix)
    }
  }
}

function sameRelease(a: Version, b: Version): boolean {
  return a.epoch === b.epoch && compareNumbers(a.release, b.release) === 0
}

/**
 * Whether `versionText` satisfies every clause of `specifiers`. Pre-releases (and dev releases)
 * are admitted only when a clause names one or `includePreReleases` is set (§Handling of
 * pre-releases: tools "SHOULD exclude all other pre-releases from consideration" by default).
 */
export function matchesSpecifiers(versionText: string, specifiers: readonly Specifier[], options: { includePreReleases?: boolean } = {}): boolean {
  const candidate = parseVersion(versionText)
  if (!candidate) return specifiers.length > 0 && specifiers.every((spec) => spec.operator === '===' && isArbitraryEqual(versionText, spec))
  const admitsPre = options.includePreReleases ?? specifiers.some((spec) => spec.version !== undefined && isPreRelease(spec.version) && spec.operator !== '!=')
  if (isPreRelease(candidate) && !admitsPre && specifiers.length > 0) return false
  return specifiers.every((spec) => matchesOne(candidate, spec, versionText))
}
