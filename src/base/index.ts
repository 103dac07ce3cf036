export { ProxyError, IntegrityError, describeError, errorCode, faultOf, type Fault } from './errors.js'
export {
  HASH_ALGORITHMS,
  STRONG_HASH_NAMES,
  type HashAlgorithm,
  type HashAlgorithmName,
  type HashCheck,
  type Hasher,
  findHashAlgorithm,
  createHasher,
  digestHex,
  sha256Hex,
  hashesToCheck,
  hasStrongHash,
} from './hash.js'
export { type Clock, systemClock, fixedClock } from './clock.js'
export { type Logger, type LogLevel, type LogFields, createJsonLogger, silentLogger, maskUrl } from './log.js'
export { Metrics } from './metrics.js'
export { parseDurationSeconds, formatDuration } from './duration.js'
