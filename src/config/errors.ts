/** The operator's configuration is wrong: a message that names the option and where it came from. */
import { ProxyError } from '../base/index.js'

export class ConfigError extends ProxyError {
  readonly code = 'config'
}
