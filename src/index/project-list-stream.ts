/**
 * The project list (`/simple/`, about 700,000 names on PyPI) from upstream bytes to the proxy's two
 * renderings, a piece at a time as the bytes arrive (issue 7 item 16, issue 9). No list model is
 * built and nothing is kept: each piece's names are rendered into entries the caller appends to
 * its renderings (mirror/ writes them to disk), and the document around the entries (the frame,
 * which carries the meta) is known at the end. The caller cuts the upstream's bytes into pieces
 * small enough for one turn of the event loop.
 *
 * What is accepted, and the bytes produced, are those of parseProjectList{Html,Json} followed by
 * renderProjectList{Html,Json} (the tests compare them), with two deliberate differences: a
 * `<base href>` is not checked, since the list keeps no links; and in JSON the fields other than
 * `projects`, and each project entry, are bounded (MAX_JSON_PART_CHARS), since they are parsed
 * in one piece.
 */
import { IndexFormatError } from './errors.js'
import { checkApiVersion } from './file-fields.js'
import { renderProjectListHtml } from './html-render.js'
import { decodeEntities, readMarkup, trimAsciiWhitespace, type HtmlHandler } from './html-tokenizer.js'
import { parseProjectListJson } from './json-parse.js'
import { renderProjectListJson } from './json-render.js'
import type { IndexMeta, ProjectList } from './model.js'
import { isValidProjectName } from './names.js'

/**
 * The entries rendered from some names, in both formats, to append in order after a rendering's
 * head. Text, not bytes: the caller encodes it into a buffer it reuses (UTF-8 never takes more
 * than 3 bytes per UTF-16 code unit).
 */
export interface RenderedEntries {
  /** PEP 503 HTML, for both text/html and application/vnd.pypi.simple.v1+html */
  readonly html: string
  /** PEP 691 JSON, with the comma before it unless it holds the first entry */
  readonly json: string
}

/** A rendering's document around its entries: `head`, the entries, `tail`. */
export interface ListFrame {
  readonly head: Buffer
  readonly tail: Buffer
}

/** The end of the list: its meta, the last entries, and each rendering's frame. */
export interface ProjectListEnd {
  readonly meta: IndexMeta
  readonly projectCount: number
  readonly entries: RenderedEntries
  readonly html: ListFrame
  readonly json: ListFrame
}

/** JSON text parsed in one piece: everything but the projects array, and any one project entry. */
const MAX_JSON_PART_CHARS = 1024 * 1024
const SERIAL_COMMENT = /^\s*SERIAL\s+(\d{1,15})\s*$/
/** Rendering entries with a fixed meta, then cutting the document's frame off (see frame()). */
const FRAME_META: IndexMeta = { apiVersion: '1.0' }
const HTML_MARKER = '  </body>'
const JSON_MARKER = ']}'

/** A document split where the project entries go: before the last `marker`. */
function frame(document: string, marker: string): ListFrame {
  const at = document.lastIndexOf(marker)
  return { head: Buffer.from(document.slice(0, at), 'utf8'), tail: Buffer.from(document.slice(at), 'utf8') }
}

function htmlFrame(meta: IndexMeta): ListFrame {
  return frame(renderProjectListHtml({ meta, projects: [] }), HTML_MARKER)
}

function jsonFrame(meta: IndexMeta): ListFrame {
  return frame(renderProjectListJson({ meta, projects: [] }), JSON_MARKER)
}

/**
 * Renders an upstream project list (PEP 503 HTML or PEP 691 JSON) in both formats as its bytes
 * come: push() each piece in order, then finish().
 */
export class ProjectListRenderer {
  readonly #out = new RenderedChunks()
  readonly #scanner: ListScanner
  readonly #decoder = new TextDecoder('utf-8', { fatal: false })

  constructor(format: 'html' | 'json') {
    this.#scanner = format === 'html' ? new HtmlListScanner(this.#out) : new JsonListScanner(this.#out)
  }

