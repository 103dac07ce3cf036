/**
 * Read access to a bundle on the importing side, whichever container it came in: a directory
 * or (tar.ts) one `.tar`. Import sees relative paths and byte streams, nothing else, so a hostile
 * bundle cannot point it outside itself: a symlink or other non-regular file is reported, never
 * followed.
 */
import { createReadStream } from 'node:fs'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface BundleSource {
  /** Every path in the bundle, relative, with whether it is a regular file. */
  list(): Promise<ReadonlyArray<{ readonly path: string; readonly isRegular: boolean }>>
  /** The whole item (for the manifest and pages, which are small). undefined when absent. */
  readBytes(path: string): Promise<Buffer | undefined>
  /** The item's bytes in chunks. */
  stream(path: string): AsyncIterable<Uint8Array>
  readonly description: string
}

export function directorySource(root: string): BundleSource {
  const walk = async (relative: string): Promise<Array<{ path: string; isRegular: boolean }>> => {
    const found: Array<{ path: string; isRegular: boolean }> = []
    for (const name of await readdir(join(root, relative))) {
      const path = relative === '' ? name : `${relative}/${name}`
      const info = await lstat(join(root, path))
      if (info.isDirectory()) found.push(...(await walk(path)))
      else found.push({ path, isRegular: info.isFile() })
    }
    return found
  }
  return {
    description: root,
    list: () => walk(''),
    readBytes: async (path) => {
      const info = await lstat(join(root, path)).catch(() => undefined)
      if (!info?.isFile()) return undefined
      return readFile(join(root, path))
    },
    stream: (path) => createReadStream(join(root, path), { highWaterMark: 1024 * 1024 }),
  }
}
