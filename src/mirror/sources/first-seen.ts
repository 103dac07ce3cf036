/**
 * When this proxy first saw each file of a project listed: the `first-seen` release-age clock.
 * An upstream cannot forge it (it is ours), and it is the only clock there is when a source's
 * pages carry no PEP 700 upload-time. Kept per project in the records store (namespace
 * `first-seen`), so a restart does not restart every cooldown.
 */
import type { Logger } from '../../base/index.js'
import { describeError, errorCode } from '../../base/index.js'
import type { RecordStore } from '../../store/index.js'

const NAMESPACE = 'first-seen'

export class FirstSeen {
  readonly #known = new Map<string, ReadonlyMap<string, number>>()

  constructor(private readonly deps: { readonly records: RecordStore; readonly logger: Logger }) {}

  /**
   * The first-seen time of each of `fileNames`, recording `nowMs` for those not seen before.
   */
  async observe(project: string, fileNames: readonly string[], nowMs: number): Promise<ReadonlyMap<string, number>> {
    let known = this.#known.get(project)
    if (!known) {
      known = asTimes(await this.deps.records.get(NAMESPACE, project).catch(() => undefined))
      this.#known.set(project, known)
    }
    const unseen = fileNames.filter((name) => !known.has(name))
    if (unseen.length === 0) return known
    const updated = new Map(known)
    for (const name of unseen) updated.set(name, nowMs)
    this.#known.set(project, updated)
    try {
      await this.deps.records.put(NAMESPACE, project, Object.fromEntries(updated))
    } catch (error) {
      // Kept in memory; after a restart the file counts as first seen then, which only lengthens its cooldown.
      this.deps.logger.error('store_failed', { what: 'first-seen record', project, code: errorCode(error), detail: describeError(error) })
    }
    return updated
  }

  /** The times known in memory, for the hot path (undefined: call observe()). */
  peek(project: string): ReadonlyMap<string, number> | undefined {
    return this.#known.get(project)
  }
}

function asTimes(value: unknown): ReadonlyMap<string, number> {
  const times = new Map<string, number>()
  if (typeof value !== 'object' || value === null) return times
  for (const [name, atMs] of Object.entries(value)) if (typeof atMs === 'number' && Number.isFinite(atMs)) times.set(name, atMs)
  return times
}
