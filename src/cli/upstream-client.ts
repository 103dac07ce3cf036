/**
 * The upstream client as `serve` and `mirror` both build it from the settings: timeouts, the
 * deadline and rate floor, redirects re-checked against the host allowlist, the CA bundle, the
 * upstream proxy.
 */
import { readFileSync } from 'node:fs'
import { describeError } from '../base/index.js'
import { ConfigError, type Settings } from '../config/index.js'
import { createUpstreamClient, type UpstreamClient } from '../upstream/index.js'

/** The longest window over which the upstream body rate floor is averaged. */
const RATE_WINDOW_MAX_MS = 10_000

/** @throws ConfigError when the CA bundle cannot be read */
export function upstreamClientFor(settings: Settings): UpstreamClient {
  const timeoutMs = settings.upstreamTimeoutMs
  return createUpstreamClient({
    allowedHosts: settings.allowedHosts,
    caBundlePem: settings.caBundleFile ? readCaBundle(settings.caBundleFile) : undefined,
    connectTimeoutMs: timeoutMs,
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    deadlineMs: settings.upstreamDeadlineMs,
    minBytesPerSecond: settings.upstreamMinBytesPerSecond,
    // A window as long as the idle timeout: a body that makes no real progress for that long has
    // stalled as surely as one that sends nothing. Capped so a drip is ended within seconds.
    rateWindowMs: Math.min(timeoutMs, RATE_WINDOW_MAX_MS),
    maxRedirects: 5,
    userAgent: 'tuf-proxy/0.1',
    proxy: settings.proxy,
  })
}

function readCaBundle(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`--ca-bundle ${path}: cannot read the file (${describeError(error)})`)
  }
}
