/**
 * A local folder of wheels and sdists as a private source: the proxy indexes it and serves it
 * itself. Pages carry each file's sha256, PEP 700 `size` and `upload-time` (the file's mtime, so
 * the release cooldown holds here too), PEP 658 metadata extracted from wheels and
 * `requires-python` from it. Files dropped in or removed are picked up without a restart: every
 * request stats the directory and rescans it when its mtime changed (only new or changed files
 * are hashed again), and a file whose size or mtime changed since it was indexed is indexed again
 * before it is served. Subdirectories and names that are no distribution (a `.part` copy in
 * progress, dotfiles) are ignored.
 */
import { readSync } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../base/index.js'
import { createHasher, describeError, sha256Hex } from '../../base/index.js'
import { normalizeName, type ProjectFile, type ProjectPage } from '../../index/index.js'
import type { BlobReader } from '../../store/index.js'
import { NotFoundError } from '../errors.js'
import { isSafeFileName } from '../file-names.js'
import type { FileResult } from '../files.js'
import type { PageRefresh } from '../simple-pages.js'
import type { Source, SourceNames, SourcePage } from './source.js'
import { readWheelMetadata, requiresPythonOf } from './wheel-metadata.js'

const DISTRIBUTION = /\.(?:whl|tar\.gz|zip)$/
const METADATA_SUFFIX = '.metadata'
const HASH_CHUNK_BYTES = 1024 * 1024

interface Indexed {
  readonly fileName: string
  readonly project: string
  readonly size: number
  readonly mtimeMs: number
  readonly sha256: string
  readonly metadata: Uint8Array | undefined
  readonly requiresPython: string | undefined
}

/** The project a distribution's file name belongs to (wheel: first field; sdist: up to the version). */
function projectOf(fileName: string): string | undefined {
  const stem = fileName.replace(DISTRIBUTION, '')
  const parts = stem.split('-')
  if (fileName.endsWith('.whl')) return parts.length >= 5 ? normalizeName(parts[0] ?? '') : undefined
  const versionAt = parts.findIndex((part, i) => i > 0 && /^\d/.test(part))
  return versionAt > 0 ? normalizeName(parts.slice(0, versionAt).join('-')) : undefined
}

export class FolderSource implements Source {
  readonly isPublic = false
  #files = new Map<string, Indexed>()
  #dirMtimeMs = -1
  #scan: Promise<void> | undefined
  #generation = 0

  private constructor(
    readonly name: string,
    private readonly deps: { readonly dir: string; readonly logger: Logger },
  ) {}

  /** @throws Error when the folder cannot be read at start-up (a config mistake, reported early) */
  static async open(options: { name: string; dir: string; logger: Logger }): Promise<FolderSource> {
    const source = new FolderSource(options.name, options)
    await source.#fresh()
    return source
  }

