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
export { type Clock, type MonotonicMs, systemClock, systemMonotonicMs, fixedClock } from './clock.js'
export { type Logger, type LogLevel, type LogFields, createJsonLogger, silentLogger, maskUrl } from './log.js'
export { Metrics, type CounterHandle, type HistogramFamily, type HistogramHandle } from './metrics.js'
export { parseDurationSeconds, formatDuration } from './duration.js'
