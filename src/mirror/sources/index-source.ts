/**
 * A remote PEP 503/691 index as a source: today's single-upstream machinery (SimplePages for
 * pages with its cache and stale fallback, Files for verified, cached downloads), one instance
 * per configured index, each with its own records namespace.
 */
import type { ProjectFile } from '../../index/index.js'
import { NotFoundError } from '../errors.js'
import type { Files, FileResult } from '../files.js'
import type { StoredBody } from '../project-list.js'
import type { PageRefresh, SimplePages } from '../simple-pages.js'
import type { Source, SourceNames, SourcePage } from './source.js'

const PAGE_NAMESPACE_PREFIX = 'source-'

/** With `sources:`, each remote index keeps its page records in a namespace of its own. */
export function sourcePageNamespace(source: string): string {
  return `${PAGE_NAMESPACE_PREFIX}${source}`
}

/** Where a verifying source (`tuf:`) keeps its pages: apart, so hash-only pages are never taken as verified. */
const TUF_PAGE_NAMESPACE_PREFIX = 'tufsrc-'

export function tufSourcePageNamespace(source: string): string {
  return `${TUF_PAGE_NAMESPACE_PREFIX}${source}`
}

/** The source whose page records a namespace holds; undefined for any other namespace. */
export function sourceOfPageNamespace(namespace: string): string | undefined {
  for (const prefix of [PAGE_NAMESPACE_PREFIX, TUF_PAGE_NAMESPACE_PREFIX]) {
    if (namespace.startsWith(prefix) && namespace.length > prefix.length) return namespace.slice(prefix.length)
  }
  return undefined
}

/** PEP 658: the core metadata of `<file>` is served at `<file>.metadata`. */
const METADATA_SUFFIX = '.metadata'

export class IndexSource implements Source {
  #names: { readonly identity: string; readonly names: readonly string[] } | undefined

  constructor(
    readonly name: string,
    readonly isPublic: boolean,
    private readonly parts: { readonly pages: SimplePages; readonly files: Files },
  ) {}

  async has(project: string): Promise<boolean> {
    try {
      await this.parts.pages.projectModel(project)
      return true
    } catch (error) {
      if (error instanceof NotFoundError) return false
      throw error
    }
  }

  page(project: string, options?: { readonly revalidate?: boolean }): Promise<SourcePage> {
    return this.parts.pages.projectModel(project, options?.revalidate ?? false)
  }

  refresh(project: string): Promise<PageRefresh> {
    return this.parts.pages.refresh(project)
  }

  peekPage(project: string): SourcePage | undefined {
    return this.parts.pages.peekModel(project)
  }

  file(_project: string, fileName: string, listed: ProjectFile): Promise<FileResult> {
    if (fileName === listed.filename) return this.parts.files.get({ url: listed.url, evidence: { hashes: listed.hashes, expectedSize: listed.size } })
    // PEP 714: `core-metadata: true` promises the file without giving its hash.
    const hashes = listed.coreMetadata === true || listed.coreMetadata === false ? {} : listed.coreMetadata
    return this.parts.files.get({ url: `${listed.url}${METADATA_SUFFIX}`, evidence: { hashes } })
  }

  async names(): Promise<SourceNames> {
    const rendered = await this.parts.pages.index('json-v1')
    // The list changes rarely and PyPI's is ~20 MB of JSON: read it again only when it changed.
    if (this.#names?.identity !== rendered.etag) {
      const body = rendered.body instanceof Uint8Array ? rendered.body : await readAll(rendered.body)
      this.#names = { identity: rendered.etag, names: projectNamesOf(body) }
    }
    return { names: this.#names.names, cache: rendered.cache, identity: rendered.etag }
  }
}

async function readAll(body: StoredBody): Promise<Uint8Array> {
  const reader = await body.open()
  try {
    const bytes = new Uint8Array(body.byteLength)
    let position = 0
    while (position < bytes.byteLength) {
      const count = await reader.read(bytes.subarray(position), position, bytes.byteLength - position)
      if (count === 0) break
      position += count
    }
    return bytes.subarray(0, position)
  } finally {
    await reader.close()
  }
}

/** Our own JSON rendering of the list (project-list.ts), so its shape is known. */
function projectNamesOf(body: Uint8Array): string[] {
  const parsed: unknown = JSON.parse(new TextDecoder().decode(body))
  const projects = typeof parsed === 'object' && parsed !== null && 'projects' in parsed && Array.isArray(parsed.projects) ? (parsed.projects as unknown[]) : []
  return projects.flatMap((entry) => (typeof entry === 'object' && entry !== null && 'name' in entry && typeof entry.name === 'string' ? [entry.name] : []))
}
