/**
 * The flags of `mirror` and `import` that are theirs alone; every other flag is a `serve` option
 * (upstream, allowlist, timeouts, verifying mode) and goes to the settings parser unchanged.
 */
import { ConfigError, OPTIONS } from '../config/index.js'

const SERVE_BOOLS: ReadonlySet<string> = new Set(OPTIONS.filter((spec) => spec.kind === 'bool').map((spec) => `--${spec.flag}`))

export interface FlagSpec {
  readonly kind: 'value' | 'list' | 'bool'
}

export interface SplitArgs {
  readonly own: ReadonlyMap<string, string | string[] | boolean>
  readonly positional: readonly string[]
  /** everything else, for the settings parser */
  readonly rest: readonly string[]
}

/** @throws ConfigError for a flag of ours without its value */
export function splitArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): SplitArgs {
  const own = new Map<string, string | string[] | boolean>()
  const positional: string[] = []
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg)
    const spec = match ? specs[match[1] ?? ''] : undefined
    if (!match || !spec) {
      if (!arg.startsWith('-')) positional.push(arg)
      else {
        rest.push(arg)
        // A serve flag's value travels with it (the settings parser knows which flags take one).
        const next = argv[i + 1]
        if (!arg.includes('=') && !SERVE_BOOLS.has(arg) && next !== undefined && !next.startsWith('--')) rest.push(argv[++i] ?? '')
      }
      continue
    }
    const name = match[1] ?? ''
    if (spec.kind === 'bool') {
      if (match[2] !== undefined) throw new ConfigError(`--${name} takes no value`)
      own.set(name, true)
      continue
    }
    const value = match[2] ?? argv[++i]
    if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name} needs a value`)
    if (spec.kind === 'list') own.set(name, [...((own.get(name) as string[] | undefined) ?? []), value])
    else own.set(name, value)
  }
  return { own, positional, rest }
}

export function listOf(args: SplitArgs, name: string): string[] {
  const value = args.own.get(name)
  return Array.isArray(value) ? value : []
}

export function valueOf(args: SplitArgs, name: string): string | undefined {
  const value = args.own.get(name)
  return typeof value === 'string' ? value : undefined
}
