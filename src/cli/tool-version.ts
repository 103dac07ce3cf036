/** The package version, for bundle manifests (`tool_version`). */
import { readFileSync } from 'node:fs'

export function toolVersion(): string {
  // dist/src/cli/ → the package root; the file ships with the package.
  const parsed: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
  return typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string' ? `tuf-proxy ${parsed.version}` : 'tuf-proxy'
}
