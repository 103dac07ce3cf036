/**
 * The in-memory LRU index of the blob store: which digests are on disk, their sizes, the running
 * byte total, and which blobs to evict to get back under a byte budget. It touches no files.
 *
 * Why an ordered Map and not lru-cache: lru-cache evicts by itself inside `set()` through a
 * synchronous `dispose` callback, but removing a blob is an async unlink that can fail and that a
 * concurrent commit of the same digest must wait for. Its `maxSize` also cannot be Infinity, and
 * the rule "never evict the blob just committed, even if it alone exceeds the budget" is not
 * expressible there. A Map keeps insertion order, so delete+set moves an entry to the
 * most-recent end in O(1) and iteration runs oldest first: that is the whole LRU.
 */

export interface IndexEntry {
  readonly size: number
  /** Last use, ms since the epoch; in memory, always current. */
  lastAccessMs: number
  /** The last access time written to the file's mtime, so the order survives a restart. */
  persistedAccessMs: number
}

/** An entry taken out by an eviction, with what the eviction log reports of it. */
export interface EvictedEntry {
  readonly key: string
  readonly size: number
  readonly lastAccessMs: number
}

export class LruIndex {
  /** Oldest first. */
  readonly #entries = new Map<string, IndexEntry>()
  #totalBytes = 0
  #evictedCount = 0
  #evictedBytes = 0

  get totalBytes(): number {
    return this.#totalBytes
  }

  get count(): number {
    return this.#entries.size
  }

  /** Entries evicted (by evictOver or evictAtLeast) since this index was built, and their bytes. */
  get evictions(): { readonly count: number; readonly bytes: number } {
    return { count: this.#evictedCount, bytes: this.#evictedBytes }
  }

  has(key: string): boolean {
    return this.#entries.has(key)
  }

  /** Reads an entry without changing its recency. */
  peek(key: string): IndexEntry | undefined {
    return this.#entries.get(key)
  }

  /** Inserts (or replaces) `key` as the most recently used entry. */
  set(key: string, size: number, accessMs: number): IndexEntry {
    this.delete(key)
    const entry: IndexEntry = { size, lastAccessMs: accessMs, persistedAccessMs: accessMs }
    this.#entries.set(key, entry)
    this.#totalBytes += size
    return entry
  }

  /** Marks `key` as most recently used; undefined when absent. */
  touch(key: string, accessMs: number): IndexEntry | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    this.#entries.delete(key)
    entry.lastAccessMs = Math.max(entry.lastAccessMs, accessMs)
    this.#entries.set(key, entry)
    return entry
  }

  delete(key: string): boolean {
    const entry = this.#entries.get(key)
    if (!entry) return false
    this.#entries.delete(key)
    this.#totalBytes -= entry.size
    return true
  }

  /**
   * Removes and returns the least recently used keys until totalBytes <= maxBytes, never `keep`
   * (so a single blob larger than the whole budget stays, alone, until something newer arrives).
   */
  evictOver(maxBytes: number, keep?: string): EvictedEntry[] {
    const victims: EvictedEntry[] = []
    for (const [key, entry] of this.#entries) {
      if (this.#totalBytes <= maxBytes) break
      if (key === keep) continue
      this.#entries.delete(key)
      this.#totalBytes -= entry.size
      this.#evictedCount += 1
      this.#evictedBytes += entry.size
      victims.push({ key, size: entry.size, lastAccessMs: entry.lastAccessMs })
    }
    return victims
  }

  /**
   * Removes and returns the least recently used keys until at least `bytes` are freed or none
   * are left (to make room on a full disk, whatever the budget says).
   */
  evictAtLeast(bytes: number): EvictedEntry[] {
    const victims: EvictedEntry[] = []
    let freedBytes = 0
    for (const [key, entry] of this.#entries) {
      if (freedBytes >= bytes) break
      this.#entries.delete(key)
      this.#totalBytes -= entry.size
      this.#evictedCount += 1
      this.#evictedBytes += entry.size
      freedBytes += entry.size
      victims.push({ key, size: entry.size, lastAccessMs: entry.lastAccessMs })
    }
    return victims
  }

  /** Keys, oldest first (for tests and diagnostics). */
  keys(): string[] {
    return [...this.#entries.keys()]
  }

  /** Keys and entries, oldest first (for listings). */
  entries(): Array<[string, Readonly<IndexEntry>]> {
    return [...this.#entries]
  }
}
