/**
 * Model → PEP 691 JSON (v1.x with PEP 700 and PEP 714 fields). Output is deterministic: known
 * keys first in a fixed order, then `extra` keys in their parsed order; an `extra` key never
 * overrides a known one.
 */
import type { IndexMeta, ProjectFile, ProjectList, ProjectPage } from './model.js'

type Entries = Array<[string, unknown]>

/** Known entries, then extras not already present; fromEntries keeps `__proto__` a plain key. */
function withExtra(known: Entries, extra: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  if (extra !== undefined) {
    const taken = new Set(known.map(([key]) => key))
    for (const entry of Object.entries(extra)) if (!taken.has(entry[0])) known.push(entry)
  }
  return Object.fromEntries(known)
}

function metaJson(meta: IndexMeta): Record<string, unknown> {
  const entries: Entries = [['api-version', meta.apiVersion]]
  if (meta.lastSerial !== undefined) entries.push(['_last-serial', meta.lastSerial])
  return withExtra(entries, meta.extra)
}

function fileJson(file: ProjectFile): Record<string, unknown> {
  const entries: Entries = [
    ['filename', file.filename],
    ['url', file.url],
    ['hashes', file.hashes],
  ]
  if (file.requiresPython !== undefined) entries.push(['requires-python', file.requiresPython])
  if (file.size !== undefined) entries.push(['size', file.size])
  if (file.uploadTime !== undefined) entries.push(['upload-time', file.uploadTime])
  entries.push(['yanked', file.yanked])
  // PEP 714: only `core-metadata`. The legacy `dist-info-metadata` key crashes pip 22.3–23.1
  // (pypa/pip#12042; Debian ships 23.0.1), and the PEP says servers should not emit it in JSON.
  entries.push(['core-metadata', file.coreMetadata])
  if (file.gpgSig !== undefined) entries.push(['gpg-sig', file.gpgSig])
  return withExtra(entries, file.extra)
}

/** Renders a PEP 691 project detail response; file URLs are written as given (rewrite them first). */
export function renderProjectPageJson(page: ProjectPage): string {
  const entries: Entries = [
    ['meta', metaJson(page.meta)],
    ['name', page.name],
  ]
  if (page.versions !== undefined) entries.push(['versions', page.versions])
  entries.push(['files', page.files.map(fileJson)])
  // PEP 792
  if (page.status !== undefined) entries.push(['project-status', page.status.reason === undefined ? { status: page.status.status } : { status: page.status.status, reason: page.status.reason }])
  return JSON.stringify(withExtra(entries, page.extra))
}

/** Renders a PEP 691 project list. */
export function renderProjectListJson(list: ProjectList): string {
  return JSON.stringify({ meta: metaJson(list.meta), projects: list.projects.map(({ name }) => ({ name })) })
}
