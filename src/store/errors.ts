/**
 * The StoreError family: the local disk is at fault (full, failing, or holding damaged files).
 * Also owns turning a raw node:fs error into this family, so ENOSPC is recognised in one place.
 */
import { ProxyError } from '../base/index.js'

export class StoreError extends ProxyError {
  readonly code: string = 'store_io'
  readonly fault = 'storage'
}

/** The cache filesystem is full (ENOSPC) or over quota (EDQUOT). Reads keep working. */
export class StoreFullError extends StoreError {
  override readonly code = 'store_full'
}

/** A stored blob's bytes no longer match its digest; it has been removed. */
export class CorruptBlobError extends StoreError {
  override readonly code = 'store_corrupt'
}

export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return undefined
}

/** Wraps a node:fs error; `action` says what was being done, e.g. "writing a blob to /cache/tmp/x". */
export function toStoreError(error: unknown, action: string): StoreError {
  if (error instanceof StoreError) return error
  const code = errnoCode(error)
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StoreFullError(
      `the cache disk is full (${code}) while ${action}: free space or lower the cache size limit; cached files are still served`,
      { cause: error },
    )
  }
  const reason = error instanceof Error ? error.message : String(error)
  return new StoreError(`disk error while ${action}: ${reason}`, { cause: error })
}