  /**
   * Scans the next bytes of the list.
   * @returns the entries of the names completed by them (empty when none)
   * @throws {IndexFormatError} when the list is already known to be malformed
   */
  push(bytes: Uint8Array): RenderedEntries {
    this.#scanner.push(this.#decoder.decode(bytes, { stream: true }))
    return this.#out.flushNames()
  }

  /**
   * The renderings' heads for the meta read so far: what they start with unless the meta still
   * changes (a JSON `meta` after the projects, an HTML version tag after the first link), which
   * finish() tells.
   */
  headsSoFar(): { readonly html: Buffer; readonly json: Buffer } {
    const meta = this.#scanner.metaSoFar()
    return { html: htmlFrame(meta).head, json: jsonFrame(meta).head }
  }

  /**
   * The end of the list.
   * @throws {IndexFormatError} when the list is malformed, as the one-piece parsers would
   */
  finish(pageUrl: string): ProjectListEnd {
    this.#scanner.push(this.#decoder.decode())
    const meta = this.#scanner.finish(pageUrl)
    const entries = this.#out.flushNames()
    return { meta, projectCount: this.#out.count, entries, html: htmlFrame(meta), json: jsonFrame(meta) }
  }
}

const NO_ENTRIES: RenderedEntries = { html: '', json: '' }

/** Names found so far, rendered a piece at a time by the one-piece renderers. */
class RenderedChunks {
  count = 0
  #names: Array<{ readonly name: string }> = []
  readonly #htmlFrame = htmlFrame(FRAME_META)
  readonly #jsonFrame = jsonFrame(FRAME_META)

  add(name: string): void {
    this.#names.push({ name })
  }

