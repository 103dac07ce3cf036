/**
 * Reads back what a cache directory holds, for `mirror --from-cache`: the page records (in the
 * namespace of hash-only or verifying mode) and the per-URL file records, decoded in exactly the
 * shapes SimplePages and Files write them. The counterpart of cache-import.ts. Nothing here reads
 * a blob or trusts a record: the caller checks every byte against the evidence it names.
 */
import type { RecordStore } from '../store/index.js'
import { asFileRecord, FILE_RECORD_NAMESPACE } from './files.js'
import { asPageRecord, PAGE_RECORD_NAMESPACES } from './simple-pages.js'

export interface CachedPageRecord {
  /** normalized project name (the record's key) */
  readonly project: string
  readonly bodySha256: string
  readonly contentType: string
  /** where the bytes came from after redirects; undefined in records older than that field */
  readonly baseUrl: string | undefined
}

/**
 * Every project page record of one mode, sorted by project; the project list ('' key) and
 * records that do not decode are left out.
 * @throws StoreError
 */
export async function listCachedPages(records: RecordStore, mode: keyof typeof PAGE_RECORD_NAMESPACES): Promise<CachedPageRecord[]> {
  const pages: CachedPageRecord[] = []
  for (const { key, value } of await records.list(PAGE_RECORD_NAMESPACES[mode])) {
    const record = asPageRecord(value)
    if (key === '' || !record) continue
    pages.push({ project: key, bodySha256: record.bodySha256, contentType: record.contentType, baseUrl: record.baseUrl })
  }
  return pages.sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0))
}

/**
 * The SHA-256 of the blob Files stored for a URL whose page lists no SHA-256; undefined when none.
 * @throws StoreError
 */
export async function cachedFileSha256(records: RecordStore, url: string): Promise<string | undefined> {
  const record = asFileRecord(await records.get(FILE_RECORD_NAMESPACE, url))
  return record && /^[0-9a-f]{64}$/.test(record.sha256) ? record.sha256 : undefined
}
