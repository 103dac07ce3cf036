#!/usr/bin/env -S node --max-semi-space-size=1
/**
 * The composition root: picks the subcommand and hands it argv. Each subcommand builds the rooms
 * it needs with its slice of the settings; nothing imports this file.
 *
 * The V8 flag above (repeated wherever the proxy is launched: package.json `start`, the
 * Dockerfile, bench/proxy.ts; test/unit/cli/launch-flags.test.ts keeps them equal): a cold file
 * arrives as one fresh 64 KiB buffer per socket read, which the young generation frees cheaply
 * only if it is collected often. With Node 24's default (semi-spaces up to 32 MiB) V8 rarely
 * scavenges this allocation-light process and reclaims the buffers with major GCs instead: 40% of
 * the CPU of a cold download, measured (issue 9). A 1 MiB semi-space cuts a cold file's CPU per
 * MB by a quarter to a third and the 16-client peak RSS by 15-35 MB; cached pages showed no
 * change beyond the bench's noise.
 */
const USAGE = `Usage: tuf-proxy <command> [flags]

Commands:
  serve        run the caching, verifying mirror (see 'tuf-proxy serve --help')
  mirror       download and verify a selection into a bundle for an air-gapped mirror
  import       verify a bundle and add it to a cache directory
  cache        list, purge or verify a cache directory (see 'tuf-proxy cache --help')
  tuf-client   a plain TUF client (init, refresh, download), the tuf-conformance client-under-test

Flags:
  -V, --version  print the version and exit
  -h, --help     print this help and exit
`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': {
      const { runServe } = await import('./cli/serve.js')
      return runServe(rest)
    }
    case 'mirror': {
      const { runMirror } = await import('./cli/mirror.js')
      return runMirror(rest)
    }
    case 'import': {
      const { runImport } = await import('./cli/import.js')
      return runImport(rest)
    }
    case 'cache': {
      const { runCache } = await import('./cli/cache.js')
      return runCache(rest)
    }
    case 'tuf-client': {
      const { runTufClient } = await import('./cli/tuf-client.js')
      return runTufClient(rest)
    }
    case '--version':
    case '-V': {
      const { packageVersion } = await import('./cli/package-version.js')
      process.stdout.write(`${packageVersion()}\n`)
      return 0
    }
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE)
      return 0
    case undefined:
      process.stderr.write(`tuf-proxy: missing command\n\n${USAGE}`)
      return 2
    default:
      process.stderr.write(`tuf-proxy: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`tuf-proxy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
