/**
 * Temporary directories a suite makes as it goes (bundles, caches, import targets), each under the
 * system's temp folder, all removed together in the suite's `after`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDirs(): { readonly dir: (prefix: string) => string; readonly removeAll: () => void } {
  const made: string[] = []
  return {
    dir: (prefix) => {
      const path = mkdtempSync(join(tmpdir(), `tuf-proxy-${prefix}-`))
      made.push(path)
      return path
    },
    removeAll: () => {
      for (const path of made) rmSync(path, { recursive: true, force: true })
    },
  }
}
