export {
  UpstreamError,
  UpstreamHttpError,
  UpstreamTimeoutError,
  UpstreamSlowError,
  UpstreamTooLargeError,
  UpstreamOfflineError,
  HostNotAllowedError,
  UpstreamProtocolError,
  NotInOfflineMirrorError,
  type FailureCause,
  failureCauseOf,
} from './errors.js'
export { createOfflineClient } from './offline.js'
export { type UpstreamOptions, type UpstreamProxy } from './options.js'
export {
  type UpstreamClient,
  type BodySink,
  type UpstreamHead,
  type UpstreamStream,
  type GetOptions,
  createUpstreamClient,
} from './client.js'
export {
  type UpstreamHealth,
  type UpstreamHealthOptions,
  type HealthState,
  createUpstreamHealth,
  type OriginReport,
  isUpstreamFailure,
  withHealthBreaker,
} from './health.js'
export { checkUpstream, type StartCheckDeps } from './start-check.js'
export { type RequestMetricsDeps, withRequestMetrics } from './request-metrics.js'
