/**
 * A single-pass HTML tokenizer covering just what simple-repository pages use: start tags with
 * attributes, end tags, text and comments. It follows the HTML tokenizer where that changes what
 * a link means (quote handling, first duplicate attribute wins, raw-text elements, EOF inside a
 * tag drops the tag, unterminated comments run to EOF) and nothing else: no tree building, no
 * character references beyond the basic named ones and numeric ones.
 *
 * Every construct is closed with one `indexOf` or forward scan from where the previous one ended,
 * and the cursor never moves back, so time is linear in the input whatever a hostile page does
 * (megabyte attributes, thousands of unclosed `<a`, unterminated quotes).
 */

export interface HtmlHandler {
  /** Names are lower-cased; attribute values are raw (call `decodeEntities`). */
  startTag(name: string, attributes: ReadonlyMap<string, string>): void
  endTag(name: string): void
  /** Text between tags, as offsets into the input so callers slice only what they keep. */
  text(start: number, end: number): void
  comment(body: string): void
}

// Elements whose content is text up to their end tag (HTML "raw text" / "RCDATA" elements, the
// ones Python's html.parser, and so pip, also treats so): a link inside <script> is no link.
const RAW_TEXT_END: ReadonlyMap<string, RegExp> = new Map(
  ['script', 'style', 'textarea', 'title'].map((name) => [name, new RegExp(`</${name}[\\t\\n\\f\\r />]`, 'gi')]),
)

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

/** Feeds `html` to `handler` in document order. */
export function scanHtml(html: string, handler: HtmlHandler): void {
  const length = html.length
  let pos = 0
  while (pos < length) {
    const lt = html.indexOf('<', pos)
    if (lt === -1) {
      handler.text(pos, length)
      return
    }
    if (lt > pos) handler.text(pos, lt)
    pos = readMarkup(html, lt, handler)
  }
}

/**
 * Reads the construct starting at `<` (index `lt`) and returns the index after it; `html.length`
 * when the construct runs to the end (unterminated), which a caller scanning slices treats as "wait for more".
 */
export function readMarkup(html: string, lt: number, handler: HtmlHandler): number {
  const length = html.length
  const next = html.charCodeAt(lt + 1)
  if (html.startsWith('<!--', lt)) {
    const end = html.indexOf('-->', lt + 4)
    handler.comment(html.slice(lt + 4, end === -1 ? length : end))
    return end === -1 ? length : end + 3
  }
  if (next === 0x21 /* ! */ || next === 0x3f /* ? */) return skipPast(html, lt + 2, '>')
  if (next === 0x2f /* / */) {
    let i = lt + 2
    while (i < length && isAsciiLetter(html.charCodeAt(i))) i++
    const end = skipPast(html, i, '>')
    if (i > lt + 2) handler.endTag(html.slice(lt + 2, i).toLowerCase())
    return end
  }
  if (!isAsciiLetter(next)) {
    handler.text(lt, lt + 1)
    return lt + 1
  }
  return readStartTag(html, lt, handler)
}

function skipPast(html: string, from: number, needle: string): number {
  const at = html.indexOf(needle, from)
  return at === -1 ? html.length : at + needle.length
}

function readStartTag(html: string, lt: number, handler: HtmlHandler): number {
  const length = html.length
  let i = lt + 1
  while (i < length) {
    const code = html.charCodeAt(i)
    if (isWhitespace(code) || code === 0x2f || code === 0x3e) break
    i++
  }
  const name = html.slice(lt + 1, i).toLowerCase()
  const attributes = new Map<string, string>()
  for (;;) {
    while (i < length && (isWhitespace(html.charCodeAt(i)) || html.charCodeAt(i) === 0x2f)) i++
    // HTML: end of file inside a tag drops the tag.
    if (i >= length) return length
    if (html.charCodeAt(i) === 0x3e) {
      i++
      break
    }
    const nameStart = i
    i++ // at least one character, so `=` at the start of a name cannot stall the loop
    while (i < length) {
      const code = html.charCodeAt(i)
      if (isWhitespace(code) || code === 0x2f || code === 0x3e || code === 0x3d) break
      i++
    }
    const attributeName = html.slice(nameStart, i).toLowerCase()
    while (i < length && isWhitespace(html.charCodeAt(i))) i++
    let value = ''
    if (html.charCodeAt(i) === 0x3d /* = */) {
      i++
      while (i < length && isWhitespace(html.charCodeAt(i))) i++
      const quote = html.charCodeAt(i)
      if (quote === 0x22 || quote === 0x27) {
        const close = html.indexOf(quote === 0x22 ? '"' : "'", i + 1)
        if (close === -1) return length
        value = html.slice(i + 1, close)
        i = close + 1
      } else {
        const valueStart = i
        while (i < length && !isWhitespace(html.charCodeAt(i)) && html.charCodeAt(i) !== 0x3e) i++
        value = html.slice(valueStart, i)
      }
    }
    // HTML: of duplicate attributes the first wins (a later one cannot override a checked one).
    if (!attributes.has(attributeName)) attributes.set(attributeName, value)
  }
  handler.startTag(name, attributes)
  const rawTextEnd = RAW_TEXT_END.get(name)
  if (rawTextEnd === undefined) return i
  rawTextEnd.lastIndex = i
  const match = rawTextEnd.exec(html)
  if (match === null) return length
  handler.endTag(name)
  return skipPast(html, match.index, '>')
}

const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', '\u00a0'],
])

// Numeric references with or without `;`; named ones need `;`, except the four legacy ones HTML
// also decodes bare, and (as in attributes) not when followed by an alphanumeric or `=`.
const CHARACTER_REFERENCE = /&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([A-Za-z][A-Za-z0-9]*);|(amp|lt|gt|quot)(?![A-Za-z0-9=]))/g

function fromCodePoint(codePoint: number): string {
  // HTML: NUL, surrogates and values past U+10FFFF become U+FFFD.
  if (codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return '\ufffd'
  return String.fromCodePoint(codePoint)
}

/** Decodes character references, so checks see what a browser or pip would see. */
export function decodeEntities(raw: string): string {
  if (!raw.includes('&')) return raw
  return raw.replace(CHARACTER_REFERENCE, (whole, hex?: string, decimal?: string, named?: string, bare?: string) => {
    if (hex !== undefined) return fromCodePoint(Number.parseInt(hex, 16))
    if (decimal !== undefined) return fromCodePoint(Number.parseInt(decimal, 10))
    return NAMED_ENTITIES.get(named ?? bare ?? '') ?? whole
  })
}

function isAsciiWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d
}

// A hand loop: a `\s+$` regex goes quadratic on long runs of inner whitespace.
export function trimAsciiWhitespace(text: string): string {
  let start = 0
  let end = text.length
  while (start < end && isAsciiWhitespace(text.charCodeAt(start))) start++
  while (end > start && isAsciiWhitespace(text.charCodeAt(end - 1))) end--
  return text.slice(start, end)
}
