/**
 * The simple-repository model shared by both serializations: PEP 503/691 with PEP 592 (yanked),
 * PEP 658/714 (core-metadata), PEP 700 (versions, size, upload-time) and PEP 629
 * (repository version). Parsers build it from untrusted pages, renderers turn it back into text.
 * Everything is readonly; an absent optional field is absent, never `undefined`-valued, so two
 * models compare equal with `deepStrictEqual` whichever format they came from.
 */

export interface IndexMeta {
  /** PEP 629 / PEP 691 `api-version`, "1.x". */
  readonly apiVersion: string
  /** PyPI's `_last-serial` (JSON) or `<!--SERIAL n-->` (HTML). */
  readonly lastSerial?: number | undefined
  /** Unknown JSON `meta` keys, passed through. */
  readonly extra?: Readonly<Record<string, unknown>>
}

export interface ProjectList {
  readonly meta: IndexMeta
  readonly projects: readonly { readonly name: string }[]
}

export interface ProjectFile {
  readonly filename: string
  /** Absolute http(s) URL, resolved against the page URL, fragment removed. */
  readonly url: string
  /** Algorithm → lower-case hex, from the `#alg=hex` fragment (HTML) or `hashes` (JSON). */
  readonly hashes: Readonly<Record<string, string>>
  readonly requiresPython?: string | undefined
  /** PEP 592: a string is the reason (and means yanked). */
  readonly yanked: boolean | string
  /** PEP 658/714: whether `<url>.metadata` exists, and its hashes when known. */
  readonly coreMetadata: false | true | Readonly<Record<string, string>>
  readonly gpgSig?: boolean | undefined
  /** PEP 700, bytes. */
  readonly size?: number | undefined
  /** PEP 700, ISO 8601 UTC. */
  readonly uploadTime?: string | undefined
  /** Unknown JSON file keys, passed through. */
  readonly extra?: Readonly<Record<string, unknown>>
}

/** PEP 792 project status markers: `active`, `archived`, `quarantined`, `deprecated` (others kept as given). */
export interface ProjectStatus {
  readonly status: string
  readonly reason?: string | undefined
}

export interface ProjectPage {
  /** The normalized project name. */
  readonly name: string
  readonly meta: IndexMeta
  /** PEP 792: JSON `project-status`, HTML `pypi:project-status` meta tags; absent means active. */
  readonly status?: ProjectStatus | undefined
  /** PEP 700 (api-version 1.1); absent for HTML pages. */
  readonly versions?: readonly string[] | undefined
  readonly files: readonly ProjectFile[]
  /** Unknown top-level JSON keys (e.g. PEP 708 `tracks`), passed through. */
  readonly extra?: Readonly<Record<string, unknown>>
}
