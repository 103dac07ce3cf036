export { ProxyError, IntegrityError, describeError, errorCode, faultOf, type Fault } from './errors.js'
export {
  STRONG_HASH_ALGORITHMS,
  type StrongHashAlgorithm,
  type Hasher,
  isStrongHashAlgorithm,
  createHasher,
  digestHex,
  sha256Hex,
  hashesToCheck,
  hasStrongHash,
} from './hash.js'
export { type Clock, systemClock, fixedClock } from './clock.js'
export { type Logger, type LogLevel, type LogFields, createJsonLogger, silentLogger, maskUrl } from './log.js'
export { Metrics } from './metrics.js'
