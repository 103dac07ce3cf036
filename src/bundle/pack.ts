/**
 * `mirror --tar`: the finished bundle directory packed into one ustar file, written to a temp
 * name beside it and renamed, so the `.tar` is whole or absent. `openBundle` gives import either
 * form.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Manifest } from './manifest.js'
import { directorySource, type BundleSource } from './source.js'
import { tarSource, writeTar } from './tar.js'

export async function packBundle(dir: string, tarPath: string, manifest: Manifest, mtimeSeconds: number): Promise<void> {
  const paths = ['manifest.json', ...new Set(manifest.entries.map((entry) => entry.path))]
  const members = await Promise.all(paths.map(async (path) => ({ path, size: (await stat(join(dir, path))).size })))
  const tmpPath = join(dirname(tarPath), `.${randomBytes(8).toString('hex')}.tmp`)
  try {
    await writeTar(tmpPath, members, (path) => createReadStream(join(dir, path), { highWaterMark: 1024 * 1024 }), mtimeSeconds)
    await rename(tmpPath, tarPath)
  } catch (error) {
    await rm(tmpPath, { force: true })
    throw error
  }
}

/** A bundle directory, or a `.tar` written by `mirror --tar`. @throws fs errors; Error for a malformed tar */
export async function openBundle(path: string): Promise<BundleSource> {
  const info = await stat(path)
  return info.isDirectory() ? directorySource(path) : tarSource(path)
}
