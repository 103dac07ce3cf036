/**
 * Time as a dependency. Only the composition root creates `systemClock`; every room that needs
 * the time receives a Clock (or a `now` value), so tests pass time in instead of mocking it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number
}

export const systemClock: Clock = { nowMs: () => Date.now() }

export function fixedClock(nowMs: number): Clock & { advanceMs(ms: number): void; setMs(ms: number): void } {
  let current = nowMs
  return {
    nowMs: () => current,
    advanceMs: (ms) => void (current += ms),
    setMs: (ms) => void (current = ms),
  }
}

/**
 * Fractional milliseconds since an arbitrary origin, never going back: for measuring durations
 * (request and upstream latency), where the epoch clock's whole milliseconds are too coarse and
 * may jump. Injected by the composition root like the Clock.
 */
export type MonotonicMs = () => number

export const systemMonotonicMs: MonotonicMs = () => performance.now()
