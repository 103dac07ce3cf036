/**
 * What can be wrong with a bundle or a request to make one. A bundle problem is the bundle's
 * fault (it was damaged or tampered with on the way across the gap, or made by something else);
 * a selection problem is the operator's (a requirement that is not pinned, an unknown project).
 */
import { ProxyError } from '../base/index.js'
import type { TrustErrorCode } from '../trust/index.js'

export type BundleProblemCode =
  | 'manifest_invalid'
  | 'entry_missing'
  | 'entry_unlisted'
  | 'entry_mismatch'
  | 'page_invalid'
  | 'not_on_page'
  | 'hash_mismatch'
  | 'length_mismatch'
  | 'no_strong_hash'
  // verifying mode: the bundle carries TUF metadata, checked from the importer's own root
  | 'tuf_root_required'
  | 'tuf_missing'
  | 'tuf_metadata_missing'
  | `tuf_${TrustErrorCode}`
  | 'target_mismatch'

/** One thing wrong with a bundle, as `import` lists it: the code and the path it concerns. */
export interface BundleProblem {
  readonly code: BundleProblemCode
  readonly path: string
  readonly detail: string
}

/** The bundle was refused: `problems` lists every reason found, not only the first. */
export class BundleRefusedError extends ProxyError {
  readonly code = 'bundle_refused'
  readonly fault = 'bad_upstream_data'
  constructor(readonly problems: readonly BundleProblem[]) {
    super(`the bundle was refused: ${problems.length} problem${problems.length === 1 ? '' : 's'} (${problems.map((problem) => `${problem.code} ${problem.path}`).join('; ')})`)
  }
}

/** The selection cannot be honoured as written: a requirement that is not pinned, a malformed specifier. */
export class SelectionError extends ProxyError {
  readonly code = 'bad_selection'
  readonly fault = 'bad_request'
}

/** A project page that cannot go into a bundle: it names another project, or was redirected (its relative links would resolve elsewhere on import). */
export class PageRefusedError extends ProxyError {
  readonly code = 'page_refused'
  readonly fault = 'bad_upstream_data'
}
