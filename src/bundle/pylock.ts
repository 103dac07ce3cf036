/**
 * `mirror --pylock FILE`: a PEP 751 lock file (`pylock.toml`) as a selection. Exactly the files
 * its `[[packages.wheels]]` and `[packages.sdist]` entries name are taken, each with the lock's
 * hashes (and size, when given) to be checked beside the index's. Files are found on the
 * project's page by name (the entry's `name`, else the last segment of its `url` or `path`),
 * because a bundle's files are verified on import against a page of the same bundle.
 *
 * Deliberately not handled: `packages.vcs`, `packages.directory` and `packages.archive`
 * sources (nothing on an index to mirror; each is reported, not silently dropped), markers and
 * `requires-python` (a bundle carries every file the lock lists, for whichever environment
 * installs from it), and `packages.index` (pages come from `--upstream`; the hashes bind the files).
 * TOML is parsed by smol-toml (TOML 1.0).
 */
import { parse as parseToml, TomlError } from 'smol-toml'
import { findHashAlgorithm } from '../base/index.js'
import { isValidProjectName, normalizeName } from '../index/index.js'
import { SelectionError } from './errors.js'

/** A file the lock names, with what it must be. */
export interface LockedFile {
  /** `FILE:packages[i].wheels[j]`, for messages */
  readonly origin: string
  readonly fileName: string
  /** algorithm (as the index spells it) → lower-case hex */
  readonly hashes: Readonly<Record<string, string>>
  readonly size: number | undefined
}

export interface Pylock {
  /** normalized project name → the files the lock names for it */
  readonly files: ReadonlyMap<string, readonly LockedFile[]>
  /** packages whose source is not an index file (vcs, directory, archive): reported as refused */
  readonly unsupported: ReadonlyArray<{ readonly origin: string; readonly detail: string }>
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

function lastSegment(location: string): string {
  const path = URL.canParse(location) ? new URL(location).pathname : location
  const segment = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** @throws SelectionError naming the entry */
function lockedFile(entry: unknown, origin: string): LockedFile {
  if (!isTable(entry)) throw new SelectionError(`${origin}: not a table`)
  const { name, url, path, size, hashes } = entry
  const location = typeof url === 'string' ? url : typeof path === 'string' ? path : undefined
  const fileName = typeof name === 'string' ? name : location === undefined ? '' : lastSegment(location)
  if (fileName === '' || fileName.includes('/')) throw new SelectionError(`${origin}: names no file (PEP 751: a wheel or sdist has a url, path or name)`)
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) throw new SelectionError(`${origin}: size is not a byte count`)
  if (!isTable(hashes) || Object.keys(hashes).length === 0) throw new SelectionError(`${origin}: has no hashes (PEP 751 requires them)`)
  const checked: Record<string, string> = {}
  for (const [algorithm, hex] of Object.entries(hashes)) {
    const known = findHashAlgorithm(algorithm)
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]+$/.test(hex)) throw new SelectionError(`${origin}: hashes.${algorithm} is not a hex digest`)
    // An algorithm this proxy cannot compute cannot be checked; the file is still bound by the others.
    if (known?.isStrong) checked[known.name] = hex.toLowerCase()
  }
  if (!Object.values(checked).length) throw new SelectionError(`${origin}: lists no strong hash algorithm the proxy can check (${Object.keys(hashes).join(', ')})`)
  return { origin, fileName, hashes: checked, size: typeof size === 'number' ? size : undefined }
}

/**
 * @param origin the file's path, for messages
 * @throws SelectionError when the file is not TOML, not a PEP 751 lock of a supported version, or an entry is malformed
 */
export function parsePylock(text: string, origin: string): Pylock {
  let document: Record<string, unknown>
  try {
    document = parseToml(text)
  } catch (error) {
    if (error instanceof TomlError) throw new SelectionError(`--pylock ${origin}: not TOML (${error.message.split('\n')[0] ?? ''})`)
    throw error
  }
  const version = document['lock-version']
  // PEP 751: a tool must refuse a lock-version whose major version it does not support.
  if (typeof version !== 'string' || !/^1(\.\d+)*$/.test(version)) throw new SelectionError(`--pylock ${origin}: lock-version is ${JSON.stringify(version)}, not 1.x (PEP 751)`)
  const packages = document.packages
  if (!Array.isArray(packages)) throw new SelectionError(`--pylock ${origin}: has no [[packages]] array`)
  const files = new Map<string, LockedFile[]>()
  const unsupported: Array<{ origin: string; detail: string }> = []
  packages.forEach((entry: unknown, i) => {
    const where = `${origin}:packages[${i}]`
    if (!isTable(entry) || typeof entry.name !== 'string' || !isValidProjectName(entry.name)) throw new SelectionError(`${where}: has no valid name`)
    const project = normalizeName(entry.name)
    const taken: LockedFile[] = []
    if (entry.wheels !== undefined) {
      if (!Array.isArray(entry.wheels)) throw new SelectionError(`${where}.wheels: not an array of tables`)
      entry.wheels.forEach((wheel: unknown, j) => taken.push(lockedFile(wheel, `${where}.wheels[${j}]`)))
    }
    if (entry.sdist !== undefined) taken.push(lockedFile(entry.sdist, `${where}.sdist`))
    if (taken.length === 0) {
      const kind = ['vcs', 'directory', 'archive'].find((key) => entry[key] !== undefined)
      unsupported.push({ origin: where, detail: `${project}: ${kind === undefined ? 'lists no wheel or sdist' : `its source is a ${kind}, not a file on an index`}; nothing to mirror` })
      return
    }
    files.set(project, [...(files.get(project) ?? []), ...taken])
  })
  return { files, unsupported }
}
