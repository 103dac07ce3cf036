/**
 * The version a distribution file's name carries: the binary distribution format's
 * `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, the source distribution format's
 * `{name}-{version}.tar.gz` (and older `.zip`, `.tar.bz2`, `.tgz`, `.tar`), and eggs'
 * `{name}-{version}(-{pyver}…)?.egg`. Names with hyphens in legacy sdists are resolved against
 * the project's normalized name. Nothing here checks that the version is valid PEP 440.
 */
import { normalizeName } from './names.js'

const SDIST_SUFFIX = /\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|tar|zip)$/i

/**
 * @param project the PEP 503 normalized project name
 * @returns the version text, or undefined when the name does not follow a known format
 */
export function fileVersion(project: string, fileName: string): string | undefined {
  if (fileName.endsWith('.whl')) {
    // Wheel names escape `-` in the name and version to `_`, so the second field is the version.
    const parts = fileName.slice(0, -4).split('-')
    return parts.length >= 5 ? parts[1] : undefined
  }
  const isEgg = fileName.endsWith('.egg')
  const stem = isEgg ? fileName.slice(0, -4) : fileName.replace(SDIST_SUFFIX, '')
  if (stem === fileName) return undefined
  const parts = stem.split('-')
  // An egg's version is one field (`-py3.8-…` follow it). An sdist's version is all that follows
  // the name, hyphens included, as installers read it (pip's _extract_version_from_fragment):
  // `x-2.0-1.tar.gz` is 2.0-1, that is 2.0.post1, and a policy must judge the version pip installs.
  const versionFrom = (i: number) => (isEgg ? parts[i] : parts.slice(i).join('-'))
  // The name may itself hold hyphens: take the shortest prefix that normalizes to the project.
  for (let i = 1; i < parts.length; i++) {
    if (normalizeName(parts.slice(0, i).join('-')) === project) return versionFrom(i)
  }
  return parts.length >= 2 ? versionFrom(1) : undefined
}
