/** The operator's configuration is wrong: a message that names the option and where it came from. */
import { ProxyError } from '../base/index.js'

export class ConfigError extends ProxyError {
  readonly code = 'config'
  /** The operator's input, never a client's; it stops start-up and never reaches HTTP. */
  readonly fault = 'bad_request'
}
