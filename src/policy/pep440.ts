/**
 * PEP 440 versions and version specifiers, as far as a deny rule needs them: parse a version
 * into its normalized parts, order two versions, and test a version against a specifier set
 * (`==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`, `===`, and `.*` prefix matching). It decides nothing
 * about what to install; a resolver's pre-release preferences are deliberately absent, because a
 * deny rule must match every version it names, pre-releases included.
 */

export interface Version {
  readonly epoch: number
  readonly release: readonly number[]
  /** PEP 440 "Pre-releases": a, b or rc with its number */
  readonly pre: readonly ['a' | 'b' | 'rc', number] | undefined
  readonly post: number | undefined
  readonly dev: number | undefined
  /** PEP 440 "Local version identifiers", lower-cased, split on separators */
  readonly local: readonly (number | string)[] | undefined
}

// PEP 440 Appendix B: the canonical regular expression, case-insensitive, surrounding whitespace allowed.
const VERSION_PATTERN =
  /^\s*v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?)(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i

/** PEP 440 "Pre-release spelling": alpha → a, beta → b, c / pre / preview → rc. */
function preLetter(text: string): 'a' | 'b' | 'rc' {
  const lower = text.toLowerCase()
  if (lower === 'a' || lower === 'alpha') return 'a'
  if (lower === 'b' || lower === 'beta') return 'b'
  return 'rc'
}

/** @returns the parsed version, or undefined when `text` is not a PEP 440 version */
export function parseVersion(text: string): Version | undefined {
  const groups = VERSION_PATTERN.exec(text)?.groups
  if (!groups) return undefined
  const release = (groups.release ?? '').split('.').map(Number)
  const pre = groups.pre_l === undefined ? undefined : ([preLetter(groups.pre_l), Number(groups.pre_n ?? 0)] as const)
  // PEP 440 "Implicit post release number" and the "1.0-1" form.
  const post = groups.post === undefined ? undefined : Number(groups.post_n1 ?? groups.post_n2 ?? 0)
  const dev = groups.dev === undefined ? undefined : Number(groups.dev_n ?? 0)
  const local = groups.local === undefined ? undefined : groups.local.toLowerCase().split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? Number(part) : part))
  return { epoch: Number(groups.epoch ?? 0), release, pre, post, dev, local }
}

function compareRelease(a: readonly number[], b: readonly number[]): number {
  // PEP 440 "Release segment": trailing zeros are insignificant (1.0 == 1.0.0).
  const length = Math.max(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0)
    if (difference !== 0) return Math.sign(difference)
  }
  return 0
}

const PRE_RANK: Readonly<Record<'a' | 'b' | 'rc', number>> = { a: 0, b: 1, rc: 2 }

/** A sort key per segment: absent pre/post/dev sort as the spec's summary ordering says. */
function preKey(version: Version): number[] {
  // PEP 440 "Summary of permitted suffixes and relative ordering": X.devN < X.aN < X.bN < X.rcN < X < X.postN.
  if (version.pre === undefined && version.post === undefined && version.dev !== undefined) return [-1, 0]
  if (version.pre === undefined) return [3, 0]
  return [PRE_RANK[version.pre[0]], version.pre[1]]
}

function compareLists(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0)
    if (difference !== 0) return Math.sign(difference)
  }
  return 0
}

