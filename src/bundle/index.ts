/**
 * The bundle room: verified bundles for air-gapped mirrors (issue 12). The format
 * (`manifest.json`, `files/`, `pages/`, `tuf/`), making one from the upstream, and verifying one
 * before its items are added to a cache. May import mirror/, tuf-client/, trust/, upstream/,
 * store/, index/, policy/ and base/ (test/unit/architecture.test.ts).
 */
export { BUNDLE_FORMAT, decodeManifest, encodeManifest, pageContentType, type Manifest, type ManifestEntry, type ManifestTuf, type EntryKind, type Selection } from './manifest.js'
export { BundleRefusedError, SelectionError, PageRefusedError, type BundleProblem, type BundleProblemCode } from './errors.js'
export { parseRequirements, type PinnedRequirement } from './requirements.js'
export { parsePylock, type LockedFile, type Pylock } from './pylock.js'
export { type ProjectWants, type TagFilter } from './select.js'
export { makeBundle, type MakeDeps, type MakeEvent, type MakeOptions, type MakeResult } from './make.js'
export { TufVouch, type TufVouchOptions, type VouchedTarget } from './tuf-vouch.js'
export { importBundle, type ImportResult, type ImportDeps, type ImportTuf, type VerifiedTrust } from './import.js'
export { directorySource, type BundleSource } from './source.js'
export { packBundle, openBundle } from './pack.js'
export { makeBundleFromCache, openCacheTuf, type FromCacheDeps, type FromCacheOptions } from './from-cache.js'
