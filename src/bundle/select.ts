/**
 * Which files of a project page a selection takes: the versions its specifiers or pins admit,
 * the wheels whose tags fit the target (sdists unless binaries only), and for pinned
 * requirements with `--hash` options only files with one of those digests (pip's hash-checking
 * mode: a file whose digest is not listed would be refused at install time anyway).
 */
import { compareVersions, matchesSpecifiers, parseDistFileName, parseVersion, wheelFits, type ProjectFile, type Specifier, type TagTarget } from '../index/index.js'
import type { LockedFile } from './pylock.js'
import type { PinnedRequirement } from './requirements.js'

export interface ProjectWants {
  /** each one a specifier set from `--project`; a file matching any is taken */
  readonly specifierSets: ReadonlyArray<readonly Specifier[]>
  readonly pins: readonly PinnedRequirement[]
  /** `--pylock`: exactly these files, whatever their tags (the lock chose them) */
  readonly locked: readonly LockedFile[]
}

export interface TagFilter extends TagTarget {
  readonly onlyBinary: boolean
}

export interface PickedFile {
  readonly file: ProjectFile
  /** digests the file must also match (from requirement `--hash` options), algorithm → allowed hex */
  readonly requiredHashes: ReadonlyMap<string, ReadonlySet<string>>
}

/** What a pin or hash asked for that the page does not offer. */
export interface PickProblem {
  readonly origin: string
  readonly code: 'not_on_page' | 'hash_mismatch' | 'length_mismatch'
  readonly detail: string
}

function fitsTags(file: ProjectFile, filter: TagFilter): boolean {
  const parsed = parseDistFileName(file.filename)
  if (!parsed) return false
  if (parsed.kind === 'sdist') return !filter.onlyBinary
  return wheelFits(parsed.tags, filter)
}

function pinMatches(file: ProjectFile, pin: PinnedRequirement): boolean {
  if (pin.hashes.size === 0) return true
  for (const [algorithm, allowed] of pin.hashes) {
    const listed = file.hashes[algorithm]
    if (listed !== undefined && allowed.has(listed.toLowerCase())) return true
  }
  return false
}

export function pickFiles(files: readonly ProjectFile[], wants: ProjectWants, filter: TagFilter): { picked: PickedFile[]; problems: PickProblem[] } {
  const picked = new Map<string, PickedFile>()
  const problems: PickProblem[] = []
  const candidates = files.filter((file) => fitsTags(file, filter))
  for (const specifiers of wants.specifierSets) {
    for (const file of candidates) {
      const version = parseDistFileName(file.filename)?.version
      if (version !== undefined && matchesSpecifiers(version, specifiers)) picked.set(file.filename, { file, requiredHashes: new Map() })
    }
  }
  for (const pin of wants.pins) {
    const wanted = parseVersion(pin.version)
    const ofVersion = candidates.filter((file) => {
      const version = parseVersion(parseDistFileName(file.filename)?.version ?? '')
      return wanted !== undefined && version !== undefined && compareVersions(version, wanted) === 0
    })
    const matching = ofVersion.filter((file) => pinMatches(file, pin))
    if (ofVersion.length === 0) problems.push({ origin: pin.origin, code: 'not_on_page', detail: `${pin.project}==${pin.version}: the page lists no file of that version that fits the tags asked for` })
    else if (matching.length === 0) problems.push({ origin: pin.origin, code: 'not_on_page', detail: `${pin.project}==${pin.version}: no file on the page has any of the --hash digests given` })
    for (const file of matching) picked.set(file.filename, { file, requiredHashes: pin.hashes })
  }
  for (const locked of wants.locked) {
    const found = pickLocked(files, locked)
    if ('detail' in found) problems.push(found)
    else picked.set(found.file.filename, found)
  }
  return { picked: [...picked.values()], problems }
}

/**
 * PEP 751: the file the lock names, with the lock's hashes and size joined to the page's; both
 * must hold, so where they disagree the file cannot be the one locked.
 */
function pickLocked(files: readonly ProjectFile[], locked: LockedFile): PickedFile | PickProblem {
  const file = files.find((candidate) => candidate.filename === locked.fileName)
  if (!file) return { origin: locked.origin, code: 'not_on_page', detail: `${locked.fileName}: the project's page does not list it` }
  const hashes: Record<string, string> = { ...file.hashes }
  for (const [algorithm, hex] of Object.entries(locked.hashes)) {
    const listed = hashes[algorithm]?.toLowerCase()
    if (listed !== undefined && listed !== hex) return { origin: locked.origin, code: 'hash_mismatch', detail: `${locked.fileName}: the lock gives ${algorithm} ${hex}, the page ${listed}` }
    hashes[algorithm] = hex
  }
  if (locked.size !== undefined && file.size !== undefined && locked.size !== file.size) {
    return { origin: locked.origin, code: 'length_mismatch', detail: `${locked.fileName}: the lock gives ${locked.size} bytes, the page ${file.size}` }
  }
  return { file: { ...file, hashes, size: locked.size ?? file.size }, requiredHashes: new Map() }
}
