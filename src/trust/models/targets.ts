/**
 * Targets metadata (TUF 4.5), top-level or delegated: target files by path plus optional
 * delegations. Target entries are decoded eagerly so a malformed role is refused as a whole,
 * as python-tuf does.
 */
import { COMMON_FIELDS, decodeCommon, type SignedCommon } from './common.js'
import { decodeDelegations, type Delegations } from './delegations.js'
import { decodeTargetFile, type TargetFile } from './file-info.js'
import { expectObject, unknownFields, type JsonObject } from './guards.js'

export interface Targets extends SignedCommon {
  readonly type: 'targets'
  readonly targets: ReadonlyMap<string, TargetFile>
  readonly delegations?: Delegations
  readonly unrecognized: JsonObject
}

const TARGETS_FIELDS = new Set([...COMMON_FIELDS, 'targets', 'delegations'])

/**
 * @throws {MalformedMetadataError}
 */
export function decodeTargets(signed: JsonObject): Targets {
  const common = decodeCommon(signed, 'targets')
  const raw = expectObject(signed['targets'], 'targets.targets')
  const targets = new Map<string, TargetFile>()
  for (const path of Object.keys(raw)) targets.set(path, decodeTargetFile(path, raw[path], 'targets.targets[]'))
  const delegations = signed['delegations'] === undefined ? undefined : decodeDelegations(signed['delegations'])
  return {
    ...common,
    type: 'targets',
    targets,
    ...(delegations ? { delegations } : {}),
    unrecognized: unknownFields(signed, TARGETS_FIELDS),
  }
}
