/**
 * PEP 503 HTML (with PEP 592, 629, 658/714 attributes) → model, for untrusted upstream pages.
 * Only anchors, the `pypi:repository-version` meta tag, `<base href>` and PyPI's
 * `<!--SERIAL n-->` comment mean anything; every other tag is ignored. Host allowlisting and
 * matching the page to the requested project are the caller's job.
 */
import { IndexFormatError } from './errors.js'
import { FileCollector, type PageParseOptions } from './file-collector.js'
import { checkApiVersion, checkFilename, checkHashes, fragmentHashes, quote, resolveHttpUrl } from './file-fields.js'
import { decodeEntities, scanHtml, trimAsciiWhitespace } from './html-tokenizer.js'
import type { IndexMeta, ProjectFile, ProjectList, ProjectPage, ProjectStatus } from './model.js'
import { isValidProjectName, normalizeName } from './names.js'

const SERIAL_COMMENT = /^\s*SERIAL\s+(\d{1,15})\s*$/

interface Anchor {
  readonly attributes: ReadonlyMap<string, string>
  /** Entity-decoded link text with surrounding ASCII whitespace removed. */
  readonly text: string
  /** The `<base href>` seen before this anchor, else the URL the page came from. */
  readonly baseUrl: string
}

/**
 * One pass over the page: anchors go to `onAnchor` in order, the page's meta is returned.
 * `pageUrl` is where the page came from (after redirects), which relative links resolve against.
 */
function scanPage(html: string, pageUrl: string, onAnchor: (anchor: Anchor) => void): { meta: IndexMeta; status: ProjectStatus | undefined } {
  let apiVersion: string | undefined
  let projectStatus: string | undefined
  let statusReason: string | undefined
  let lastSerial: number | undefined
  let baseUrl = pageUrl
  let hasBase = false
  let open: { attributes: ReadonlyMap<string, string>; text: string; baseUrl: string } | undefined
  const close = (): void => {
    if (open === undefined) return
    onAnchor({ attributes: open.attributes, text: trimAsciiWhitespace(decodeEntities(open.text)), baseUrl: open.baseUrl })
    open = undefined
  }
  scanHtml(html, {
    startTag(name, attributes) {
      if (name === 'a') {
        // HTML: an <a> start tag closes an <a> still open, so an unclosed anchor ends here.
        close()
        open = { attributes, text: '', baseUrl }
      } else if (name === 'meta') {
        const metaName = decodeEntities(attributes.get('name') ?? '').toLowerCase()
        const content = decodeEntities(attributes.get('content') ?? '').trim()
        // The first of each counts, as for the repository version.
        if (metaName === 'pypi:repository-version') apiVersion ??= content
        // PEP 792: project status markers in HTML.
        else if (metaName === 'pypi:project-status') projectStatus ??= content
        else if (metaName === 'pypi:project-status-reason') statusReason ??= content
      } else if (name === 'base' && !hasBase && attributes.has('href')) {
        // HTML: only the first <base href> counts.
        hasBase = true
        baseUrl = resolveHttpUrl(decodeEntities(attributes.get('href') ?? ''), pageUrl, '<base href>').href
      }
    },
    endTag(name) {
      if (name === 'a') close()
    },
    text(start, end) {
      if (open !== undefined) open.text += html.slice(start, end)
    },
    comment(body) {
      const match = lastSerial === undefined ? SERIAL_COMMENT.exec(body) : null
      if (match?.[1] !== undefined) lastSerial = Number(match[1])
    },
  })
  close()
  // PEP 629: a page without the meta tag is version 1.0.
  const meta: IndexMeta = { apiVersion: checkApiVersion(apiVersion ?? '1.0', 'pypi:repository-version meta tag') }
  const status = projectStatus === undefined ? undefined : statusReason === undefined ? { status: projectStatus } : { status: projectStatus, reason: statusReason }
  return { meta: lastSerial === undefined ? meta : { ...meta, lastSerial }, status }
}

function projectNameFromUrl(pageUrl: string): string {
  const segments = new URL(pageUrl).pathname.split('/').filter((segment) => segment !== '')
  const name = decodeURIComponent(segments[segments.length - 1] ?? '')
  if (!isValidProjectName(name)) throw new Error(`page URL ${quote(pageUrl)} does not end in a valid project name`)
  return normalizeName(name)
}

