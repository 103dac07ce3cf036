/**
 * An in-memory upstream for component tests of the mirror: bodies are pulled one chunk at a time
 * (so a test decides every interleaving through `before`), and requests, chunks pulled and aborts
 * are counted. `offline()` makes every request fail as an unreachable upstream would. Also an
 * in-memory RecordStore.
 */
import type { RecordStore } from '../../src/store/index.js'
import { UpstreamOfflineError, type UpstreamClient, type UpstreamStream } from '../../src/upstream/index.js'

export interface Served {
  readonly bytes: Buffer
  readonly chunkBytes: number
  /** waits before sending chunk `index` */
  readonly before?: (index: number) => Promise<void> | undefined
}

/** An upstream whose bodies are pulled one chunk at a time, counting requests and chunks pulled. */
export class MemoryUpstream implements UpstreamClient {
  readonly served = new Map<string, Served>()
  requests = 0
  chunksPulled = 0
  aborts = 0
  isOffline = false

  serve(url: string, served: Served): void {
    this.served.set(url, served)
  }

  async getBytes(): Promise<never> {
    throw new Error('not used by downloads')
  }

  async getInto(): Promise<never> {
    throw new Error('not used by downloads')
  }

  offline(isOffline = true): void {
    this.isOffline = isOffline
  }

  async getStream(url: string): Promise<UpstreamStream> {
    this.requests += 1
    if (this.isOffline) throw new UpstreamOfflineError(`cannot reach ${url} (the test took the upstream offline)`)
    const found = this.served.get(url)
    if (!found) throw new Error(`nothing served at ${url}`)
    const served: Served = found
    let isAborted = false
    const upstream = this
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let index = 0, offset = 0; offset < served.bytes.byteLength; index += 1, offset += served.chunkBytes) {
        await served.before?.(index)
        if (isAborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' })
        upstream.chunksPulled += 1
        // A fresh copy per chunk, as a socket would hand out.
        yield Buffer.from(served.bytes.subarray(offset, offset + served.chunkBytes))
      }
    }
    return {
      status: 200,
      url,
      headers: {},
      contentLength: served.bytes.byteLength,
      body: body(),
      abort: () => {
        isAborted = true
        upstream.aborts += 1
      },
    }
  }

  assertAllowed(): void {}

  async close(): Promise<void> {}
}

export function memoryRecords(): RecordStore {
  const records = new Map<string, unknown>()
  return {
    get: async (namespace, key) => records.get(`${namespace}\n${key}`),
    put: async (namespace, key, value) => void records.set(`${namespace}\n${key}`, value),
    delete: async (namespace, key) => void records.delete(`${namespace}\n${key}`),
    count: (namespace) => [...records.keys()].filter((key) => key.startsWith(`${namespace}\n`)).length,
    list: async (namespace) =>
      [...records].filter(([name]) => name.startsWith(`${namespace}\n`)).map(([name, value]) => ({ key: name.slice(namespace.length + 1), value })),
  }
}

