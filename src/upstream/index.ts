export {
  UpstreamError,
  UpstreamHttpError,
  UpstreamTimeoutError,
  UpstreamSlowError,
  UpstreamTooLargeError,
  UpstreamOfflineError,
  HostNotAllowedError,
  UpstreamProtocolError,
} from './errors.js'
export { type UpstreamOptions } from './options.js'
export {
  type UpstreamClient,
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
  isUpstreamFailure,
  withHealthBreaker,
} from './health.js'
export { type RequestMetricsDeps, withRequestMetrics } from './request-metrics.js'
