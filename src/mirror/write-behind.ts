/**
 * The byte budget for what all running downloads hold in memory: bytes received from an upstream
 * and not yet written to their temporary blob (or, uncached, still kept for a reader). A budget
 * per download alone lets memory grow with the number of cold files fetched at once; this one is
 * shared, so the proxy's memory stays bounded however many there are (issue 9).
 *
 * A download over budget that holds a small batch (256 KiB) stops taking bytes until its own
 * flush has drained it (uncached: until its readers have passed all but its newest chunk), so no
 * download waits on another's disk or client, and the total exceeds the limit by at most a small
 * batch and a chunk per running download. (An uncached download that no reader has joined yet keeps its own window
 * instead: letting its bytes go would leave nobody able to serve it.)
 */
import { Signal } from './signal.js'

export class WriteBehindBudget {
  #heldBytes = 0
  readonly #released = new Signal()

  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new RangeError(`the write-behind budget must be positive, got ${limitBytes}`)
  }

  get heldBytes(): number {
    return this.#heldBytes
  }

  /** Whether the downloads together hold more than the limit. */
  get isOver(): boolean {
    return this.#heldBytes > this.limitBytes
  }

  /** Counts `bytes` as held (positive) or given back (negative). */
  add(bytes: number): void {
    this.#heldBytes += bytes
    if (bytes < 0) this.#released.notify()
  }

  /** Resolves at the next give-back by any download. */
  released(): Promise<void> {
    return this.#released.wait()
  }
}
