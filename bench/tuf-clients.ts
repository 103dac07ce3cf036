/**
 * The two TUF clients the engine benchmark compares, behind one small interface, both fed the
 * same in-memory metadata bytes and both persisting to a metadata directory on disk without
 * fsync (tuf-js writes with `writeFileSync`; ours gets a plain-file store here, so neither pays
 * for durability the other skips). The proxy's own store (atomic, fsynced) is `store: 'proxy'`.
 *
 * - `ours`: mirror/tuf-session.ts (TufSession.open + refresh + findTarget);
 * - `tuf-js`: tuf-js 5 `Updater` with a `BaseFetcher` subclass over the same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BaseFetcher, Updater } from 'tuf-js'
import { DownloadHTTPError } from 'tuf-js/dist/error.js'
import { TufSession, type MetadataStore } from '../src/tuf-client/index.js'
import { openTrustStateStore } from '../src/store/trust-state.js'

export type ClientKind = 'ours' | 'tuf-js'

export interface BenchClient {
  refresh(): Promise<void>
  /** Whether a trusted role lists `path`. */
  lookup(path: string): Promise<boolean>
}

export interface ClientSetup {
  /** Metadata by served name (`timestamp.json`, `3.snapshot.json`, …). */
  readonly served: ReadonlyMap<string, Uint8Array>
  readonly trustedRoot: Uint8Array
  /** The client's metadata directory: empty for a cold client, reused for a warm one. */
  readonly dir: string
  /** `plain` (default): writeFile, as tuf-js; `proxy`: the proxy's atomic, fsynced trust-state store. */
  readonly store?: 'plain' | 'proxy'
}

const METADATA_BASE_URL = 'https://tuf.bench.invalid/metadata/'
const TARGETS_BASE_URL = 'https://tuf.bench.invalid/targets/'

class NotFound extends Error {}

function nameOf(url: string): string {
  if (!url.startsWith(METADATA_BASE_URL)) throw new Error(`unexpected URL ${url}`)
  return url.slice(METADATA_BASE_URL.length)
}

/** Files named as given, in one directory, written without fsync (like tuf-js's persistMetadata). */
function plainFileStore(dir: string): MetadataStore {
  mkdirSync(dir, { recursive: true })
  return {
    read: async (name) => {
      try {
        return await readFile(join(dir, encodeURIComponent(name)))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },
    write: (name, bytes) => writeFile(join(dir, encodeURIComponent(name)), bytes),
  }
}

async function openOurs(setup: ClientSetup): Promise<BenchClient> {
  const store = setup.store === 'proxy' ? await openTrustStateStore({ dir: setup.dir }) : plainFileStore(setup.dir)
  const session = await TufSession.open({
    metadataBaseUrl: METADATA_BASE_URL,
    fetcher: {
      fetch: (url, maxBytes) => {
        const bytes = setup.served.get(nameOf(url))
        if (!bytes) return Promise.reject(new NotFound(`404 ${url}`))
        if (bytes.byteLength > maxBytes) return Promise.reject(new Error(`${url} is over ${maxBytes} bytes`))
        return Promise.resolve(bytes)
      },
    },
    store,
    clock: { nowMs: () => Date.now() },
    trustedRoot: setup.trustedRoot,
    isNotFound: (error) => error instanceof NotFound,
  })
  return {
    refresh: () => session.refresh(),
    lookup: async (path) => (await session.findTarget(path)) !== undefined,
  }
}

class MemoryFetcher extends BaseFetcher {
  constructor(private readonly served: ReadonlyMap<string, Uint8Array>) {
    super()
  }

  override fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const bytes = this.served.get(nameOf(url))
    if (!bytes) return Promise.reject(new DownloadHTTPError(`404 ${url}`, 404))
    const copy = new Uint8Array(bytes)
    return Promise.resolve(new ReadableStream({ start: (controller) => (controller.enqueue(copy), controller.close()) }))
  }
}

function openTufJs(setup: ClientSetup): BenchClient {
  const metadataDir = join(setup.dir, 'metadata')
  const targetDir = join(setup.dir, 'targets')
  mkdirSync(metadataDir, { recursive: true })
  mkdirSync(targetDir, { recursive: true })
  try {
    writeFileSync(join(metadataDir, 'root.json'), setup.trustedRoot, { flag: 'wx' })
  } catch (error) {
    // a warm client: the directory already holds the root it last trusted
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const updater = new Updater({ metadataBaseUrl: METADATA_BASE_URL, targetBaseUrl: TARGETS_BASE_URL, metadataDir, targetDir, fetcher: new MemoryFetcher(setup.served) })
  return {
    refresh: () => updater.refresh(),
    lookup: async (path) => (await updater.getTargetInfo(path)) !== undefined,
  }
}

/** A client on `setup.dir`; no request is made until `refresh` or `lookup`. */
export async function openClient(kind: ClientKind, setup: ClientSetup): Promise<BenchClient> {
  return kind === 'ours' ? openOurs(setup) : openTufJs(setup)
}