function compareLocal(a: Version['local'], b: Version['local']): number {
  // PEP 440 "Local version identifiers": a version with a local part sorts after one without;
  // numeric segments compare numerically and sort after alphanumeric ones; a shorter prefix sorts first.
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? -1 : 1
    if (typeof x !== typeof y) return typeof x === 'number' ? 1 : -1
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/** @returns negative, zero or positive as `a` orders before, equal to or after `b` (PEP 440 ordering). */
export function compareVersions(a: Version, b: Version): number {
  return (
    Math.sign(a.epoch - b.epoch) ||
    compareRelease(a.release, b.release) ||
    compareLists(preKey(a), preKey(b)) ||
    compareLists([a.post === undefined ? -1 : a.post], [b.post === undefined ? -1 : b.post]) ||
    compareLists([a.dev === undefined ? Infinity : a.dev], [b.dev === undefined ? Infinity : b.dev]) ||
    compareLocal(a.local, b.local)
  )
}

function withoutLocal(version: Version): Version {
  return { ...version, local: undefined }
}

function isPreRelease(version: Version): boolean {
  return version.pre !== undefined || version.dev !== undefined
}

export type Operator = '==' | '!=' | '<' | '<=' | '>' | '>=' | '~=' | '==='

export interface Specifier {
  readonly operator: Operator
  /** as written, for messages and `===` */
  readonly text: string
  /** undefined only for `===` with a non-PEP 440 string */
  readonly version: Version | undefined
  /** `==1.2.*` / `!=1.2.*`: the release prefix to match */
  readonly prefix: readonly number[] | undefined
}

const SPECIFIER_PATTERN = /^\s*(===|==|!=|<=|>=|~=|<|>)\s*([^\s,;]+)\s*$/

/**
 * Parses one clause such as `>=1.0` or `==2.*`.
 * @returns the specifier, or a sentence saying what is wrong with it
 */
export function parseSpecifier(text: string): Specifier | string {
  const match = SPECIFIER_PATTERN.exec(text)
  if (!match) return `${JSON.stringify(text.trim())} is not a PEP 440 version specifier (such as ==1.0, >=2, ~=1.4.2, !=1.3.*)`
  const operator = match[1] as Operator
  const written = match[2] ?? ''
  if (operator === '===') return { operator, text: written, version: parseVersion(written), prefix: undefined }
  if (written.endsWith('.*')) {
    // PEP 440 "Version matching": prefix matching only with == and !=, on a public release.
    if (operator !== '==' && operator !== '!=') return `${operator}${written}: a trailing .* is allowed only with == and !=`
    const base = parseVersion(written.slice(0, -2))
    if (!base || base.local !== undefined) return `${operator}${written}: ${JSON.stringify(written.slice(0, -2))} is not a PEP 440 public version`
    return { operator, text: written, version: base, prefix: prefixParts(base) }
  }
  const version = parseVersion(written)
  if (!version) return `${operator}${written}: ${JSON.stringify(written)} is not a PEP 440 version`
  if (version.local !== undefined && operator !== '==' && operator !== '!=') return `${operator}${written}: a local version label is allowed only with == and !=`
  // PEP 440 "Compatible release": ~=V.N needs at least two release segments.
  if (operator === '~=' && version.release.length < 2) return `~=${written}: a compatible-release clause needs at least two release segments (e.g. ~=2.2)`
  return { operator, text: written, version, prefix: undefined }
}

/** The prefix `==1.2rc1.*` compares: epoch, release, then the pre/post/dev parts as written. */
function prefixParts(version: Version): number[] {
  const parts = [version.epoch, ...version.release]
  if (version.pre) parts.push(-10 + PRE_RANK[version.pre[0]], version.pre[1])
  if (version.post !== undefined) parts.push(-2, version.post)
  if (version.dev !== undefined) parts.push(-20, version.dev)
  return parts
}

function matchesPrefix(version: Version, prefix: readonly number[]): boolean {
  // PEP 440 "Version matching": the candidate is zero-padded to the prefix's release length.
  const releaseLength = prefix.length - 1
  const padded = { ...version, release: [...version.release, ...Array<number>(Math.max(0, releaseLength - version.release.length)).fill(0)] }
  const parts = prefixParts(withoutLocal(padded))
  return prefix.every((part, i) => parts[i] === part)
}

/** Whether `version` satisfies one clause (PEP 440 "Version specifiers"). */
export function satisfies(version: Version, specifier: Specifier, versionText: string): boolean {
  const target = specifier.version
  switch (specifier.operator) {
    case '===':
      // PEP 440 "Arbitrary equality": a plain, case-insensitive string comparison.
      return versionText.trim().toLowerCase() === specifier.text.toLowerCase()
    case '==':
    case '!=': {
      if (target === undefined) return false
      // A candidate's local label is ignored unless the specifier names one.
      const isEqual = specifier.prefix
        ? matchesPrefix(version, specifier.prefix)
        : compareVersions(target.local === undefined ? withoutLocal(version) : version, target) === 0
      return specifier.operator === '==' ? isEqual : !isEqual
    }
    case '<=':
      return target !== undefined && compareVersions(withoutLocal(version), target) <= 0
    case '>=':
      return target !== undefined && compareVersions(withoutLocal(version), target) >= 0
    case '<': {
      if (target === undefined || compareVersions(withoutLocal(version), target) >= 0) return false
      // PEP 440 "Exclusive ordered comparison": <V excludes pre-releases of V itself unless V is one.
      return isPreRelease(target) || !(isPreRelease(version) && compareRelease(version.release, target.release) === 0 && version.epoch === target.epoch)
    }
    case '>': {
      if (target === undefined || compareVersions(withoutLocal(version), target) <= 0) return false
      // PEP 440: >V excludes post-releases of V unless V is one, and never matches a local version of V.
      const isPostOfTarget =
        version.post !== undefined &&
        version.epoch === target.epoch &&
        compareRelease(version.release, target.release) === 0 &&
        version.pre?.[0] === target.pre?.[0] &&
        version.pre?.[1] === target.pre?.[1]
      return target.post !== undefined || !isPostOfTarget
    }
    case '~=': {
      if (target === undefined) return false
      // PEP 440 "Compatible release": ~=V.N is >=V.N, ==V.*
      const prefix = [target.epoch, ...target.release.slice(0, -1)]
      return compareVersions(withoutLocal(version), target) >= 0 && matchesPrefix(version, prefix)
    }
  }
}

/** Parses a comma-separated specifier set (`>=1.0,!=1.3.*,<2`): all clauses must hold. */
export function parseSpecifierSet(text: string): Specifier[] | string {
  const clauses: Specifier[] = []
  for (const clause of text.split(',')) {
    const parsed = parseSpecifier(clause)
    if (typeof parsed === 'string') return parsed
    clauses.push(parsed)
  }
  return clauses
}
