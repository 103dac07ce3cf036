/**
 * Which source owns each project, remembered on disk (records namespace `owner`) so that after a
 * restart a project a private source had is still asked of that source alone: with it down, the
 * cached copy or a failure, never a fall-through to a public index (dependency confusion).
 */
import type { Logger } from '../../base/index.js'
import { describeError, errorCode } from '../../base/index.js'
import type { RecordStore } from '../../store/index.js'

/** The records namespace of the ownership records (keyed by normalized name). */
export const OWNER_RECORD_NAMESPACE = 'owner'
const NAMESPACE = OWNER_RECORD_NAMESPACE

export interface Ownership {
  readonly source: string
  readonly sinceMs: number
}

export class OwnershipRecords {
  readonly #known = new Map<string, Ownership>()

  constructor(private readonly deps: { readonly records: RecordStore; readonly logger: Logger }) {}

  /** The recorded owner, from memory or disk. A record that cannot be read counts as none. */
  async get(project: string): Promise<Ownership | undefined> {
    const known = this.#known.get(project)
    if (known) return known
    const stored = asOwnership(await this.deps.records.get(NAMESPACE, project).catch(() => undefined))
    if (stored) this.#known.set(project, stored)
    return stored
  }

  /** The owner known in memory, for the hot path. */
  peek(project: string): Ownership | undefined {
    return this.#known.get(project)
  }

  /**
   * Records the owner before its page is served. A failed write is logged and the owner kept in
   * memory: the write is retried on the next resolution after a restart.
   */
  async set(project: string, source: string, nowMs: number): Promise<Ownership> {
    const ownership = { source, sinceMs: nowMs }
    this.#known.set(project, ownership)
    try {
      await this.deps.records.put(NAMESPACE, project, ownership)
    } catch (error) {
      this.deps.logger.error('store_failed', { what: 'owner record', project, code: errorCode(error), detail: describeError(error) })
    }
    return ownership
  }

  /**
   * Forgets the owner, in memory and on disk, so the next request asks the sources again in
   * order: how an operator moves a project to another source (after a collision, say).
   * @returns the ownership forgotten, if there was one
   * @throws {StoreError} when the record cannot be deleted (memory is then left as it was)
   */
  async forget(project: string): Promise<Ownership | undefined> {
    const known = await this.get(project)
    await this.deps.records.delete(NAMESPACE, project)
    this.#known.delete(project)
    return known
  }

  /** Owners seen by this process, for /status. */
  entries(): ReadonlyArray<readonly [string, Ownership]> {
    return [...this.#known]
  }
}

/** A stored ownership record, decoded; undefined when it is not one. */
export function asOwnership(value: unknown): Ownership | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  return typeof record.source === 'string' && typeof record.sinceMs === 'number' ? { source: record.source, sinceMs: record.sinceMs } : undefined
}
