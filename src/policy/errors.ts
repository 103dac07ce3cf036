/**
 * Policy's verdicts that refuse upstream data. Byte-level mismatches are `IntegrityError`s
 * (base/), shared with whoever streams the bytes; this file holds the decisions about freshness.
 */
import { ProxyError } from '../base/index.js'

/**
 * The upstream answered with a page older than one already seen (e.g. a lagging CDN node), or
 * with no serial at all after a page that had one.
 */
export class StaleUpstreamError extends ProxyError {
  readonly code = 'serial_regression'
  readonly fault = 'bad_upstream_data'
  constructor(
    readonly knownSerial: number,
    readonly receivedSerial: number | undefined,
  ) {
    super(
      receivedSerial === undefined
        ? `upstream served a page without a serial after serial ${knownSerial} was already seen for this page`
        : `upstream served serial ${receivedSerial}, older than serial ${knownSerial} already seen for this page`,
    )
  }
}
