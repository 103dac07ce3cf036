/**
 * What a distribution's file name says: its kind, version and, for wheels, its compatibility
 * tags (packaging specifications: "Binary distribution format" §File name convention, "Source
 * distribution format" §Source distribution file name, "Platform compatibility tags"), and whether
 * a wheel's tags fit a target interpreter and platform.
 *
 * The fit is the CPython one that `pip download --python-version X.Y --platform TAG` uses:
 * `cpXY`/`abi3`/`none` ABIs, `pyX`/`pyXY` interpreter tags up to the target, `any`, and for
 * `manylinux_2_N_<arch>` every older glibc and the legacy aliases (PEP 600). Other platform tags
 * (macOS, Windows, musllinux) must be named exactly, as pip's `--platform` treats them unless its
 * own expansion is asked for.
 */
import { normalizeName } from './names.js'

export interface WheelTag {
  readonly python: string
  readonly abi: string
  readonly platform: string
}

export type DistFile =
  | { readonly kind: 'wheel'; readonly project: string; readonly version: string; readonly tags: readonly WheelTag[] }
  | { readonly kind: 'sdist'; readonly project: string; readonly version: string }

const SDIST_SUFFIXES = ['.tar.gz', '.zip', '.tar.bz2', '.tar.xz', '.tgz', '.tar']

/** The file's kind, normalized project name and version; undefined for a name neither format allows. */
export function parseDistFileName(fileName: string): DistFile | undefined {
  if (fileName.endsWith('.whl')) {
    // {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
    const parts = fileName.slice(0, -'.whl'.length).split('-')
    if (parts.length !== 5 && parts.length !== 6) return undefined
    const [name, version, ...rest] = parts
    const [python, abi, platform] = rest.slice(-3)
    if (!name || !version || !python || !abi || !platform) return undefined
    // Compressed tag sets: `py2.py3-none-any` is two tags (§Compressed tag sets).
    const tags = python.split('.').flatMap((p) => abi.split('.').flatMap((a) => platform.split('.').map((pl) => ({ python: p, abi: a, platform: pl }))))
    return { kind: 'wheel', project: normalizeName(name), version, tags }
  }
  const suffix = SDIST_SUFFIXES.find((s) => fileName.toLowerCase().endsWith(s))
  if (!suffix) return undefined
  const stem = fileName.slice(0, -suffix.length)
  // Legacy sdist names may have hyphens in the name; a version never contains one once normalized.
  const cut = stem.lastIndexOf('-')
  if (cut <= 0) return undefined
  return { kind: 'sdist', project: normalizeName(stem.slice(0, cut)), version: stem.slice(cut + 1) }
}

export interface TagTarget {
  /** "3.12"; empty = any interpreter */
  readonly pythonVersions: readonly string[]
  /** platform tags as pip's --platform takes them; empty = any platform */
  readonly platforms: readonly string[]
}

/** PEP 600: the legacy manylinux names are these glibc versions. */
const LEGACY_MANYLINUX: Readonly<Record<string, string>> = { manylinux1: '2_5', manylinux2010: '2_12', manylinux2014: '2_17' }

function manylinuxOf(platform: string): { glibc: [number, number]; arch: string } | undefined {
  const modern = /^manylinux_(\d+)_(\d+)_(.+)$/.exec(platform)
  if (modern) return { glibc: [Number(modern[1]), Number(modern[2])], arch: modern[3] ?? '' }
  const legacy = /^(manylinux1|manylinux2010|manylinux2014)_(.+)$/.exec(platform)
  if (!legacy) return undefined
  const [major, minor] = (LEGACY_MANYLINUX[legacy[1] ?? ''] ?? '0_0').split('_').map(Number)
  return { glibc: [major ?? 0, minor ?? 0], arch: legacy[2] ?? '' }
}

function platformFits(tag: string, wanted: string): boolean {
  if (tag === 'any' || tag === wanted) return true
  const have = manylinuxOf(tag)
  const want = manylinuxOf(wanted)
  // PEP 600: a system with glibc 2.N runs wheels built for any older glibc of the same architecture.
  if (!have || !want || have.arch !== want.arch) return false
  return have.glibc[0] < want.glibc[0] || (have.glibc[0] === want.glibc[0] && have.glibc[1] <= want.glibc[1])
}

function pythonFits(tag: WheelTag, version: string): boolean {
  const [major, minor] = version.split('.').map(Number)
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return false
  const interpreter = /^(py|cp)(\d)(\d*)$/.exec(tag.python)
  if (!interpreter) return false
  const tagMajor = Number(interpreter[2])
  const tagMinor = interpreter[3] === '' ? undefined : Number(interpreter[3])
  if (tagMajor !== major || (tagMinor !== undefined && tagMinor > minor)) return false
  const exact = tagMinor === minor
  // §ABI tag: `none` is any ABI; `abi3` the stable ABI of CPython 3.2+ (cp tags up to the target);
  // `cpXY` (with or without the old `m`/`d`/`u` flags, or free-threaded `t`) only that very version.
  if (tag.abi === 'none') return true
  if (tag.abi === 'abi3') return interpreter[1] === 'cp'
  return interpreter[1] === 'cp' && exact && new RegExp(`^cp${major}${minor}[dmut]*$`).test(tag.abi)
}

/** Whether any of the wheel's tags fits any of the target's (interpreter, platform) pairs. */
export function wheelFits(tags: readonly WheelTag[], target: TagTarget): boolean {
  return tags.some(
    (tag) =>
      (target.pythonVersions.length === 0 || target.pythonVersions.some((version) => pythonFits(tag, version))) &&
      (target.platforms.length === 0 || target.platforms.some((platform) => platformFits(tag.platform, platform))),
  )
}
