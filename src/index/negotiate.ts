/**
 * PEP 691 content negotiation for /simple/ responses: which of the three representations to
 * send, given the request's Accept header and optional `?format=`. Returning `undefined` means
 * 406; setting Vary and the status is http/'s job.
 *
 * Choices, with the spec and PyPI (warehouse `_select_content_type`) beside them:
 * - No Accept, or an empty one, gets text/html (PEP 691 treats it as `*\/*`; warehouse answers
 *   text/html).
 * - Each offer takes the q of its most specific matching range (exact > type/* > *\/*), so
 *   `*\/*;q=0.5, text/html;q=0` excludes text/html; the highest q wins and q=0 never does.
 * - Ties between formats the client named exactly go to the most featureful (PEP 691
 *   recommendations: JSON, then v1+html, text/html last). Ties reached only through wildcards go
 *   the other way, text/html first, as warehouse does: `*\/*` from a legacy tool must not switch
 *   it to a format it never asked for.
 * - `latest` (PEP 691) is an alias of v1; the response still says v1 (contentTypeOf).
 * - Nothing acceptable → 406 (PEP 691 option b). Warehouse falls back to text/html instead.
 * - `?format=` (PEP 691 "URL Parameter") takes precedence over Accept and must be exactly one
 *   known media type; an unknown value is a 406, not silently ignored.
 */

export type SimpleFormat = 'json-v1' | 'html-v1' | 'text-html'

const JSON_V1 = 'application/vnd.pypi.simple.v1+json'
const HTML_V1 = 'application/vnd.pypi.simple.v1+html'

const EXACT_TYPES: ReadonlyMap<string, SimpleFormat> = new Map([
  [JSON_V1, 'json-v1'],
  ['application/vnd.pypi.simple.latest+json', 'json-v1'],
  [HTML_V1, 'html-v1'],
  ['application/vnd.pypi.simple.latest+html', 'html-v1'],
  ['text/html', 'text-html'],
])
const TOP_LEVEL_TYPE: Readonly<Record<SimpleFormat, string>> = { 'json-v1': 'application', 'html-v1': 'application', 'text-html': 'text' }
const FEATURE_ORDER: readonly SimpleFormat[] = ['json-v1', 'html-v1', 'text-html']
const LEGACY_ORDER: readonly SimpleFormat[] = ['text-html', 'html-v1', 'json-v1']

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

const EXACT = 3
const SUBTYPE_WILDCARD = 2
const FULL_WILDCARD = 1

interface Match {
  specificity: number
  q: number
}

/** The specificity with which `range` covers `format`, 0 when it does not. */
function specificityOf(range: string, format: SimpleFormat): number {
  if (EXACT_TYPES.get(range) === format) return EXACT
  if (range === '*/*') return FULL_WILDCARD
  if (range === `${TOP_LEVEL_TYPE[format]}/*`) return SUBTYPE_WILDCARD
  return 0
}

/** Parsed ranges as [media range, q]; malformed entries are skipped, as if absent. */
function parseAccept(accept: string): Array<[string, number]> {
  const ranges: Array<[string, number]> = []
  for (const item of accept.split(',')) {
    const [rawRange = '', ...params] = item.split(';')
    const range = rawRange.trim().toLowerCase()
    const slash = range.indexOf('/')
    if (slash <= 0 || !TOKEN.test(range.slice(0, slash)) || !TOKEN.test(range.slice(slash + 1))) continue
    let q = 1
    let isValid = true
    for (const param of params) {
      const [key = '', value = ''] = param.split('=').map((part) => part.trim())
      if (key.toLowerCase() !== 'q') continue
      if (QVALUE.test(value)) q = Number(value)
      else isValid = false
    }
    if (isValid) ranges.push([range, q])
  }
  return ranges
}

/**
 * Picks the representation for a /simple/ response.
 * @param accept the Accept header, or undefined when absent
 * @param formatParam the `format` query parameter, or undefined when absent
 * @returns the format to send, or undefined for 406 Not Acceptable
 */
export function negotiate(accept: string | undefined, formatParam: string | undefined): SimpleFormat | undefined {
  if (formatParam !== undefined && formatParam !== '') return EXACT_TYPES.get(formatParam.trim().toLowerCase())
  if (accept === undefined || accept.trim() === '') return 'text-html'
  const ranges = parseAccept(accept)
  const matches = new Map<SimpleFormat, Match>()
  for (const format of FEATURE_ORDER) {
    let best: Match = { specificity: 0, q: 0 }
    for (const [range, q] of ranges) {
      const specificity = specificityOf(range, format)
      // The most specific range decides; among equally specific ones, the friendliest q.
      if (specificity > best.specificity || (specificity === best.specificity && specificity > 0 && q > best.q)) best = { specificity, q }
    }
    if (best.q > 0) matches.set(format, best)
  }
  const topQ = Math.max(0, ...[...matches.values()].map((match) => match.q))
  const tied = FEATURE_ORDER.filter((format) => matches.get(format)?.q === topQ)
  if (tied.length === 0) return undefined
  const named = tied.filter((format) => matches.get(format)?.specificity === EXACT)
  if (named.length > 0) return named[0]
  return LEGACY_ORDER.find((format) => tied.includes(format))
}

/** The Content-Type to send; `latest` requests are answered as v1 (PEP 691 requires this). */
export function contentTypeOf(format: SimpleFormat): string {
  switch (format) {
    case 'json-v1':
      return JSON_V1
    case 'html-v1':
      return `${HTML_V1}; charset=utf-8`
    case 'text-html':
      return 'text/html; charset=utf-8'
  }
}
