/**
 * Link rewriting: the caller (mirror/) maps each upstream file URL to a proxy path. This room
 * only applies the mapping; it does not decide what the proxy path is.
 */
import type { ProjectFile, ProjectPage } from './model.js'

/** A new page whose files carry `rewrite(file)` as their URL; everything else is unchanged. */
export function rewriteFileUrls(page: ProjectPage, rewrite: (file: ProjectFile) => string): ProjectPage {
  return { ...page, files: page.files.map((file) => ({ ...file, url: rewrite(file) })) }
}
