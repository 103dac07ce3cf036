/**
 * The project list (`/simple/`, about 700,000 names on PyPI) from upstream bytes straight to the
 * proxy's two renderings, a slice at a time, awaiting the caller's `pause` between slices so the
 * rest of the server keeps running (issue 7 item 16). No list model is built: each slice's names
 * are rendered and dropped, and the renderings are assembled and hashed in slices too, so memory
 * is the upstream body plus the two rendered bodies, and no single step is long.
 *
 * What is accepted, and the bytes produced, are those of parseProjectList{Html,Json} followed by
 * renderProjectList{Html,Json} (the tests compare them), with two deliberate differences: a
 * `<base href>` is not checked, since the list keeps no links; and in JSON the fields other than
 * `projects`, and each project entry, are bounded (MAX_JSON_PART_CHARS), since they are parsed
 * in one piece.
 */
import { createHasher } from '../base/index.js'
import { IndexFormatError } from './errors.js'
import { checkApiVersion } from './file-fields.js'
import { renderProjectListHtml } from './html-render.js'
import { decodeEntities, readMarkup, trimAsciiWhitespace, type HtmlHandler } from './html-tokenizer.js'
import { parseProjectListJson } from './json-parse.js'
import { renderProjectListJson } from './json-render.js'
import type { IndexMeta, ProjectList } from './model.js'
import { isValidProjectName } from './names.js'

export interface ProjectListRendering {
  readonly body: Uint8Array
  readonly sha256: string
}

export interface RenderedProjectList {
  readonly meta: IndexMeta
  readonly projectCount: number
  /** PEP 503 HTML, for both text/html and application/vnd.pypi.simple.v1+html */
  readonly html: ProjectListRendering
  /** PEP 691 JSON */
  readonly json: ProjectListRendering
}

export interface ProjectListStreamOptions {
  /** awaited between slices; production passes a setImmediate, which lets I/O run */
  readonly pause: () => Promise<void>
  /** upstream bytes decoded and scanned per slice (default 64 KiB: measured in bench/project-list.ts, 256 KiB slices held the loop twice as long) */
  readonly sliceBytes?: number
}

const DEFAULT_SLICE_BYTES = 64 * 1024
/** JSON text parsed in one piece: everything but the projects array, and any one project entry. */
const MAX_JSON_PART_CHARS = 1024 * 1024
/** Rendered bytes copied and hashed between two pauses. */
const ASSEMBLY_SLICE_BYTES = 4 * 1024 * 1024
const SERIAL_COMMENT = /^\s*SERIAL\s+(\d{1,15})\s*$/
/** Rendering chunks with a fixed meta, then cutting the chunk's document frame off (see frame()). */
const FRAME_META: IndexMeta = { apiVersion: '1.0' }

/**
 * Renders the upstream project list `body` (PEP 503 HTML or PEP 691 JSON) in both formats.
 * @throws {IndexFormatError} when the list is malformed, as the one-piece parsers would
 */
export async function renderProjectListStream(body: Uint8Array, format: 'html' | 'json', pageUrl: string, options: ProjectListStreamOptions): Promise<RenderedProjectList> {
  const sliceBytes = options.sliceBytes ?? DEFAULT_SLICE_BYTES
  const out = new RenderedChunks()
  const scanner = format === 'html' ? new HtmlListScanner(out) : new JsonListScanner(out)
  const decoder = new TextDecoder('utf-8', { fatal: false })
  for (let start = 0; start < body.byteLength; start += sliceBytes) {
    const end = Math.min(body.byteLength, start + sliceBytes)
    scanner.push(decoder.decode(body.subarray(start, end), { stream: end < body.byteLength }))
    out.flushNames()
    await options.pause()
  }
  const meta = scanner.finish(pageUrl)
  out.flushNames()
  const html = frame(renderProjectListHtml({ meta, projects: [] }), '  </body>')
  const json = frame(renderProjectListJson({ meta, projects: [] }), ']}')
  return {
    meta,
    projectCount: out.count,
    html: await assemble([html.head, ...out.html, html.tail], options.pause),
    json: await assemble([json.head, ...out.json.map((chunk, i) => (i === 0 ? chunk : Buffer.concat([COMMA, chunk]))), json.tail], options.pause),
  }
}

const COMMA = Buffer.from(',')

/** A document split where the project entries go: before the last `marker`. */
function frame(document: string, marker: string): { head: Buffer; tail: Buffer } {
  const at = document.lastIndexOf(marker)
  return { head: Buffer.from(document.slice(0, at), 'utf8'), tail: Buffer.from(document.slice(at), 'utf8') }
}

/** Names found so far, rendered a slice at a time by the one-piece renderers. */
class RenderedChunks {
  readonly html: Buffer[] = []
  readonly json: Buffer[] = []
  count = 0
  #names: Array<{ readonly name: string }> = []
  readonly #htmlFrame = frame(renderProjectListHtml({ meta: FRAME_META, projects: [] }), '  </body>')
  readonly #jsonFrame = frame(renderProjectListJson({ meta: FRAME_META, projects: [] }), ']}')

  add(name: string): void {
    this.#names.push({ name })
  }

  flushNames(): void {
    if (this.#names.length === 0) return
    const list: ProjectList = { meta: FRAME_META, projects: this.#names }
    this.html.push(inner(renderProjectListHtml(list), this.#htmlFrame))
    this.json.push(inner(renderProjectListJson(list), this.#jsonFrame))
    this.count += this.#names.length
    this.#names = []
  }
}

function inner(document: string, around: { head: Buffer; tail: Buffer }): Buffer {
  return Buffer.from(document.slice(around.head.byteLength, document.length - around.tail.byteLength), 'utf8')
}

/** One buffer from `parts`, copied and hashed a few MiB per pause; each part is released once copied. */
async function assemble(parts: Array<Buffer | undefined>, pause: () => Promise<void>): Promise<ProjectListRendering> {
  const total = parts.reduce((sum, part) => sum + (part?.byteLength ?? 0), 0)
  const body = Buffer.allocUnsafe(total)
  const hasher = createHasher('sha256')
  let offset = 0
  let sincePause = 0
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    if (!part) continue
    part.copy(body, offset)
    hasher.update(part)
    offset += part.byteLength
    sincePause += part.byteLength
    parts[i] = undefined
    if (sincePause >= ASSEMBLY_SLICE_BYTES) {
      sincePause = 0
      await pause()
    }
  }
  return { body, sha256: hasher.digestHex() }
}

interface ListScanner {
  /** The next decoded slice of the page. */
  push(text: string): void
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
