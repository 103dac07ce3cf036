/**
 * Snapshot metadata (TUF 4.4): version (and optionally length/hashes) of every targets
 * metadata file, keyed by file name (`targets.json`, `<role>.json`).
 */
import { COMMON_FIELDS, decodeCommon, type SignedCommon } from './common.js'
import { decodeMetaFile, type MetaFile } from './file-info.js'
import { expectObject, unknownFields, type JsonObject } from './guards.js'

export interface Snapshot extends SignedCommon {
  readonly type: 'snapshot'
  readonly meta: ReadonlyMap<string, MetaFile>
  readonly unrecognized: JsonObject
}

const SNAPSHOT_FIELDS = new Set([...COMMON_FIELDS, 'meta'])

/**
 * @throws {MalformedMetadataError}
 */
export function decodeSnapshot(signed: JsonObject): Snapshot {
  const common = decodeCommon(signed, 'snapshot')
  const raw = expectObject(signed['meta'], 'snapshot.meta')
  const meta = new Map<string, MetaFile>()
  for (const name of Object.keys(raw)) meta.set(name, decodeMetaFile(raw[name], `snapshot.meta[${JSON.stringify(name)}]`))
  return { ...common, type: 'snapshot', meta, unrecognized: unknownFields(signed, SNAPSHOT_FIELDS) }
}
