/**
 * Single-flight: concurrent calls for one key share one in-flight promise, so N clients asking for
 * the same uncached page or file cause exactly one upstream request. The entry is dropped when the
 * promise settles; later calls start afresh (the caller's cache answers them).
 */
export class SingleFlight<V> {
  readonly #inFlight = new Map<string, Promise<V>>()

  run(key: string, task: () => Promise<V>): Promise<V> {
    const running = this.#inFlight.get(key)
    if (running) return running
    const promise = task().finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, promise)
    return promise
  }

  get size(): number {
    return this.#inFlight.size
  }
}
