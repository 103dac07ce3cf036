/**
 * The dependency-confusion setup of the tests of `sources:`: a private index ("internal", listed
 * first) and a public one ("pypi", `public: true`), both real upstreams on 127.0.0.1, and the real
 * proxy process serving both from a config file in a fresh temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeUpstream } from './fake-upstream.js'
import { ProxyProcess } from './proxy-process.js'

export interface TwoSources {
  readonly internal: FakeUpstream
  readonly publicIndex: FakeUpstream
  readonly proxy: ProxyProcess
  /** Stops the proxy and both upstreams and removes the directory. */
  dispose(): Promise<void>
}

/**
 * @param setUp fills the indexes before the proxy starts (so its first answers already see them)
 *   and returns any further proxy arguments; `dir` is there for files they name.
 */
export async function startTwoSources(
  prefix: string,
  setUp: (upstreams: { readonly internal: FakeUpstream; readonly publicIndex: FakeUpstream; readonly dir: string }) => readonly string[],
): Promise<TwoSources> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  let internal: FakeUpstream | undefined
  let publicIndex: FakeUpstream | undefined
  let proxy: ProxyProcess | undefined
  const dispose = async () => {
    await proxy?.dispose()
    await Promise.all([internal?.stop(), publicIndex?.stop()])
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    internal = await new FakeUpstream().start()
    publicIndex = await new FakeUpstream().start()
    const args = setUp({ internal, publicIndex, dir })
    const config = join(dir, 'config.yaml')
    writeFileSync(config, `sources:\n  - name: internal\n    url: ${internal.simpleUrl}\n  - name: pypi\n    url: ${publicIndex.simpleUrl}\n    public: true\n`)
    proxy = await ProxyProcess.start(['--config', config, ...args])
    return { internal, publicIndex, proxy, dispose }
  } catch (error) {
    // A failed start leaves nothing running: the suite's `after` has no fixture to dispose of.
    await dispose()
    throw error
  }
}
