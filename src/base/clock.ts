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
