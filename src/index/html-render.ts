/**
 * Model → PEP 503 HTML, in the shape PyPI's templates produce: one anchor per file with the hash
 * fragment and the PEP 592 / 658 / 714 attributes, the PEP 629 meta tag and PyPI's
 * `<!--SERIAL n-->` comment. Output is deterministic (same model, same bytes) and every value is
 * escaped. PEP 503's fragment is one `#<hashname>=<hashvalue>`, and clients that follow it
 * refuse more (uv reads the whole fragment as one pair), so a link carries the first of its
 * digests in the hash table's order: the strongest when there is one, a weak one rather than
 * none (the proxy verified it, and pip checks md5 and sha1 too). The JSON form keeps every
 * digest. PEP 700 fields and `extra` have no HTML form and are left out.
 */
import { HASH_ALGORITHMS } from '../base/index.js'
import type { IndexMeta, ProjectFile, ProjectList, ProjectPage, ProjectStatus } from './model.js'
import { normalizeName } from './names.js'

const HTML_SPECIAL = /[&<>"']/
const HTML_SPECIAL_GLOBAL = /[&<>"']/g
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for both element content and double-quoted attribute values. */
function escapeHtml(text: string): string {
  return HTML_SPECIAL.test(text) ? text.replace(HTML_SPECIAL_GLOBAL, (char) => ESCAPES[char] ?? char) : text
}

/** The first listed digest in the hash table's order (sha256 first, weak ones last) as `<name>=<hex>`. */
function pickHash(hashes: Readonly<Record<string, string>>): string | undefined {
  const algorithm = HASH_ALGORITHMS.find(({ name }) => hashes[name] !== undefined)
  return algorithm === undefined ? undefined : `${algorithm.name}=${hashes[algorithm.name] ?? ''}`
}

function coreMetadataValue(coreMetadata: ProjectFile['coreMetadata']): string | undefined {
  if (coreMetadata === false) return undefined
  if (coreMetadata === true) return 'true'
  // PEP 658: one `<name>=<hex>`; with no hash the table knows, "true" still says the file exists.
  return pickHash(coreMetadata) ?? 'true'
}

function fileAnchor(file: ProjectFile): string {
  const fragment = pickHash(file.hashes)
  let anchor = `<a href="${escapeHtml(fragment === undefined ? file.url : `${file.url}#${fragment}`)}"`
  if (file.requiresPython !== undefined) anchor += ` data-requires-python="${escapeHtml(file.requiresPython)}"`
  // PEP 592: an empty value means yanked without a reason.
  if (file.yanked !== false) anchor += ` data-yanked="${file.yanked === true ? '' : escapeHtml(file.yanked)}"`
  const core = coreMetadataValue(file.coreMetadata)
  // PEP 714: data-core-metadata is required; the legacy name MAY be added and MUST match.
  if (core !== undefined) anchor += ` data-dist-info-metadata="${escapeHtml(core)}" data-core-metadata="${escapeHtml(core)}"`
  if (file.gpgSig !== undefined) anchor += ` data-gpg-sig="${file.gpgSig ? 'true' : 'false'}"`
  return `${anchor}>${escapeHtml(file.filename)}</a><br />`
}

/** Builds the page in one array joined once: PyPI's list has ~700k lines. */
function htmlDocument(meta: IndexMeta, title: string, writeBody: (lines: string[]) => void, status?: ProjectStatus): string {
  const lines = [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    // PEP 629
    `    <meta name="pypi:repository-version" content="${escapeHtml(meta.apiVersion)}">`,
  ]
  // PEP 792
  if (status !== undefined) lines.push(`    <meta name="pypi:project-status" content="${escapeHtml(status.status)}">`)
  if (status?.reason !== undefined) lines.push(`    <meta name="pypi:project-status-reason" content="${escapeHtml(status.reason)}">`)
  lines.push(
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
  )
  writeBody(lines)
  lines.push('  </body>', '</html>')
  if (meta.lastSerial !== undefined) lines.push(`<!--SERIAL ${meta.lastSerial}-->`)
  lines.push('')
  return lines.join('\n')
}

/** Renders a PEP 503 project page; file URLs are written as given (rewrite them first). */
export function renderProjectPageHtml(page: ProjectPage): string {
  return htmlDocument(page.meta, `Links for ${page.name}`, (lines) => {
    lines.push(`    <h1>Links for ${escapeHtml(page.name)}</h1>`)
    for (const file of page.files) lines.push(`    ${fileAnchor(file)}`)
  }, page.status)
}

/** Renders a PEP 503 project list with relative `<normalized>/` links. */
export function renderProjectListHtml(list: ProjectList): string {
  return htmlDocument(list.meta, 'Simple index', (lines) => {
    for (const { name } of list.projects) lines.push(`    <a href="${escapeHtml(normalizeName(name))}/">${escapeHtml(name)}</a>`)
  })
}
