/**
 * A bundle directory being written: every item goes to a temp file in its final directory and is
 * renamed into place only when complete (and, for files, verified), so an interrupted `mirror`
 * (`kill -9` included) leaves whole items and temp files, never a half-written item under a real
 * name; temp files are swept when the directory is opened again.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { isTempName, writeFileAtomic } from '../store/index.js'

export const BUNDLE_DIRS = ['files', 'pages', 'tuf'] as const

/** A temp file being filled; `commit` renames it to its final name. */
export interface TempFile {
  write(chunk: Uint8Array): Promise<void>
  commit(relativePath: string): Promise<void>
  abort(): Promise<void>
}

export class BundleDir {
  private constructor(readonly root: string) {}

  /** Creates the directory layout and removes temp files a killed run left. */
  static async open(root: string): Promise<BundleDir> {
    await mkdir(root, { recursive: true })
    for (const sub of BUNDLE_DIRS) {
      await mkdir(join(root, sub), { recursive: true })
      for (const name of await readdir(join(root, sub))) if (isTempName(name)) await rm(join(root, sub, name), { force: true })
    }
    for (const name of await readdir(root)) if (isTempName(name)) await rm(join(root, name), { force: true })
    return new BundleDir(root)
  }

  async has(relativePath: string): Promise<boolean> {
    return stat(join(this.root, relativePath)).then((info) => info.isFile(), () => false)
  }

  /** The committed (non-temp) file names in `sub`. */
  async list(sub: (typeof BUNDLE_DIRS)[number]): Promise<string[]> {
    return (await readdir(join(this.root, sub))).filter((name) => !isTempName(name))
  }

  read(relativePath: string): Promise<Buffer> {
    return readFile(join(this.root, relativePath))
  }

  async remove(relativePath: string): Promise<void> {
    await rm(join(this.root, relativePath), { force: true })
  }

  /** Writes a whole item atomically (temp in the same directory, then rename). */
  async writeAtomic(relativePath: string, bytes: Uint8Array): Promise<void> {
    const slash = relativePath.lastIndexOf('/')
    const dir = slash < 0 ? this.root : join(this.root, relativePath.slice(0, slash))
    await writeFileAtomic({ dir, name: relativePath.slice(slash + 1), bytes, fsync: true })
  }

  /** A temp file in `sub`, to be renamed into `sub` once its bytes are verified. */
  async createTemp(sub: (typeof BUNDLE_DIRS)[number]): Promise<TempFile> {
    const tmpPath = join(this.root, sub, `.${randomBytes(8).toString('hex')}.tmp`)
    const handle: FileHandle = await open(tmpPath, 'wx')
    let isClosed = false
    const close = async () => {
      if (isClosed) return
      isClosed = true
      await handle.close()
    }
    return {
      write: async (chunk) => {
        await handle.write(chunk)
      },
      commit: async (relativePath) => {
        await handle.sync()
        await close()
        await rename(tmpPath, join(this.root, relativePath))
      },
      abort: async () => {
        await close().catch(() => undefined)
        await rm(tmpPath, { force: true })
      },
    }
  }
}
