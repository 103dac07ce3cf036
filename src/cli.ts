#!/usr/bin/env node
/**
 * The composition root: picks the subcommand and hands it argv. Each subcommand builds the rooms
 * it needs with its slice of the settings; nothing imports this file.
 */
const USAGE = `Usage: tuf-proxy <command> [flags]

Commands:
  serve        run the caching, verifying mirror (see 'tuf-proxy serve --help')
  tuf-client   a plain TUF client (init, refresh, download), the tuf-conformance client-under-test
`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': {
      const { runServe } = await import('./cli/serve.js')
      return runServe(rest)
    }
    case 'tuf-client': {
      const { runTufClient } = await import('./cli/tuf-client.js')
      return runTufClient(rest)
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
