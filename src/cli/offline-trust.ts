/**
 * The record `import --tuf-root` leaves in a cache directory beside the verified TUF state
 * (`tuf/metadata/`, the same store verifying mode uses): which repository the state is of, how
 * its index URLs map to targets, and which stored root was the importer's own. With it,
 * `serve --offline --cache-dir DIR` serves in verifying mode with no TUF flags.
 *
 * The file is local state written by the importer, like the trust store itself; it is decoded
 * with guards all the same, and a malformed one stops the server rather than being guessed at.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { VerifiedTrust } from '../bundle/index.js'
import { ConfigError } from '../config/index.js'
import { openTrustStateStore, writeFileAtomic, type TrustStateStore } from '../store/index.js'

const FORMAT = 'tuf-proxy-offline-trust/1'
const FILE_NAME = 'offline.json'

export interface OfflineTrust {
  readonly upstream: string
  readonly layout: 'paths' | 'warehouse'
  readonly metadataUrl: string
  readonly targetsUrl: string
  /** the version of the importer's `--tuf-root`, stored as `N.root.json`: the anchor of the root history */
  readonly trustedRootVersion: number
}

export function trustStateDir(cacheDir: string): string {
  return join(cacheDir, 'tuf', 'metadata')
}

/**
 * Makes an import's verified TUF state the cache's: roots first (each only grows the history),
 * then the set as one atomic switch, then this record.
 * @throws StoreError
 */
export async function commitOfflineTrust(cacheDir: string, trust: VerifiedTrust): Promise<void> {
  const store: TrustStateStore = await openTrustStateStore({ dir: trustStateDir(cacheDir) })
  const byVersion = [...trust.roots].filter(([name]) => name !== 'root.json').sort(([a], [b]) => parseInt(a, 10) - parseInt(b, 10))
  for (const [name, bytes] of byVersion) await store.write(name, bytes)
  const newest = trust.roots.get('root.json')
  if (newest) await store.write('root.json', newest)
  await store.writeSet(trust.set)
  const record = {
    format: FORMAT,
    upstream: trust.upstream,
    layout: trust.tuf.layout,
    metadata_url: trust.tuf.metadata_url,
    targets_url: trust.tuf.targets_url,
    trusted_root_version: trust.trustedRootVersion,
  }
  await writeFileAtomic({ dir: join(cacheDir, 'tuf'), name: FILE_NAME, bytes: Buffer.from(`${JSON.stringify(record, null, 1)}\n`), fsync: true })
}

/**
 * The record, or undefined when the cache holds no imported TUF state.
 * @throws ConfigError when the record is unreadable or malformed
 */
export async function readOfflineTrust(cacheDir: string): Promise<OfflineTrust | undefined> {
  const path = join(cacheDir, 'tuf', FILE_NAME)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`${path}: cannot read the imported TUF state record (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
  const { format, upstream, layout, metadata_url: metadataUrl, targets_url: targetsUrl, trusted_root_version: version } = record
  const isUrl = (value: unknown): value is string => typeof value === 'string' && URL.canParse(value)
  if (format !== FORMAT || !isUrl(upstream) || (layout !== 'paths' && layout !== 'warehouse') || !isUrl(metadataUrl) || !isUrl(targetsUrl) || typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ConfigError(`${path} is not a ${FORMAT} record; import the bundle again with --tuf-root`)
  }
  return { upstream, layout, metadataUrl, targetsUrl, trustedRootVersion: version }
}
