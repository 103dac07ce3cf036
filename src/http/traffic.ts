/**
 * Requests per second over the last minute, and error totals since start, for the status page.
 * A ring of per-second counts: recording a request is an index computation and two increments,
 * so it costs the hot path next to nothing, and a snapshot sums at most 60 slots. It does not
 * replace `tuf_proxy_http_requests_total`, which a dashboard rates itself.
 */

/** The window over which the rate is averaged, in whole seconds. */
const WINDOW_SECONDS = 60

export interface TrafficSnapshot {
  /** requests per second averaged over the last full seconds of the window (up to 60) */
  readonly requestsPerSecond: number
  /** errors (4xx and 5xx) per second over the same seconds */
  readonly errorsPerSecond: number
  /** how many seconds the averages cover: fewer than 60 just after start */
  readonly windowSeconds: number
  readonly total: number
  readonly clientErrors: number
  readonly serverErrors: number
}

export class TrafficWindow {
  readonly #requests = new Uint32Array(WINDOW_SECONDS)
  readonly #errors = new Uint32Array(WINDOW_SECONDS)
  /** the second (epoch seconds) the newest slot counts */
  #second: number
  readonly #startSecond: number
  #total = 0
  #clientErrors = 0
  #serverErrors = 0

  constructor(startMs: number) {
    this.#second = Math.floor(startMs / 1000)
    this.#startSecond = this.#second
  }

  record(status: number, nowMs: number): void {
    this.#advance(Math.floor(nowMs / 1000))
    const slot = this.#second % WINDOW_SECONDS
    this.#requests[slot] = (this.#requests[slot] ?? 0) + 1
    this.#total += 1
    if (status >= 400) {
      this.#errors[slot] = (this.#errors[slot] ?? 0) + 1
      if (status >= 500) this.#serverErrors += 1
      else this.#clientErrors += 1
    }
  }

  snapshot(nowMs: number): TrafficSnapshot {
    const now = Math.floor(nowMs / 1000)
    this.#advance(now)
    // The current second is still filling: average over the full seconds before it.
    const windowSeconds = Math.max(1, Math.min(WINDOW_SECONDS - 1, now - this.#startSecond))
    let requests = 0
    let errors = 0
    for (let back = 1; back <= windowSeconds; back++) {
      const slot = (now - back) % WINDOW_SECONDS
      requests += this.#requests[slot] ?? 0
      errors += this.#errors[slot] ?? 0
    }
    return {
      requestsPerSecond: requests / windowSeconds,
      errorsPerSecond: errors / windowSeconds,
      windowSeconds,
      total: this.#total,
      clientErrors: this.#clientErrors,
      serverErrors: this.#serverErrors,
    }
  }

  /** Moves the newest slot to `second`, zeroing the slots of the seconds skipped (a clock going back is ignored). */
  #advance(second: number): void {
    if (second <= this.#second) return
    const skipped = Math.min(second - this.#second, WINDOW_SECONDS)
    for (let i = 1; i <= skipped; i++) {
      const slot = (this.#second + i) % WINDOW_SECONDS
      this.#requests[slot] = 0
      this.#errors[slot] = 0
    }
    this.#second = second
  }
}
