/**
 * The upstream client's options and their eager validation, so a bad value fails at startup with
 * the option's name rather than on the first request. Defaults live in config/, not here.
 */
import { maskUrl } from '../base/index.js'
export interface UpstreamOptions {
  /** `host` or `host:port`; a bare host matches only the scheme's default port. Checked on every redirect hop. */
  readonly allowedHosts: readonly string[]
  /** Extra trusted CAs (PEM), added to Node's bundled roots. */
  readonly caBundlePem?: string | undefined
  readonly connectTimeoutMs: number
  /** Time allowed from sending the request to receiving the complete response head. */
  readonly headersTimeoutMs: number
  /** Longest pause allowed between two body chunks (an idle timeout, not a total). */
  readonly bodyTimeoutMs: number
  /**
   * The total time a whole-body request (getBytes, getInto: pages, TUF metadata) may take, redirects
   * included; for a stream (getStream: files), the time until its response head. An idle timeout
   * alone never ends a slow drip.
   */
  readonly deadlineMs: number
  /**
   * The slowest body accepted, in bytes per second, averaged over each `rateWindowMs`; 0 turns the
   * check off. This is what ends a drip in a large file, whose total time cannot be bounded in advance.
   */
  readonly minBytesPerSecond: number
  readonly rateWindowMs: number
  readonly maxRedirects: number
  readonly userAgent: string
  /** Pooled connections per origin; unlimited when absent. */
  readonly connectionsPerOrigin?: number | undefined
  /** The HTTP proxy to reach the upstreams through; direct when absent. */
  readonly proxy?: UpstreamProxy | undefined
}

/**
 * Proxies as curl, pip and uv read them from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, with undici's
 * rules (EnvHttpProxyAgent): '' is none; https targets fall back to the http proxy when no https
 * proxy is set; NO_PROXY lists hosts (`.example.org` and `*.example.org` for subdomains,
 * `host:port`, `*` for all) reached directly. Credentials go in the URL's userinfo.
 */
export interface UpstreamProxy {
  readonly http: string
  readonly https: string
  readonly noProxy: string
}

function positiveInteger(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`upstream option "${name}" must be a positive integer (got ${String(value)})`)
  }
}

/** @throws {TypeError} naming the first invalid option. */
export function validateUpstreamOptions(options: UpstreamOptions): UpstreamOptions {
  positiveInteger('connectTimeoutMs', options.connectTimeoutMs)
  positiveInteger('headersTimeoutMs', options.headersTimeoutMs)
  positiveInteger('bodyTimeoutMs', options.bodyTimeoutMs)
  positiveInteger('deadlineMs', options.deadlineMs)
  positiveInteger('rateWindowMs', options.rateWindowMs)
  if (!Number.isSafeInteger(options.minBytesPerSecond) || options.minBytesPerSecond < 0) {
    throw new TypeError(`upstream option "minBytesPerSecond" must be a non-negative integer (got ${String(options.minBytesPerSecond)})`)
  }
  const { maxRedirects, userAgent, caBundlePem, connectionsPerOrigin } = options
  if (!Number.isSafeInteger(maxRedirects) || maxRedirects < 0 || maxRedirects > 20) {
    throw new TypeError(`upstream option "maxRedirects" must be an integer from 0 to 20 (got ${String(maxRedirects)})`)
  }
  if (typeof userAgent !== 'string' || userAgent.trim() === '' || /[\r\n\0]/.test(userAgent)) {
    throw new TypeError('upstream option "userAgent" must be a non-empty single-line string')
  }
  if (caBundlePem !== undefined && (typeof caBundlePem !== 'string' || !caBundlePem.includes('-----BEGIN CERTIFICATE-----'))) {
    throw new TypeError('upstream option "caBundlePem" must be PEM text containing at least one "-----BEGIN CERTIFICATE-----" block')
  }
  if (connectionsPerOrigin !== undefined) positiveInteger('connectionsPerOrigin', connectionsPerOrigin)
  for (const name of ['http', 'https'] as const) {
    const url = options.proxy?.[name]
    if (url && !/^https?:\/\/[^/?#]/i.test(url)) {
      throw new TypeError(`upstream option "proxy.${name}" must be an http:// or https:// URL (got ${maskUrl(url)})`)
    }
  }
  return options
}
