/**
 * PEP 691 JSON (v1.x, with PEP 700 and PEP 714 fields) → model, for untrusted upstream pages.
 * Every field passes a type guard; unknown keys are kept in `extra` so a re-rendered page loses
 * nothing a newer client might want (PEP 708 `tracks`, PEP 740 `provenance`, …). Host
 * allowlisting and matching the page to the requested project are the caller's job.
 */
import { IndexFormatError } from './errors.js'
import { FileCollector, type PageParseOptions } from './file-collector.js'
import { checkApiVersion, checkFilename, checkHashes, quote, resolveHttpUrl } from './file-fields.js'
import type { IndexMeta, ProjectFile, ProjectList, ProjectPage, ProjectStatus } from './model.js'
import { isValidProjectName, normalizeName } from './names.js'

type JsonRecord = Readonly<Record<string, unknown>>

// PEP 700: `yyyy-mm-ddThh:mm:ss.ffffffZ`, the fraction optional.
const UPLOAD_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/
const META_KEYS: ReadonlySet<string> = new Set(['api-version', '_last-serial'])
const PAGE_KEYS: ReadonlySet<string> = new Set(['meta', 'name', 'files', 'versions', 'project-status'])
const FILE_KEYS: ReadonlySet<string> = new Set([
  'filename', 'url', 'hashes', 'requires-python', 'yanked', 'gpg-sig', 'size', 'upload-time',
  // PEP 714 and its predecessors; only the winner is kept, so none is passed through.
  'core-metadata', 'dist-info-metadata', 'data-dist-info-metadata',
])

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function decode(text: string, what: string): JsonRecord {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new IndexFormatError(`${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  if (!isRecord(value)) throw new IndexFormatError(`${what} must be a JSON object`)
  return value
}

/** Unknown keys as own properties (fromEntries, so `__proto__` stays a plain key), or nothing. */
function extraOf(record: JsonRecord, known: ReadonlySet<string>): { extra?: JsonRecord } {
  const entries = Object.entries(record).filter(([key]) => !known.has(key))
  return entries.length === 0 ? {} : { extra: Object.fromEntries(entries) }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function parseMeta(value: unknown): IndexMeta {
  // PEP 691: `meta` and its `api-version` are required.
  if (!isRecord(value)) throw new IndexFormatError('meta must be an object with "api-version" (PEP 691)')
  const apiVersion = value['api-version']
  if (typeof apiVersion !== 'string') throw new IndexFormatError('meta.api-version must be a string such as "1.1" (PEP 691)')
  const lastSerial = value['_last-serial']
  if (lastSerial !== undefined && !isNonNegativeInteger(lastSerial)) throw new IndexFormatError('meta._last-serial must be a non-negative integer')
  return {
    apiVersion: checkApiVersion(apiVersion, 'meta'),
    ...(lastSerial !== undefined ? { lastSerial } : {}),
    ...extraOf(value, META_KEYS),
  }
}

function parseCoreMetadata(value: unknown, where: string): ProjectFile['coreMetadata'] {
  if (typeof value === 'boolean') return value
  if (isRecord(value)) return checkHashes(Object.entries(value), `${where} core-metadata`)
  throw new IndexFormatError(`${where}: core-metadata must be true, false or a hashes object (PEP 691, PEP 714)`)
}

function parseFile(value: unknown, baseUrl: string, where: string): ProjectFile {
  if (!isRecord(value)) throw new IndexFormatError(`${where} must be an object`)
  const { filename, url: href, hashes } = value
  if (typeof filename !== 'string') throw new IndexFormatError(`${where}: filename must be a string`)
  if (typeof href !== 'string') throw new IndexFormatError(`${where}: url must be a string`)
  const at = `${where} (${quote(filename)})`
  if (!isRecord(hashes)) throw new IndexFormatError(`${at}: hashes must be an object (PEP 691)`)
  // PEP 691: url may be relative to the page; hashes live in `hashes`, so a fragment is dropped.
  const url = resolveHttpUrl(href, baseUrl, at)
  url.hash = ''
  checkFilename(filename, url, at)

  const requiresPython = value['requires-python']
  if (requiresPython !== undefined && requiresPython !== null && typeof requiresPython !== 'string') {
    throw new IndexFormatError(`${at}: requires-python must be a string or null`)
  }
  // PEP 592 / 691: absent means not yanked, a string is the reason.
  const yanked = value['yanked'] ?? false
  if (typeof yanked !== 'boolean' && typeof yanked !== 'string') throw new IndexFormatError(`${at}: yanked must be a boolean or a string`)
  // PEP 714: `core-metadata` wins; `dist-info-metadata` (PEP 691) and PyPI's mistaken
  // `data-dist-info-metadata` are read only when it is absent.
  const core = value['core-metadata'] ?? value['dist-info-metadata'] ?? value['data-dist-info-metadata'] ?? false
  const gpgSig = value['gpg-sig'] ?? undefined
  if (gpgSig !== undefined && typeof gpgSig !== 'boolean') throw new IndexFormatError(`${at}: gpg-sig must be a boolean`)
  const size = value['size']
  if (size !== undefined && !isNonNegativeInteger(size)) throw new IndexFormatError(`${at}: size must be a non-negative integer (PEP 700)`)
  const uploadTime = value['upload-time']
  if (uploadTime !== undefined && (typeof uploadTime !== 'string' || !UPLOAD_TIME.test(uploadTime))) {
    throw new IndexFormatError(`${at}: upload-time must be an ISO 8601 UTC time like "2023-01-31T12:34:56.123456Z" (PEP 700)`)
  }
  return {
    filename,
    url: url.href,
    hashes: checkHashes(Object.entries(hashes), at),
    ...(typeof requiresPython === 'string' && requiresPython !== '' ? { requiresPython } : {}),
    yanked: yanked === '' ? true : yanked,
    coreMetadata: parseCoreMetadata(core, at),
    ...(gpgSig !== undefined ? { gpgSig } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(uploadTime !== undefined ? { uploadTime } : {}),
    ...extraOf(value, FILE_KEYS),
  }
}

function parseVersions(value: unknown): { versions?: readonly string[] } {
  if (value === undefined) return {}
  if (!Array.isArray(value) || !value.every((version): version is string => typeof version === 'string')) {
    throw new IndexFormatError('versions must be an array of strings (PEP 700)')
  }
  return { versions: value }
}

/**
 * Parses a PEP 691 project detail response. Relative file URLs resolve against
 * `options.baseUrl` (where a redirect led), else `pageUrl`. A file entry that fails its checks
 * (a wrong type, a refused link, a bad hash, a filename/URL mismatch) is dropped and reported to
 * `options.onDroppedLink`; the rest of the page stays.
 * @throws {IndexFormatError} when the page as a whole is unusable: invalid JSON, a bad `meta`,
 *   `name`, `files` or `versions`, or an unsupported api-version
 */
export function parseProjectPageJson(json: string, pageUrl: string, options: PageParseOptions = {}): ProjectPage {
  const page = decode(json, 'project page')
  const meta = parseMeta(page['meta'])
  const name = page['name']
  if (typeof name !== 'string' || !isValidProjectName(name)) throw new IndexFormatError('name must be a valid project name (PEP 691, PEP 508)')
  const rawFiles = page['files']
  if (!Array.isArray(rawFiles)) throw new IndexFormatError('files must be an array (PEP 691)')
  const baseUrl = options.baseUrl ?? pageUrl
  const collector = new FileCollector(options.onDroppedLink)
  rawFiles.forEach((rawFile: unknown, index) => collector.add(() => parseFile(rawFile, baseUrl, `files[${index}]`)))
  const status = parseProjectStatus(page['project-status'])
  return { name: normalizeName(name), meta, ...(status ? { status } : {}), ...parseVersions(page['versions']), files: collector.files, ...extraOf(page, PAGE_KEYS) }
}

/**
 * PEP 792 `project-status`: `{"status": …, "reason"?: …}`. A malformed one fails the page: a
 * quarantine marker that could not be read must not pass as "active".
 * @throws {IndexFormatError}
 */
function parseProjectStatus(value: unknown): ProjectStatus | undefined {
  if (value === undefined) return undefined
  if (!isRecord(value) || typeof value['status'] !== 'string' || (value['reason'] !== undefined && typeof value['reason'] !== 'string')) {
    throw new IndexFormatError('project-status must be an object with a string status and an optional string reason (PEP 792)')
  }
  const reason = value['reason']
  return typeof reason === 'string' ? { status: value['status'], reason } : { status: value['status'] }
}

/**
 * Parses a PEP 691 project list. Per-project keys other than `name` (PyPI's `_last-serial`)
 * are not kept; entries with an invalid PEP 508 name are dropped because no project route would
 * serve them. Duplicates are kept, as in parseProjectListHtml.
 * @throws {IndexFormatError} on invalid JSON, a wrong type anywhere or unsupported api-version
 */
export function parseProjectListJson(json: string, _pageUrl: string): ProjectList {
  const list = decode(json, 'project list')
  const meta = parseMeta(list['meta'])
  const rawProjects = list['projects']
  if (!Array.isArray(rawProjects)) throw new IndexFormatError('projects must be an array (PEP 691)')
  const projects: Array<{ readonly name: string }> = []
  rawProjects.forEach((project: unknown, index) => {
    if (!isRecord(project) || typeof project['name'] !== 'string') {
      throw new IndexFormatError(`projects[${index}] must be an object with a string "name" (PEP 691)`)
    }
    if (isValidProjectName(project['name'])) projects.push({ name: project['name'] })
  })
  return { meta, projects }
}
