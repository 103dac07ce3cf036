/**
 * The version of this build, as package.json says: read at run time from the package.json beside
 * the compiled code (dist/src/cli/ → the package root), so `--version`, the start line and a
 * release never disagree with the file npm publishes.
 */
import { readFileSync } from 'node:fs'

const PACKAGE_JSON = new URL('../../../package.json', import.meta.url)

/** @throws {Error} when package.json is missing or has no string `version` (a broken install). */
export function packageVersion(): string {
  const parsed: unknown = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8'))
  const version = typeof parsed === 'object' && parsed !== null && 'version' in parsed ? parsed.version : undefined
  if (typeof version !== 'string') throw new Error(`${PACKAGE_JSON.pathname} has no "version" string`)
  return version
}
