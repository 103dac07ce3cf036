/**
 * The file entries of one project page as both parsers collect them: a link that fails its
 * checks is reported and left out, so one bad link costs that link and not the page; and the
 * first of duplicate filenames is kept, so a later entry cannot shadow (replace the URL or hashes
 * of) a file already listed, which is what a hostile page appending links would try.
 */
import { IndexFormatError, LinkFormatError } from './errors.js'
import type { ProjectFile } from './model.js'

export interface PageParseOptions {
  /**
   * The URL the page was finally fetched from, after redirects: relative links resolve against
   * it, as a browser and pip resolve them. Defaults to the page URL.
   */
  readonly baseUrl?: string
  /** Told about each file link dropped from the page. */
  readonly onDroppedLink?: (error: LinkFormatError) => void
}

export class FileCollector {
  readonly files: ProjectFile[] = []
  readonly #seen = new Set<string>()

  constructor(private readonly onDroppedLink: PageParseOptions['onDroppedLink']) {}

  /** Runs `parse` for one entry; an IndexFormatError from it drops the entry. */
  add(parse: () => ProjectFile): void {
    let file: ProjectFile
    try {
      file = parse()
    } catch (error) {
      if (!(error instanceof IndexFormatError)) throw error
      this.onDroppedLink?.(new LinkFormatError(error.message, { cause: error }))
      return
    }
    if (this.#seen.has(file.filename)) return
    this.#seen.add(file.filename)
    this.files.push(file)
  }
}
