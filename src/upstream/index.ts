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
} from './errors.js'
export { createOfflineClient } from './offline.js'
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
  type OriginReport,
  isUpstreamFailure,
  withHealthBreaker,
} from './health.js'
