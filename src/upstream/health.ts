/**
 * A small circuit breaker per upstream (nginx's max_fails / fail_timeout): after `maxFails`
 * consecutive failures the upstream is considered down for `failTimeoutMs`, so callers can answer
 * at once (stale cache or 503) instead of waiting for another timeout. After that window one
 * trial is let through; success closes the breaker, failure reopens it. It only keeps score: the
 * caller reports outcomes and decides what "down" means for its response.
 */
import type { Clock } from '../base/index.js'
import { UpstreamHttpError, UpstreamOfflineError, UpstreamTimeoutError } from './errors.js'

export interface UpstreamHealthOptions {
  readonly maxFails: number
  readonly failTimeoutMs: number
  readonly clock: Clock
}

export type HealthState = 'up' | 'down' | 'trial'

export interface UpstreamHealth {
  /** False while down: skip the upstream. */
  isAvailable(): boolean
  readonly state: HealthState
  recordSuccess(): void
  /** Counts only failures that say the upstream is unwell (see isUpstreamFailure); others are ignored. */
  recordFailure(error: unknown): void
}

/** Unreachable, timed out, or a 5xx: the upstream is unwell. A 404 or a bad body says nothing about its health. */
export function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof UpstreamOfflineError || error instanceof UpstreamTimeoutError) return true
  return error instanceof UpstreamHttpError && error.status >= 500
}

/** @throws {TypeError} naming a bad option. */
export function createUpstreamHealth(options: UpstreamHealthOptions): UpstreamHealth {
  const { maxFails, failTimeoutMs, clock } = options
  if (!Number.isSafeInteger(maxFails) || maxFails < 1) throw new TypeError(`upstream health option "maxFails" must be a positive integer (got ${maxFails})`)
  if (!Number.isSafeInteger(failTimeoutMs) || failTimeoutMs < 0) {
    throw new TypeError(`upstream health option "failTimeoutMs" must be a non-negative integer (got ${failTimeoutMs})`)
  }
  let consecutiveFails = 0
  let downUntilMs = 0
  const state = (): HealthState => {
    if (consecutiveFails < maxFails) return 'up'
    return clock.nowMs() < downUntilMs ? 'down' : 'trial'
  }
  return {
    isAvailable: () => state() !== 'down',
    get state() {
      return state()
    },
    recordSuccess() {
      consecutiveFails = 0
      downUntilMs = 0
    },
    recordFailure(error) {
      if (!isUpstreamFailure(error)) return
      consecutiveFails++
      if (consecutiveFails >= maxFails) downUntilMs = clock.nowMs() + failTimeoutMs
    },
  }
}
