/**
 * Maps a request for `/files/<project>/<file name>` to the upstream URL and the evidence that will
 * verify it, using the project's current (or last good) page. A file no page lists is not fetched:
 * that keeps the proxy from being an open relay and means every byte it serves had evidence.
 */
import type { ProjectFile } from '../index/index.js'
import { NotFoundError } from './errors.js'
import type { FileTarget } from './files.js'
import { isQuarantined, type SimplePages } from './simple-pages.js'

/** PEP 658: the core metadata of `<file>` is served at `<file>.metadata`. */
const METADATA_SUFFIX = '.metadata'

/**
 * @throws NotFoundError when the page lists no such file (or no metadata for it)
 */
export async function resolveProjectFile(pages: SimplePages, project: string, fileName: string): Promise<FileTarget> {
  const file = await pages.findFile(project, fileName)
  if (file) return { url: file.url, evidence: { hashes: file.hashes, expectedSize: file.size } }
  if (fileName.endsWith(METADATA_SUFFIX)) {
    const distribution = await pages.findFile(project, fileName.slice(0, -METADATA_SUFFIX.length))
    if (distribution && distribution.coreMetadata !== false) return metadataTarget(distribution.url, distribution.coreMetadata)
  }
  // Only on this path: a quarantined page lists no files (simple-pages.ts), so say why.
  if (isQuarantined((await pages.projectModel(project)).page)) throw quarantinedError(project)
  throw new NotFoundError(`project ${project} lists no file ${JSON.stringify(fileName)}`)
}

/** PEP 792: the index marks the project quarantined; none of its files is served, cached or not. */
export function quarantinedError(project: string): NotFoundError {
  return new NotFoundError(`project ${project} is quarantined by its index (PEP 792): its files are not served`, { code: 'quarantined' })
}

function metadataTarget(distributionUrl: string, coreMetadata: Exclude<ProjectFile['coreMetadata'], false>): FileTarget {
  // PEP 714: `core-metadata: true` promises the file without giving its hash.
  const hashes = coreMetadata === true ? {} : coreMetadata
  return { url: `${distributionUrl}${METADATA_SUFFIX}`, evidence: { hashes } }
}
