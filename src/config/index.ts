export { ConfigError } from './errors.js'
export { DEFAULTS, OPTIONS, envName, type Settings, type TufSettings, type TufLayout } from './schema.js'
export { parseSettings, type RawLayer, type RawValue } from './parse.js'
export { parseArgv, readEnv, readConfigFile, usage } from './load.js'
