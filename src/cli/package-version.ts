/**
 * The version in package.json, read at run time, so the status page names the build that runs
 * without a copy to keep in step. The compiled file sits at dist/src/cli/, three levels below it.
 */
import { readFileSync } from 'node:fs'

/** package.json's `version`, or `unknown` when the file is missing or has none (never throws). */
export function packageVersion(): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
    if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') return parsed.version
  } catch {
    // A missing or unreadable package.json must not stop the proxy: the page then says so.
  }
  return 'unknown'
}