  async has(project: string): Promise<boolean> {
    await this.#fresh()
    return [...this.#files.values()].some((file) => file.project === project)
  }

  async page(project: string): Promise<SourcePage> {
    await this.#fresh()
    const page = this.#page(project)
    if (!page) throw new NotFoundError(`folder source ${this.name} has no project ${JSON.stringify(project)}`)
    return page
  }

  /** The folder is read on every request, so a refresh only says whether the page changed since the last look. */
  async refresh(project: string, nowMs: number): Promise<PageRefresh> {
    const before = this.#page(project)?.identity
    try {
      const after = (await this.page(project)).identity
      return { outcome: before === after ? 'unchanged' : 'updated', serial: undefined, previousSerial: undefined, fetchedAtMs: nowMs }
    } catch (error) {
      return { outcome: 'failed', error, isLastGoodKept: false }
    }
  }

  peekPage(_project: string): SourcePage | undefined {
    // Every request looks at the folder (one stat), so nothing is "fresh in memory" here.
    return undefined
  }

  async file(project: string, fileName: string, listed: ProjectFile): Promise<FileResult> {
    await this.#fresh()
    const indexed = await this.#current(listed.filename)
    if (!indexed || indexed.project !== project) throw new NotFoundError(`folder source ${this.name} no longer has ${JSON.stringify(listed.filename)}`)
    if (fileName !== listed.filename) {
      const metadata = indexed.metadata
      if (!metadata || fileName !== `${listed.filename}${METADATA_SUFFIX}`) throw new NotFoundError(`folder source ${this.name} has no ${JSON.stringify(fileName)}`)
      return { kind: 'cached', cache: 'HIT', ref: { sha256: sha256Hex(metadata), size: metadata.byteLength }, open: async () => bytesReader(metadata) }
    }
    const path = join(this.deps.dir, indexed.fileName)
    return {
      kind: 'cached',
      cache: 'HIT',
      ref: { sha256: indexed.sha256, size: indexed.size },
      open: async () => {
        const handle = await open(path, 'r').catch(() => undefined)
        if (!handle) return undefined
        return {
          read: async (buffer, position, length) => (await handle.read(buffer, 0, length, position)).bytesRead,
          readSync: (buffer, position, length) => readSync(handle.fd, buffer, 0, length, position),
          close: async () => handle.close().catch(() => undefined),
        }
      },
    }
  }

  async names(): Promise<SourceNames> {
    await this.#fresh()
    const names = [...new Set([...this.#files.values()].map((file) => file.project))].sort()
    return { names, cache: 'HIT', identity: `${this.name}:${this.#generation}` }
  }

  #page(project: string): SourcePage | undefined {
    const files = [...this.#files.values()].filter((file) => file.project === project).sort((a, b) => a.fileName.localeCompare(b.fileName))
    if (files.length === 0) return undefined
    const page: ProjectPage = {
      name: project,
      // PEP 700 fields (size, upload-time) need api-version 1.1.
      meta: { apiVersion: '1.1' },
      versions: [],
      files: files.map((file): ProjectFile => ({
        filename: file.fileName,
        url: `file:///${encodeURIComponent(this.name)}/${encodeURIComponent(file.fileName)}`,
        hashes: { sha256: file.sha256 },
        ...(file.requiresPython !== undefined ? { requiresPython: file.requiresPython } : {}),
        yanked: false,
        coreMetadata: file.metadata ? { sha256: sha256Hex(file.metadata) } : false,
        size: file.size,
        uploadTime: new Date(file.mtimeMs).toISOString(),
      })),
    }
    const identity = sha256Hex(Buffer.from(files.map((file) => `${file.fileName}\n${file.sha256}\n${file.mtimeMs}`).join('\n'), 'utf8'))
    return { page, cache: 'HIT', serial: undefined, identity }
  }

  /** Rescans when the directory changed since the last scan; concurrent callers share one scan. */
  async #fresh(): Promise<void> {
    const dirStat = await stat(this.deps.dir)
    if (dirStat.mtimeMs === this.#dirMtimeMs) return
    this.#scan ??= this.#rescan(dirStat.mtimeMs).finally(() => (this.#scan = undefined))
    await this.#scan
  }

  async #rescan(dirMtimeMs: number): Promise<void> {
    const entries = await readdir(this.deps.dir, { withFileTypes: true })
    const next = new Map<string, Indexed>()
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.startsWith('.') || !DISTRIBUTION.test(entry.name) || !isSafeFileName(entry.name)) continue
      const indexed = await this.#index(entry.name, this.#files.get(entry.name))
      if (indexed) next.set(entry.name, indexed)
    }
    this.#files = next
    this.#dirMtimeMs = dirMtimeMs
    this.#generation += 1
    this.deps.logger.info('folder_scanned', { source: this.name, files: next.size })
  }

  /** The indexed entry, indexed again first when the file changed since. */
  async #current(fileName: string): Promise<Indexed | undefined> {
    const known = this.#files.get(fileName)
    const indexed = await this.#index(fileName, known)
    if (indexed !== known) {
      if (indexed) this.#files.set(fileName, indexed)
      else this.#files.delete(fileName)
      this.#generation += 1
    }
    return indexed
  }

  async #index(fileName: string, known: Indexed | undefined): Promise<Indexed | undefined> {
    const path = join(this.deps.dir, fileName)
    const project = projectOf(fileName)
    if (!project) return undefined
    try {
      const fileStat = await stat(path)
      if (known && known.size === fileStat.size && known.mtimeMs === fileStat.mtimeMs) return known
      const handle = await open(path, 'r')
      try {
        const readAt = async (position: number, length: number) => {
          const buffer = Buffer.alloc(length)
          const { bytesRead } = await handle.read(buffer, 0, length, position)
          return buffer.subarray(0, bytesRead)
        }
        const hash = createHasher('sha256')
        for (let position = 0; position < fileStat.size; position += HASH_CHUNK_BYTES) hash.update(await readAt(position, Math.min(HASH_CHUNK_BYTES, fileStat.size - position)))
        const metadata = fileName.endsWith('.whl') ? await readWheelMetadata(readAt, fileStat.size) : undefined
        return { fileName, project, size: fileStat.size, mtimeMs: fileStat.mtimeMs, sha256: hash.digestHex(), metadata, requiresPython: metadata ? requiresPythonOf(metadata) : undefined }
      } finally {
        await handle.close()
      }
    } catch (error) {
      // Removed between the listing and the read, or unreadable: left out until the next scan.
      this.deps.logger.warn('folder_file_skipped', { source: this.name, file: fileName, detail: describeError(error) })
      return undefined
    }
  }
}

function bytesReader(bytes: Uint8Array): BlobReader {
  const readSync = (buffer: Uint8Array, position: number, length: number) => {
    const chunk = bytes.subarray(position, position + length)
    buffer.set(chunk)
    return chunk.byteLength
  }
  return { readSync, read: async (buffer, position, length) => readSync(buffer, position, length), close: async () => undefined }
}
