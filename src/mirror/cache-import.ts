/**
 * Makes verified items from outside (an imported bundle) servable: writes the records through
 * which the mirror finds a stored page (SimplePages' `page` namespace) and a file whose page names
 * no SHA-256 (Files' per-URL record), in exactly the shapes those classes read back. The blobs
 * themselves are written by the caller; a record is written only after its blob is committed.
 */
import type { RecordStore } from '../store/index.js'
import { FILE_RECORD_NAMESPACE, type FileRecord } from './files.js'
import type { PageRecord } from './simple-pages.js'

/** Hash-only mode's namespace; verifying mode keeps its own and re-checks pages against TUF. */
const PAGE_RECORD_NAMESPACE = 'page'

export interface ImportedPage {
  /** normalized project name */
  readonly project: string
  readonly bodySha256: string
  readonly contentType: string
  /** the URL the page was served from: its relative links resolve against it */
  readonly baseUrl: string
  readonly serial: number | undefined
  readonly fetchedAtMs: number
}

/** @throws StoreError */
export async function recordImportedPage(records: RecordStore, page: ImportedPage): Promise<void> {
  const record: PageRecord = { bodySha256: page.bodySha256, contentType: page.contentType, baseUrl: page.baseUrl, serial: page.serial, fetchedAtMs: page.fetchedAtMs }
  await records.put(PAGE_RECORD_NAMESPACE, page.project, record)
}

/**
 * A file whose page lists a SHA-256 is found by that digest alone and needs no record.
 * @throws StoreError
 */
export async function recordImportedFile(records: RecordStore, file: { url: string; sha256: string; hashes: Readonly<Record<string, string>> }): Promise<void> {
  if (file.hashes.sha256) return
  const record: FileRecord = { sha256: file.sha256, hashes: file.hashes }
  await records.put(FILE_RECORD_NAMESPACE, file.url, record)
}
