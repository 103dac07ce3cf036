/**
 * The index room: the PEP 503/691 simple-repository model (PEP 592, 629, 658/714, 700 included),
 * parsing untrusted upstream pages into it, rendering it as HTML or JSON, PEP 691 content
 * negotiation, name normalization and link rewriting. Pure string ⇄ model; imports only base/.
 */
export { IndexFormatError, LinkFormatError } from './errors.js'
export type { PageParseOptions } from './file-collector.js'
export { normalizeName, isValidProjectName } from './names.js'
export type { IndexMeta, ProjectList, ProjectFile, ProjectPage, ProjectStatus } from './model.js'
export { parseProjectPageHtml, parseProjectListHtml } from './html-parse.js'
export { parseProjectPageJson, parseProjectListJson } from './json-parse.js'
export { renderProjectPageHtml, renderProjectListHtml } from './html-render.js'
export { renderProjectPageJson, renderProjectListJson } from './json-render.js'
export { rewriteFileUrls } from './rewrite.js'
export { type SimpleFormat, negotiate, contentTypeOf } from './negotiate.js'
export { type RenderedEntries, type ListFrame, ProjectListRenderer } from './project-list-stream.js'
export { type Version, type Specifier, SpecifierError, parseVersion, compareVersions, isPreRelease, parseSpecifierSet, matchesSpecifiers, versionKey } from './pep440.js'
export { type DistFile, type WheelTag, type TagTarget, parseDistFileName, wheelFits } from './dist-filename.js'
export { fileVersion } from './file-version.js'
