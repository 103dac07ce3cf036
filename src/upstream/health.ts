/**
 * A small circuit breaker per upstream (nginx's max_fails / fail_timeout): after `maxFails`
 * consecutive failures the upstream is considered down for `failTimeoutMs`, so callers can answer
 * at once (stale cache or 503) instead of waiting for another timeout. After that window one
 * trial is let through; success closes the breaker, failure reopens it. It only keeps score: the
 * caller reports outcomes and decides what "down" means for its response.
 */
import { maskUrl, type Clock } from '../base/index.js'
import type { UpstreamClient } from './client.js'
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

/**
 * The client with the breaker in front: while the upstream is down, requests fail at once with
 * UpstreamOfflineError (callers then serve stale or answer 503) instead of each waiting for its
 * own timeout; every request's outcome is reported to the breaker.
 */
export function withHealthBreaker(client: UpstreamClient, health: UpstreamHealth, failTimeoutMs: number): UpstreamClient {
  const guard = async <T>(url: string, request: () => Promise<T>): Promise<T> => {
    if (!health.isAvailable()) {
      throw new UpstreamOfflineError(`upstream unreachable for ${maskUrl(url)}: it failed repeatedly and is retried after ${Math.round(failTimeoutMs / 1000)} s`)
    }
    try {
      const result = await request()
      health.recordSuccess()
      return result
    } catch (error) {
      health.recordFailure(error)
      throw error
    }
  }
  return {
    getBytes: (url, options) => guard(url, () => client.getBytes(url, options)),
    getStream: (url, options) => guard(url, () => client.getStream(url, options)),
    assertAllowed: (url) => client.assertAllowed(url),
    close: () => client.close(),
  }
}
