/**
 * Bounds the client workflow needs (python-tuf `UpdaterConfig`, tuf-js `defaultConfig`): how
 * many roots to chain, how many delegated roles to visit, and how many bytes to accept for
 * metadata whose length the trusted metadata does not pin (TUF 5.2.x "endless data").
 */
export interface TrustLimits {
  /** TUF 5.3.3: at most this many N+1.root.json steps per refresh. */
  readonly maxRootRotations: number
  /** TUF 5.6.7: at most this many delegated roles visited per target lookup. */
  readonly maxDelegations: number
  readonly rootMaxBytes: number
  readonly timestampMaxBytes: number
  readonly snapshotMaxBytes: number
  readonly targetsMaxBytes: number
}

export const DEFAULT_TRUST_LIMITS: TrustLimits = Object.freeze({
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxBytes: 512_000,
  timestampMaxBytes: 16_384,
  snapshotMaxBytes: 2_000_000,
  targetsMaxBytes: 5_000_000,
})

/**
 * Defaults overlaid with `overrides`, validated eagerly.
 * @throws {Error} when a limit is not a positive integer (an operator/config bug, not bad metadata)
 */
export function resolveTrustLimits(overrides: Partial<TrustLimits> = {}): TrustLimits {
  const limits = { ...DEFAULT_TRUST_LIMITS, ...overrides }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`trust limit ${name} must be a positive integer, got ${String(value)}`)
  }
  return Object.freeze(limits)
}
