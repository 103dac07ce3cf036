/**
 * Which part of a cached file a GET asks for: RFC 9110 §14 byte ranges with §13.1.5 If-Range.
 * One range is served as 206; several are served whole (200), which §14.2 allows ("a server MAY
 * ignore the Range header field") and which spares the multipart/byteranges body no package
 * client asks for. Pure: headers in, a decision out; send-file.ts writes it.
 */

export type RangeDecision =
  | { readonly kind: 'whole' }
  /** `start` and `end` inclusive, as Content-Range writes them */
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' }

const WHOLE: RangeDecision = { kind: 'whole' }
/** More range specs than this is no client's resume: the request is served whole without reading them. */
const MAX_RANGE_SPECS = 100

/**
 * @param request.range the Range header, if any
 * @param request.ifRange the If-Range header, if any
 * @param representation.etag the strong ETag of what would be sent (a quoted string)
 */
export function decideRange(
  request: { readonly range: string | undefined; readonly ifRange: string | undefined },
  representation: { readonly etag: string | undefined; readonly size: number },
): RangeDecision {
  const { range, ifRange } = request
  if (range === undefined) return WHOLE
  // RFC 9110 §13.1.5: If-Range holds an entity-tag, compared strongly, or a date; this proxy
  // sends no Last-Modified, so a date never matches. Either way, no match means the whole file.
  if (ifRange !== undefined && (representation.etag === undefined || ifRange.trim() !== representation.etag)) return WHOLE
  // RFC 9110 §14.1.1: ranges-specifier = range-unit "=" range-set; an unknown unit is ignored (§14.2).
  const specifier = /^bytes=(.*)$/is.exec(range.trim())
  if (!specifier) return WHOLE
  // #rule lists (§5.6.1) may carry empty elements and optional whitespace around commas.
  const specs = (specifier[1] ?? '').split(',').map((spec) => spec.trim()).filter((spec) => spec !== '')
  if (specs.length === 0 || specs.length > MAX_RANGE_SPECS) return WHOLE
  const { size } = representation
  const satisfiable: Array<{ start: number; end: number }> = []
  for (const spec of specs) {
    const parsed = parseSpec(spec, size)
    // A syntactically invalid range-set makes the header invalid; it is ignored (§14.2).
    if (parsed === 'invalid') return WHOLE
    if (parsed !== 'unsatisfiable') satisfiable.push(parsed)
  }
  // §15.5.17: 416 only when no range overlaps the representation.
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' }
  const [only] = satisfiable
  if (specs.length > 1 || only === undefined) return WHOLE
  return { kind: 'partial', start: only.start, end: only.end }
}

/** One range-spec (§14.1.1) against a representation of `size` bytes. */
function parseSpec(spec: string, size: number): { start: number; end: number } | 'unsatisfiable' | 'invalid' {
  const intRange = /^(\d+)-(\d*)$/.exec(spec)
  if (intRange) {
    const first = Number(intRange[1])
    const last = intRange[2] === '' ? Infinity : Number(intRange[2])
    // §14.1.1: a last-pos below the first-pos makes the range-spec invalid.
    if (last < first) return 'invalid'
    // §14.1.1: satisfiable when first-pos is below the length; a last-pos past the end is clamped.
    if (first >= size) return 'unsatisfiable'
    return { start: first, end: Math.min(last, size - 1) }
  }
  const suffixRange = /^-(\d+)$/.exec(spec)
  if (suffixRange) {
    const suffixLength = Number(suffixRange[1])
    if (suffixLength === 0) return 'unsatisfiable'
    // A suffix of an empty file is satisfiable (§14.1.1) but has no first-last to write in a
    // Content-Range; the empty file is served whole instead.
    if (size === 0) return 'invalid'
    return { start: Math.max(0, size - suffixLength), end: size - 1 }
  }
  return 'invalid'
}
