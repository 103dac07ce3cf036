/**
 * Reads a fully pinned requirements file, as `pip-compile --generate-hashes` and `pip freeze`
 * write them (pip's "Requirements File Format"): one `name==version` per logical line, with
 * backslash continuations, `#` comments, extras, environment markers and `--hash=alg:hex`
 * options. Markers are kept out of the decision on purpose: a bundle carries the files for every
 * environment the tags allow, and pip evaluates markers on the far side.
 */
import { findHashAlgorithm } from '../base/index.js'
import { isValidProjectName, normalizeName, parseVersion } from '../index/index.js'
import { SelectionError } from './errors.js'

export interface PinnedRequirement {
  /** normalized */
  readonly project: string
  readonly version: string
  /** algorithm → the allowed hex digests; empty when the file gives none */
  readonly hashes: ReadonlyMap<string, ReadonlySet<string>>
  /** `file:line`, for messages */
  readonly origin: string
}

/** pip options that may stand on their own line and say nothing about what to fetch. */
const IGNORED_OPTIONS = /^(-i|--index-url|--extra-index-url|--no-index|-f|--find-links|--trusted-host|--prefer-binary|--only-binary|--no-binary|--pre|--require-hashes)\b/

/**
 * @param name the file's name, for messages
 * @throws SelectionError naming the line for anything that is not a pinned requirement
 */
export function parseRequirements(text: string, name: string): PinnedRequirement[] {
  const requirements: PinnedRequirement[] = []
  const logical: Array<{ line: number; text: string }> = []
  let pending: { line: number; text: string } | undefined
  text.split(/\r?\n/).forEach((raw, index) => {
    // A comment starts at a '#' at the line's start or after whitespace (pip's COMMENT_RE).
    const line = raw.replace(/(^|\s+)#.*$/, '')
    const continued = line.endsWith('\\')
    const body = continued ? line.slice(0, -1) : line
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: index + 1, text: body }
    if (!continued) {
      logical.push(pending)
      pending = undefined
    }
  })
  if (pending) logical.push(pending)
  for (const { line, text: statement } of logical) {
    const origin = `${name}:${line}`
    const trimmed = statement.trim()
    if (trimmed === '' || IGNORED_OPTIONS.test(trimmed)) continue
    if (/^(-r|--requirement|-c|--constraint|-e|--editable)\b/.test(trimmed)) {
      throw new SelectionError(`${origin}: ${trimmed.split(/\s/)[0]} is not supported in a bundle's requirements; pass each file with its own --requirements`)
    }
    const hashes = new Map<string, Set<string>>()
    const withoutHashes = trimmed.replace(/--hash[=\s]\s*([^\s]+)/g, (_, value: string) => {
      const [algorithm, hex] = value.split(':')
      const known = algorithm ? findHashAlgorithm(algorithm) : undefined
      if (!known || !hex || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== known.hexLength) {
        throw new SelectionError(`${origin}: --hash=${value} is not algorithm:hex with an algorithm tuf-proxy knows`)
      }
      const set = hashes.get(known.name) ?? new Set<string>()
      set.add(hex.toLowerCase())
      hashes.set(known.name, set)
      return ''
    })
    const requirement = withoutHashes.split(';')[0]?.trim() ?? ''
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s,]+)$/.exec(requirement)
    if (!match || !isValidProjectName(match[1] ?? '')) {
      throw new SelectionError(`${origin}: ${JSON.stringify(requirement)} is not pinned as name==version (a bundle needs exact versions; pip-compile or pip freeze write them)`)
    }
    const version = match[2] ?? ''
    if (version.includes('*') || !parseVersion(version)) throw new SelectionError(`${origin}: ${JSON.stringify(version)} is not one exact PEP 440 version`)
    requirements.push({ project: normalizeName(match[1] ?? ''), version, hashes, origin })
  }
  return requirements
}