  flushNames(): RenderedEntries {
    if (this.#names.length === 0) return NO_ENTRIES
    const list: ProjectList = { meta: FRAME_META, projects: this.#names }
    const html = inner(renderProjectListHtml(list), this.#htmlFrame)
    const json = inner(renderProjectListJson(list), this.#jsonFrame)
    const isFirst = this.count === 0
    this.count += this.#names.length
    this.#names = []
    return { html, json: isFirst ? json : `,${json}` }
  }
}

/** The entries of a document rendered with FRAME_META, whose frame is ASCII: bytes and characters count alike. */
function inner(document: string, around: ListFrame): string {
  return document.slice(around.head.byteLength, document.length - around.tail.byteLength)
}

interface ListScanner {
  /** The next decoded slice of the page. */
  push(text: string): void
  /** The meta as far as read, unchecked (see ProjectListRenderer.headsSoFar). */
  metaSoFar(): IndexMeta
  /** End of page: the meta, once everything was seen. @throws {IndexFormatError} */
  finish(pageUrl: string): IndexMeta
}

/**
 * PEP 503 HTML, read as parseProjectListHtml reads it (html-tokenizer.ts), one slice at a time. A
 * construct that runs past the end of the text so far is read again once more text has come;
 * when a round makes no progress at all (one construct longer than the text so far), the next
 * round waits for twice as much text, so a hostile megabyte comment is read a bounded number of
 * times and the whole scan stays linear.
 */
class HtmlListScanner implements ListScanner {
  #text = ''
  #waitForChars = 0
  #open: { hasHref: boolean; text: string } | undefined
  #apiVersion: string | undefined
  #lastSerial: number | undefined
  /** events of the construct being read, applied only once it is known to be complete */
  #deferred: Array<() => void> = []

  constructor(private readonly out: RenderedChunks) {}

  push(text: string): void {
    this.#text += text
    if (this.#text.length >= this.#waitForChars) this.#scan(false)
  }

  metaSoFar(): IndexMeta {
    return { apiVersion: this.#apiVersion ?? '1.0' }
  }

  finish(): IndexMeta {
    this.#scan(true)
    this.#close()
    // PEP 629: a page without the meta tag is version 1.0.
    const meta: IndexMeta = { apiVersion: checkApiVersion(this.#apiVersion ?? '1.0', 'pypi:repository-version meta tag') }
    return this.#lastSerial === undefined ? meta : { ...meta, lastSerial: this.#lastSerial }
  }

  #scan(isFinal: boolean): void {
    const html = this.#text
    const length = html.length
    const handler = this.#handler(html)
    let pos = 0
    while (pos < length) {
      const lt = html.indexOf('<', pos)
      if (lt === -1) {
        handler.text(pos, length)
        pos = length
        break
      }
      if (lt > pos) handler.text(pos, lt)
      pos = lt
      this.#deferred = []
      const end = readMarkup(html, lt, this.#deferringHandler(handler))
      // A construct that reaches the end of the text may be cut short by the slice boundary.
      if (end >= length && !isFinal) break
      for (const apply of this.#deferred) apply()
      pos = end
    }
    this.#deferred = []
    this.#waitForChars = pos === 0 && !isFinal ? length * 2 : 0
    this.#text = html.slice(pos)
  }

  #deferringHandler(handler: HtmlHandler): HtmlHandler {
    return {
      startTag: (name, attributes) => void this.#deferred.push(() => handler.startTag(name, attributes)),
      endTag: (name) => void this.#deferred.push(() => handler.endTag(name)),
      text: (start, end) => void this.#deferred.push(() => handler.text(start, end)),
      comment: (body) => void this.#deferred.push(() => handler.comment(body)),
    }
  }

  #close(): void {
    const open = this.#open
    if (open === undefined) return
    this.#open = undefined
    const name = trimAsciiWhitespace(decodeEntities(open.text))
    if (open.hasHref && isValidProjectName(name)) this.out.add(name)
  }

  #handler(html: string): HtmlHandler {
    return {
      startTag: (name, attributes) => {
        if (name === 'a') {
          // HTML: an <a> start tag closes an <a> still open.
          this.#close()
          this.#open = { hasHref: attributes.has('href'), text: '' }
        } else if (name === 'meta' && this.#apiVersion === undefined) {
          if (decodeEntities(attributes.get('name') ?? '').toLowerCase() === 'pypi:repository-version') {
            this.#apiVersion = decodeEntities(attributes.get('content') ?? '').trim()
          }
        }
      },
      endTag: (name) => {
        if (name === 'a') this.#close()
      },
      text: (start, end) => {
        if (this.#open !== undefined) this.#open.text += html.slice(start, end)
      },
      comment: (body) => {
        const match = this.#lastSerial === undefined ? SERIAL_COMMENT.exec(body) : null
        if (match?.[1] !== undefined) this.#lastSerial = Number(match[1])
      },
    }
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * PEP 691 JSON: a scan of the structure (strings, nesting) finds the top-level `projects` array
 * and the commas between its entries; the entries are parsed a batch at a time with JSON.parse,
 * and everything else (the frame: `meta` and any other key) is parsed once at the end by
 * parseProjectListJson with the array emptied, which keeps its checks and messages. Each batch
 * is parsed with a leading `null,` so that an empty entry (`[,a]`, `[a,,b]`, `[a,]`) is the
 * syntax error it is in the whole document.
 */
class JsonListScanner implements ListScanner {
  /** unconsumed text: the frame so far (before, after), or unparsed entries (in-array) */
  #text = ''
  #pos = 0
  #phase: 'before' | 'in-array' | 'after' = 'before'
  #depth = 0
  #isInString = false
  #isEscaped = false
  /** at depth 1, whether the next string is a key */
  #expectKey = false
  #keyStart = -1
  #lastKey: string | undefined
  /** the frame up to and including the array's `[` */
  #frameHead = ''
  /** in-array: the last comma between entries in #text, -1 when none yet */
  #lastComma = -1
  #isFirstBatch = true
  #entryIndex = 0

  constructor(private readonly out: RenderedChunks) {}

  push(text: string): void {
    this.#text += text
    this.#scan()
    if (this.#phase === 'in-array' && this.#lastComma >= 0) {
      this.#parseBatch(this.#text.slice(0, this.#lastComma), false)
      this.#text = this.#text.slice(this.#lastComma)
      this.#pos -= this.#lastComma
      this.#lastComma = -1
    }
    if (this.#text.length > MAX_JSON_PART_CHARS) {
      throw new IndexFormatError(`project list: ${this.#phase === 'in-array' ? 'one project entry' : 'the fields besides "projects"'} exceed ${MAX_JSON_PART_CHARS} characters`)
    }
  }

  metaSoFar(): IndexMeta {
    try {
      // The frame so far with the array closed empty: its meta, when the meta came first.
      return parseProjectListJson(`${this.#frameHead}]}`, '').meta
    } catch {
      return { apiVersion: '1.0' }
    }
  }

  finish(pageUrl: string): IndexMeta {
    if (this.#phase === 'in-array') throw new IndexFormatError('project list is not valid JSON: the projects array is not closed')
    return parseProjectListJson(`${this.#frameHead}${this.#text}`, pageUrl).meta
  }

  #scan(): void {
    let text = this.#text
    let i = this.#pos
    while (i < text.length) {
      const code = text.charCodeAt(i)
      if (this.#isInString) {
        if (this.#isEscaped) this.#isEscaped = false
        else if (code === BACKSLASH) this.#isEscaped = true
        else if (code === QUOTE) {
          this.#isInString = false
          if (this.#keyStart >= 0) this.#endKey(text.slice(this.#keyStart, i + 1))
        }
      } else if (code === QUOTE) {
        this.#isInString = true
        this.#keyStart = this.#depth === 1 && this.#expectKey ? i : -1
      } else if (code === 0x7b /* { */ || code === 0x5b /* [ */) {
        this.#depth++
        if (this.#depth === 1) this.#expectKey = true
        if (code === 0x5b && this.#depth === 2 && this.#phase === 'before' && this.#lastKey === 'projects') {
          this.#phase = 'in-array'
          this.#frameHead = text.slice(0, i + 1)
          text = text.slice(i + 1)
          i = 0
          continue
        }
      } else if (code === 0x7d /* } */ || code === 0x5d /* ] */) {
        if (this.#phase === 'in-array' && this.#depth === 2) {
          // The array closes: its last batch, then the frame's tail from this `]` on.
          this.#parseBatch(text.slice(0, i), true)
          this.#phase = 'after'
          text = text.slice(i)
          i = 0
        }
        this.#depth--
      } else if (code === 0x2c /* , */) {
        if (this.#depth === 1) this.#expectKey = true
        else if (this.#phase === 'in-array' && this.#depth === 2) this.#lastComma = i
      } else if (code === 0x3a /* : */ && this.#depth === 1) this.#expectKey = false
      i++
    }
    this.#text = text
    this.#pos = i
  }

  #endKey(literal: string): void {
    this.#keyStart = -1
    let key: unknown
    try {
      key = JSON.parse(literal)
    } catch {
      // An invalid escape: the frame's JSON.parse reports it.
      key = undefined
    }
    // JSON.parse keeps the last of duplicate keys; a second list must not hide behind the first.
    if (key === 'projects' && this.#phase !== 'before') throw new IndexFormatError('project list has the key "projects" twice')
    this.#lastKey = typeof key === 'string' ? key : undefined
  }

  /** `entries` starts with the comma before it, except in the first batch. */
  #parseBatch(entries: string, isLast: boolean): void {
    if (this.#isFirstBatch && isLast && entries.trim() === '') return
    const text = `[null${this.#isFirstBatch ? ',' : ''}${entries}]`
    this.#isFirstBatch = false
    let values: unknown
    try {
      values = JSON.parse(text)
    } catch (error) {
      throw new IndexFormatError(`project list is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    const projects = values as unknown[]
    for (let k = 1; k < projects.length; k++) {
      const project = projects[k]
      const index = this.#entryIndex++
      const name = typeof project === 'object' && project !== null && !Array.isArray(project) ? (project as Record<string, unknown>)['name'] : undefined
      if (typeof name !== 'string') throw new IndexFormatError(`projects[${index}] must be an object with a string "name" (PEP 691)`)
      if (isValidProjectName(name)) this.out.add(name)
    }
  }
}
