/**
 * Timestamp metadata (TUF 4.6): the one `snapshot.json` entry that pins the current snapshot.
 */
import { MalformedMetadataError } from '../errors.js'
import { COMMON_FIELDS, decodeCommon, type SignedCommon } from './common.js'
import { decodeMetaFile, type MetaFile } from './file-info.js'
import { expectObject, unknownFields, type JsonObject } from './guards.js'

export interface Timestamp extends SignedCommon {
  readonly type: 'timestamp'
  readonly snapshotMeta: MetaFile
  readonly unrecognized: JsonObject
}

const TIMESTAMP_FIELDS = new Set([...COMMON_FIELDS, 'meta'])

/**
 * @throws {MalformedMetadataError} `meta` must hold exactly `snapshot.json`
 */
export function decodeTimestamp(signed: JsonObject): Timestamp {
  const common = decodeCommon(signed, 'timestamp')
  const meta = expectObject(signed['meta'], 'timestamp.meta')
  const names = Object.keys(meta)
  if (names.length !== 1 || names[0] !== 'snapshot.json') throw new MalformedMetadataError('timestamp.meta must contain exactly "snapshot.json"')
  return {
    ...common,
    type: 'timestamp',
    snapshotMeta: decodeMetaFile(meta['snapshot.json'], 'timestamp.meta["snapshot.json"]'),
    unrecognized: unknownFields(signed, TIMESTAMP_FIELDS),
  }
}
