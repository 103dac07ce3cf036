/**
 * In-memory wiring of a TufSession to a RepositorySimulator: a fetcher that maps URLs under a
 * fake base URL to simulator names (404 as NotFoundError), and a Map-backed metadata store
 * with a write log. Used by trust and mirror unit tests; no sockets, no disk.
 */
import { fixedClock, type Clock } from '../../src/base/index.js'
import { TufSession, type MetadataFetcher, type MetadataStore, type TufSessionOptions } from '../../src/tuf-client/index.js'
import type { RepositorySimulator } from './repository-simulator.js'

export const METADATA_BASE_URL = 'https://tuf.example/metadata/'

export class NotFoundError extends Error {
  readonly status = 404
}

/** Thrown by the fetcher when a body is over maxBytes, like a bounded upstream client. */
export class TooLargeError extends Error {}

export function simulatorFetcher(sim: RepositorySimulator, options: { failWith?: (name: string) => Error | undefined } = {}): MetadataFetcher {
  return {
    fetch: (url, maxBytes) => {
      if (!url.startsWith(METADATA_BASE_URL)) return Promise.reject(new Error(`unexpected URL ${url}`))
      const name = url.slice(METADATA_BASE_URL.length)
      const failure = options.failWith?.(name)
      if (failure) {
        sim.fetchLog.push(name)
        return Promise.reject(failure)
      }
      const bytes = sim.fetch(name)
      if (!bytes) return Promise.reject(new NotFoundError(`404 ${name}`))
      if (bytes.byteLength > maxBytes) return Promise.reject(new TooLargeError(`${name} is over ${maxBytes} bytes`))
      return Promise.resolve(bytes)
    },
  }
}

export class MemoryStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>()
  readonly writes: string[] = []

  read(name: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.files.get(name))
  }

  write(name: string, bytes: Uint8Array): Promise<void> {
    this.writes.push(name)
    this.files.set(name, Buffer.from(bytes))
    return Promise.resolve()
  }

  /** As the disk store does: these replace their namesakes; other stored roles stay as a cache. */
  writeSet(files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [name, bytes] of files) {
      this.writes.push(name)
      this.files.set(name, Buffer.from(bytes))
    }
    return Promise.resolve()
  }
}

export interface MemorySessionSetup {
  readonly sim: RepositorySimulator
  readonly store?: MemoryStore
  readonly clock?: Clock
  readonly trustedRoot?: Uint8Array
  readonly fetcher?: MetadataFetcher
  readonly extra?: Partial<TufSessionOptions>
}

/** Opens a session on the simulator; the trusted root defaults to the simulator's 1.root.json. */
export async function openMemorySession(setup: MemorySessionSetup): Promise<{ session: TufSession; store: MemoryStore }> {
  const store = setup.store ?? new MemoryStore()
  const session = await TufSession.open({
    metadataBaseUrl: METADATA_BASE_URL,
    fetcher: setup.fetcher ?? simulatorFetcher(setup.sim),
    store,
    clock: setup.clock ?? fixedClock(setup.sim.nowMs),
    trustedRoot: setup.trustedRoot ?? setup.sim.trustedRoot(),
    isNotFound: (error) => error instanceof NotFoundError,
    ...setup.extra,
  })
  return { session, store }
}
