/**
 * Reads the raw configuration layers: command-line flags, `TUF_PROXY_*` variables and the
 * `--config` file (YAML or JSON). It converts nothing; parse.ts validates and converts.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { ConfigError } from './errors.js'
import { optionSpec, type RawLayer, type RawValue } from './parse.js'
import { OPTIONS, envName } from './schema.js'
import { STRUCTURED_KEYS } from './sources.js'

/**
 * The YAML parser, loaded when a YAML file is read: most servers are configured by flags and
 * environment, and its 70 modules cost a process about 0.7 MB of resident memory (issue 9).
 * `yaml` is CommonJS on Node, so a synchronous require keeps readConfigFile synchronous.
 */
function parseYaml(text: string): unknown {
  const yaml: typeof import('yaml') = createRequire(import.meta.url)('yaml')
  return yaml.parse(text)
}

export interface CommandLine {
  readonly flags: RawLayer
  readonly configFile: string | undefined
  readonly help: boolean
}

/**
 * `--name value`, `--name=value`, boolean `--name` / `--name=false`; list options repeat.
 * @throws ConfigError for an unknown flag, a missing value or a stray argument
 */
export function parseArgv(argv: readonly string[]): CommandLine {
  const flags = new Map<string, RawValue>()
  let configFile: string | undefined
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--help' || arg === '-h') {
      help = true
      continue
    }
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg)
    if (!match) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (flags look like --port 8080; see --help)`)
    const name = match[1] ?? ''
    let value: string | undefined = match[2]
    const spec = name === 'config' ? undefined : optionSpec(name)
    if (name !== 'config' && !spec) throw new ConfigError(`unknown flag --${name} (see --help)`)
    if (value === undefined && spec?.kind === 'bool') {
      flags.set(name, { value: true, source: `--${name}` })
      continue
    }
    if (value === undefined) {
      value = argv[++i]
      if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name} needs a value`)
    }
    if (name === 'config') configFile = value
    else if (spec?.kind === 'list') {
      const previous = flags.get(name)?.value
      flags.set(name, { value: [...(Array.isArray(previous) ? previous : []), value], source: `--${name}` })
    } else flags.set(name, { value, source: `--${name}` })
  }
  return { flags, configFile, help }
}

/** The `TUF_PROXY_*` variables that name an option; others under that prefix are an error. */
export function readEnv(env: Readonly<Record<string, string | undefined>>): { layer: RawLayer; configFile: string | undefined } {
  const layer = new Map<string, RawValue>()
  const known = new Map(OPTIONS.map((spec) => [envName(spec.flag), spec.flag]))
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('TUF_PROXY_') || value === undefined || key === 'TUF_PROXY_CONFIG') continue
    const flag = known.get(key)
    if (!flag) throw new ConfigError(`${key}: unknown setting (see tuf-proxy serve --help for the names)`)
    layer.set(flag, { value, source: key })
  }
  return { layer, configFile: env.TUF_PROXY_CONFIG }
}

/** @throws ConfigError when the file cannot be read or is not a mapping of known keys */
export function readConfigFile(path: string): RawLayer {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`--config ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  let data: unknown
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new ConfigError(`--config ${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (data === null || data === undefined) return new Map()
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`--config ${path}: must be a mapping of option names to values`)
  const layer = new Map<string, RawValue>()
  for (const [key, value] of Object.entries(data)) {
    if (!optionSpec(key) && !STRUCTURED_KEYS.has(key)) throw new ConfigError(`--config ${path}: unknown key ${JSON.stringify(key)}${keyHint(key)}`)
    if (value === null) continue
    // Kept as parsed (string, number, boolean, list or mapping), so a wrong type is named as given.
    layer.set(key, { value, source: path })
  }
  return layer
}

/** Keys are the flag names: `index_ttl` or `indexTtl` most likely meant `index-ttl`. */
function keyHint(key: string): string {
  const kebab = key.replace(/_/g, '-').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
  return optionSpec(kebab) ? ` (did you mean "${kebab}"?)` : ' (keys are the flag names without the dashes, e.g. "index-ttl")'
}

export function usage(): string {
  const lines = OPTIONS.map((spec) => {
    const left = `  --${spec.flag}${'valueName' in spec ? ` ${spec.valueName}` : ''}`
    return `${left.padEnd(36)}${spec.help}\n${''.padEnd(36)}env ${envName(spec.flag)}`
  })
  return `Usage: tuf-proxy serve [flags]

A caching pull-through mirror of a Python simple index that verifies what it serves.
Point pip at it with: pip install --index-url http://HOST:PORT/simple/ NAME

Flags (each also a config-file key and a TUF_PROXY_<NAME> variable; flags win over env, env over file):
  --config FILE                     YAML or JSON file of settings (env TUF_PROXY_CONFIG)
${lines.join('\n')}
  -h, --help                        show this help
`
}
