/**
 * tuf-js looking up many targets in one refresh, for the differential test of verifying mode:
 * one `refresh()` (TUF 5.3–5.6), then for every path the delegation walk and the download
 * (5.7), each with its own verdict. A probe keeps its metadata directory between calls (a
 * long-lived client, with rollback protection) unless it is made fresh; `retarget` points a
 * long-lived client at a restarted proxy's new port without forgetting what it trusts.
 *
 * Deliberately reports verdicts rather than throwing: a refusal is an outcome to compare.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Updater } from 'tuf-js'

export type TargetVerdict =
  | { readonly accepted: true; readonly bytes: Buffer; readonly sha256: string }
  | {
      readonly accepted: false
      readonly error: string
      /** whether the metadata listed the target (only the bytes failed) */
      readonly listed: boolean
      /** the SHA-256 the verified metadata lists for it, when listed */
      readonly listedSha256?: string
    }

export interface ProbeResult {
  /** why refresh() failed, when it did (then every target is refused with it) */
  readonly refreshError: string | undefined
  readonly targets: ReadonlyMap<string, TargetVerdict>
}

export interface ProbeUrls {
  readonly metadataBaseUrl: string
  readonly targetBaseUrl: string
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export class TufProbe {
  readonly #dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-probe-'))
  readonly metadataDir = join(this.#dir, 'metadata')
  readonly #targetDir = join(this.#dir, 'targets')
  #urls: ProbeUrls

  constructor(urls: ProbeUrls, trustedRoot: Uint8Array, readonly fetchTimeoutMs: number) {
    this.#urls = urls
    for (const dir of [this.metadataDir, this.#targetDir]) mkdirSync(dir)
    writeFileSync(join(this.metadataDir, 'root.json'), trustedRoot)
  }

  retarget(urls: ProbeUrls): void {
    this.#urls = urls
  }

  async probe(paths: readonly string[]): Promise<ProbeResult> {
    const updater = new Updater({
      metadataDir: this.metadataDir,
      metadataBaseUrl: this.#urls.metadataBaseUrl,
      targetDir: this.#targetDir,
      targetBaseUrl: this.#urls.targetBaseUrl,
      // no retries: a 5xx is a verdict, and retrying only slows the test
      config: { fetchRetry: false, fetchTimeout: this.fetchTimeoutMs },
    })
    const targets = new Map<string, TargetVerdict>()
    try {
      await updater.refresh()
    } catch (error) {
      const refreshError = describe(error)
      for (const path of paths) targets.set(path, { accepted: false, error: refreshError, listed: false })
      return { refreshError, targets }
    }
    for (const path of paths) {
      let listedSha256: string | undefined
      let listed = false
      try {
        const info = await updater.getTargetInfo(path)
        if (!info) {
          targets.set(path, { accepted: false, error: `no trusted role lists ${path}`, listed: false })
          continue
        }
        listed = true
        listedSha256 = info.hashes['sha256']
        const file = await updater.downloadTarget(info, join(this.#targetDir, encodeURIComponent(path)))
        const bytes = readFileSync(file)
        rmSync(file, { force: true })
        targets.set(path, { accepted: true, bytes, sha256: sha256Hex(bytes) })
      } catch (error) {
        targets.set(path, listedSha256 === undefined ? { accepted: false, error: describe(error), listed } : { accepted: false, error: describe(error), listed, listedSha256 })
      }
    }
    return { refreshError: undefined, targets }
  }

  /** SHA-256 of every metadata file this client has persisted (what tuf-js accepted). */
  persistedDigests(): string[] {
    return readdirSync(this.metadataDir).map((name) => sha256Hex(readFileSync(join(this.metadataDir, name))))
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }
}
