/**
 * tuf-js 5 as a real TUF client over HTTP, for differential checks against the proxy's `/tuf/`
 * routes (or, as a control, straight against a repository). A client keeps its metadata
 * directory between lookups, so it remembers versions (rollback protection) as a real client
 * does; `fetchTargetOnce` is a client that starts from the trusted root alone.
 *
 * Deliberately reports a verdict rather than throwing: tests compare tuf-js's verdict with
 * the proxy's, and a rejection is an expected outcome, not a failure of the helper.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Updater } from 'tuf-js'

export type TufVerdict =
  | { readonly accepted: true; readonly bytes: Buffer }
  | { readonly accepted: false; readonly error: string }

export interface TufClientOptions {
  readonly metadataBaseUrl: string
  readonly targetBaseUrl: string
  /** the trusted root (usually 1.root.json) the client is initialised with */
  readonly trustedRoot: Uint8Array
  /** per request, default 15 s */
  readonly fetchTimeoutMs?: number
}

export class TufClient {
  readonly #dir = mkdtempSync(join(tmpdir(), 'tuf-proxy-tufjs-'))
  readonly metadataDir = join(this.#dir, 'metadata')
  readonly targetDir = join(this.#dir, 'targets')

  constructor(readonly options: TufClientOptions) {
    for (const dir of [this.metadataDir, this.targetDir]) mkdirSync(dir)
    writeFileSync(join(this.metadataDir, 'root.json'), options.trustedRoot)
  }

  /** A client of the proxy's `/tuf/metadata/` and `/tuf/targets/`. */
  static forProxy(proxyUrl: string, trustedRoot: Uint8Array): TufClient {
    return new TufClient({ metadataBaseUrl: `${proxyUrl}/tuf/metadata/`, targetBaseUrl: `${proxyUrl}/tuf/targets/`, trustedRoot })
  }

  /**
   * Refreshes (TUF 5.3–5.6), looks `path` up through the delegations and downloads it (5.7):
   * accepted with the verified bytes, or rejected with tuf-js's reason.
   */
  async fetchTarget(path: string): Promise<TufVerdict> {
    const updater = new Updater({
      metadataDir: this.metadataDir,
      metadataBaseUrl: this.options.metadataBaseUrl,
      targetDir: this.targetDir,
      targetBaseUrl: this.options.targetBaseUrl,
      // no retries: a 5xx from the proxy is a verdict, and retrying only slows the test
      config: { fetchRetry: false, fetchTimeout: this.options.fetchTimeoutMs ?? 15_000 },
    })
    try {
      await updater.refresh()
      const info = await updater.getTargetInfo(path)
      if (!info) return { accepted: false, error: `no trusted role lists ${path}` }
      const file = await updater.downloadTarget(info, join(this.targetDir, encodeURIComponent(path)))
      const bytes = readFileSync(file)
      rmSync(file, { force: true })
      return { accepted: true, bytes }
    } catch (error) {
      return { accepted: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }
    }
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** One lookup by a client that trusts only `trustedRoot` (a fresh metadata directory). */
export async function fetchTargetOnce(options: TufClientOptions, path: string): Promise<TufVerdict> {
  const client = new TufClient(options)
  try {
    return await client.fetchTarget(path)
  } finally {
    client.dispose()
  }
}
