/**
 * The upstream's files on disk, laid out the way the proxy expects a PEP 691 index:
 * `simple/<project>/index.json` (served as `application/vnd.pypi.simple.v1+json`) listing
 * `files/<file name>` with its true sha256 and size. Bytes are deterministic and written in
 * 1 MiB blocks, so a 500 MB file costs no more memory than a small one. It does not serve them.
 */
import { createHash } from 'node:crypto'
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { bulkBytes } from '../test/helpers/wheels.js'

export interface BenchFile {
  readonly project: string
  readonly filename: string
  readonly size: number
  readonly sha256: string
}

const BLOCK_BYTES = 1024 * 1024

/** Writes `size` bytes derived from `seed` to `path`; returns their sha256. */
export function writeBulkFile(path: string, size: number, seed: number): string {
  const block = bulkBytes(BLOCK_BYTES, seed)
  const hash = createHash('sha256')
  const fd = openSync(path, 'w')
  try {
    for (let written = 0; written < size; ) {
      const part = block.subarray(0, Math.min(BLOCK_BYTES, size - written))
      // A counter in every block keeps blocks distinct, as real compressed data is.
      part.writeUInt32LE(written / BLOCK_BYTES, 0)
      hash.update(part)
      writeSync(fd, part)
      written += part.byteLength
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

/**
 * Adds one project to the upstream tree under `wwwDir`, its files of the given sizes filled from
 * consecutive seeds starting at `seed`.
 */
export function addProject(options: {
  wwwDir: string
  upstreamOrigin: string
  project: string
  sizes: readonly number[]
  seed: number
  /** the upstream path files are listed under: `files`, or `slow` (nginx's rate-limited alias) */
  filesPath?: 'files' | 'slow'
}): BenchFile[] {
  const { wwwDir, upstreamOrigin, project, sizes, seed } = options
  mkdirSync(join(wwwDir, 'files'), { recursive: true })
  mkdirSync(join(wwwDir, 'simple', project), { recursive: true })
  const module = project.replace(/-/g, '_')
  const files = sizes.map((size, i) => {
    const filename = `${module}-1.0.${i}-py3-none-any.whl`
    const sha256 = writeBulkFile(join(wwwDir, 'files', filename), size, seed + i)
    return { project, filename, size, sha256 }
  })
  const page = {
    meta: { 'api-version': '1.1', '_last-serial': 1000 + seed },
    name: project,
    versions: sizes.map((_size, i) => `1.0.${i}`),
    files: files.map((file) => ({
      filename: file.filename,
      url: `${upstreamOrigin}/${options.filesPath ?? 'files'}/${file.filename}`,
      hashes: { sha256: file.sha256 },
      'requires-python': '>=3.8',
      size: file.size,
      'upload-time': '2025-01-01T00:00:00.000000Z',
    })),
  }
  writeFileSync(join(wwwDir, 'simple', project, 'index.json'), JSON.stringify(page))
  return files
}

/** Places bytes the reference server serves at `/ref/<name>` (e.g. the proxy's rendered page). */
export function addReference(wwwDir: string, name: string, bytes: Uint8Array): string {
  mkdirSync(join(wwwDir, 'ref'), { recursive: true })
  writeFileSync(join(wwwDir, 'ref', name), bytes)
  return `/ref/${name}`
}
