/**
 * The index room's error family: an upstream simple-repository page (PEP 503 HTML or PEP 691
 * JSON) that cannot be trusted to mean one thing. The upstream index is at fault
 * (`bad_upstream_data`).
 */
import { ProxyError } from '../base/index.js'

/** An upstream project list or project page is malformed, hostile or of an unsupported version. */
export class IndexFormatError extends ProxyError {
  readonly code = 'malformed_index'
  readonly fault = 'bad_upstream_data'
}

/**
 * One file link on a page is malformed or hostile (a refused scheme, a bad digest, conflicting
 * duplicate digests, a link text that is not its file name). The link is dropped and the rest of
 * the page kept, so this is reported as a drop and never thrown to a client.
 */
export class LinkFormatError extends ProxyError {
  readonly code = 'malformed_link'
  readonly fault = 'bad_upstream_data'
}
