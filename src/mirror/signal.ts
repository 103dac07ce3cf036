/**
 * A wake-up for many waiters at once: every `wait()` until the next `notify()` shares one promise,
 * so a change costs one resolution however many readers of a download are waiting.
 */
export class Signal {
  #wake: { promise: Promise<void>; resolve: () => void } | undefined

  wait(): Promise<void> {
    if (!this.#wake) {
      let resolve!: () => void
      const promise = new Promise<void>((done) => (resolve = done))
      this.#wake = { promise, resolve }
    }
    return this.#wake.promise
  }

  notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.resolve()
  }
}