/** PEP 658 / 714: `true`, or the metadata file's hash as `<name>=<hex>`. */
function parseCoreMetadata(value: string, where: string): true | Readonly<Record<string, string>> {
  if (value === 'true') return true
  const eq = value.indexOf('=')
  if (eq <= 0) throw new IndexFormatError(`${where}: data-core-metadata ${quote(value)} is neither "true" nor "<hash>=<hex>" (PEP 658)`)
  return checkHashes([[value.slice(0, eq), value.slice(eq + 1)]], `${where} data-core-metadata`)
}

function parseFileAnchor(anchor: Anchor, where: string): ProjectFile {
  const { attributes } = anchor
  const url = resolveHttpUrl(decodeEntities(attributes.get('href') ?? ''), anchor.baseUrl, where)
  const hashes = fragmentHashes(url.hash, where)
  url.hash = ''
  const filename = checkFilename(anchor.text, url, where)
  const at = `${where} (${quote(filename)})`
  const attribute = (name: string): string | undefined => {
    const raw = attributes.get(name)
    return raw === undefined ? undefined : decodeEntities(raw)
  }

  // PEP 592: the attribute's presence means yanked; a non-empty value is the reason.
  const yankedValue = attribute('data-yanked')
  const yanked = yankedValue === undefined ? false : yankedValue === '' ? true : yankedValue
  // PEP 714: read data-core-metadata when present, the legacy name only otherwise.
  const coreValue = attribute('data-core-metadata') ?? attribute('data-dist-info-metadata')
  const coreMetadata = coreValue === undefined ? false : parseCoreMetadata(coreValue, at)
  const requiresPython = attribute('data-requires-python')
  const gpgValue = attribute('data-gpg-sig')
  if (gpgValue !== undefined && gpgValue !== 'true' && gpgValue !== 'false') {
    throw new IndexFormatError(`${at}: data-gpg-sig ${quote(gpgValue)} is neither "true" nor "false" (PEP 503)`)
  }
  return {
    filename,
    url: url.href,
    hashes,
    ...(requiresPython !== undefined && requiresPython !== '' ? { requiresPython } : {}),
    yanked,
    coreMetadata,
    ...(gpgValue !== undefined ? { gpgSig: gpgValue === 'true' } : {}),
  }
}

/**
 * Parses a PEP 503 project page. The name is the normalized last path segment of `pageUrl`;
 * relative links resolve against `options.baseUrl` (where a redirect led), else `pageUrl`. A
 * link that fails its checks (a refused scheme, a bad hash, a filename/URL mismatch, a bad
 * attribute value) is dropped and reported to `options.onDroppedLink`; the rest of the page stays.
 * @throws {IndexFormatError} when the page as a whole is unusable: an unsupported repository
 *   version or a refused `<base href>`
 * @throws {Error} when `pageUrl` does not end in a valid project name (caller misuse)
 */
export function parseProjectPageHtml(html: string, pageUrl: string, options: PageParseOptions = {}): ProjectPage {
  const name = projectNameFromUrl(pageUrl)
  const collector = new FileCollector(options.onDroppedLink)
  let index = 0
  const { meta, status } = scanPage(html, options.baseUrl ?? pageUrl, (anchor) => {
    index++
    // An anchor without href (e.g. <a name=…>) is not a link.
    if (!anchor.attributes.has('href')) return
    collector.add(() => parseFileAnchor(anchor, `anchor ${index}`))
  })
  return { name, meta, ...(status ? { status } : {}), files: collector.files }
}

/**
 * Parses a PEP 503 project list (PyPI's /simple/: ~700k anchors), linear in the page size.
 * Links are not kept: the proxy renders its own `<normalized>/` links. Entries whose text is not
 * a valid PEP 508 name are dropped, since no project route would serve them. Duplicates are
 * kept: both links lead to the same normalized route, and a 700k-entry Set would cost about
 * half a second per parse.
 * @throws {IndexFormatError} on an unsupported repository version
 */
export function parseProjectListHtml(html: string, pageUrl: string): ProjectList {
  const projects: Array<{ readonly name: string }> = []
  const { meta } = scanPage(html, pageUrl, (anchor) => {
    if (anchor.attributes.has('href') && isValidProjectName(anchor.text)) projects.push({ name: anchor.text })
  })
  return { meta, projects }
}
