/**
 * The upstream HTTP client: one pooled keep-alive undici Agent per client (never the global
 * dispatcher), GET only, redirects followed by hand so the host allowlist is re-checked on every
 * hop, bounded bodies, a deadline and a rate floor against slow drips, typed errors. Knows nothing about PyPI pages or TUF, and decides nothing
 * about caching: conditional headers come in from the caller, 304 goes back to it.
 */
import { rootCertificates } from 'node:tls'
import type { Readable } from 'node:stream'
import { Agent, Client, EnvHttpProxyAgent, Pool, request } from 'undici'
import type { buildConnector, Dispatcher } from 'undici'
import { maskUrl } from '../base/index.js'
import { createHostAllowlist } from './allowlist.js'
import { boundedChunks } from './body.js'
import {
  isRetryableBeforeResponse,
  mapHeadError,
  markProxyConnectionError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamSlowError,
  UpstreamTooLargeError,
} from './errors.js'
import { validateUpstreamOptions, type UpstreamOptions } from './options.js'

export interface UpstreamHead {
  readonly status: 200 | 304
  /** The final URL, after redirects. */
  readonly url: string
  /** Response headers, lower-case names, repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
}

export interface GetOptions {
  /** The largest body accepted; larger responses fail with UpstreamTooLargeError. */
  readonly maxBytes: number
  readonly headers?: Readonly<Record<string, string>>
  readonly signal?: AbortSignal
}

export interface UpstreamStream extends UpstreamHead {
  /** Must be iterated to the end or aborted, or the connection stays busy. */
  readonly body: AsyncIterable<Uint8Array>
  readonly contentLength: number | undefined
  /** Destroys the connection; a pending or later iteration rejects with an AbortError. */
  abort(): void
}

/** Receives a body chunk by chunk (UpstreamClient.getInto). */
export interface BodySink {
  /**
   * Takes the next chunk; the next one is read only once the promise settles, so a slow sink
   * slows the download instead of buffering it. A rejection ends the download with that error.
   */
  write(chunk: Uint8Array): Promise<void>
}

export interface UpstreamClient {
  /**
   * GETs a whole bounded body. Retries once when the connection is refused or reset before any
   * response byte (GET is idempotent).
   * @throws {UpstreamHttpError} status other than 200/304; {UpstreamTooLargeError};
   *   {UpstreamTimeoutError}; {UpstreamOfflineError}; {HostNotAllowedError}; {UpstreamProtocolError};
   *   the signal's reason when `signal` aborts.
   */
  getBytes(url: string, opts: GetOptions): Promise<UpstreamHead & { readonly body: Uint8Array }>
  /**
   * Like getBytes (the same bounds, deadline, retry and errors), but hands the body to the sink
   * that `open` returns for a 200 as it arrives, instead of holding it whole; `open` is not
   * called for a 304. Resolves once the sink has taken the last chunk.
   * @throws as getBytes; and whatever `open` or the sink throws
   */
  getInto(url: string, opts: GetOptions, open: (head: UpstreamHead) => BodySink): Promise<UpstreamHead>
  /** Like getBytes, but resolves at the response head and streams the body; never retries. */
  getStream(url: string, opts: GetOptions): Promise<UpstreamStream>
  /** @throws {HostNotAllowedError} when the URL is not http(s) or its host is not allowed. */
  assertAllowed(url: string): void
  /** Closes the pooled connections. */
  close(): Promise<void>
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
/** Headers that must not follow a redirect to another origin (RFC 9110 §15.4: credentials are per origin). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
/** RFC 9110 §13.1: only these make a GET conditional, and only a conditional GET may be answered 304. */
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since']

/**
 * A body stream that errors with no 'error' listener takes the whole process down. Each body
 * gets this one as soon as it exists: whoever reads the body still sees the error (async
 * iteration and dump() observe it themselves), and a body nobody reads any more fails quietly.
 */
function ignoreBodyError(): void {}

interface Opened {
  readonly url: URL
  readonly response: Dispatcher.ResponseData
}

function parseUrl(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new TypeError(`not an absolute URL: ${maskUrl(url)}`, { cause: error })
  }
  parsed.hash = ''
  return parsed
}

function contentLengthOf(headers: Readonly<Record<string, string>>): number | undefined {
  const value = headers['content-length']
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined
}

function flattenHeaders(raw: Dispatcher.ResponseData['headers']): Readonly<Record<string, string>> {
  const entries: Array<[string, string]> = []
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    entries.push([name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value])
  }
  return Object.freeze(Object.fromEntries(entries))
}

async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  // Small bodies are drained so the socket returns to the pool; larger ones destroy it.
  await body.dump({ limit: 64 * 1024 }).catch(() => undefined)
}

function checkMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`maxBytes must be a non-negative integer (got ${maxBytes})`)
  }
}

/** A connector whose failures are marked as the proxy's own, so they are not read as the upstream's. */
function markingProxyFailures(connect: buildConnector.connector): buildConnector.connector {
  return (connectOptions, callback) =>
    connect(connectOptions, (...args) => {
      if (args[0]) markProxyConnectionError(args[0])
      callback(...args)
    })
}

function connectorOf(opts: object): buildConnector.connector | undefined {
  return 'connect' in opts && typeof opts.connect === 'function' ? (opts.connect as buildConnector.connector) : undefined
}

/**
 * The dispatcher: a plain Agent, or, with a proxy, undici's EnvHttpProxyAgent given the proxy
 * settings explicitly (it never reads process.env here: the composition root does). https targets
 * go through a CONNECT tunnel, so TLS (and --ca-bundle) is still end to end with the upstream;
 * plain-http targets are forwarded to the proxy in absolute form. The host allowlist is checked
 * against the target URL before dispatch, whatever the route.
 */
function createDispatcher(settings: UpstreamOptions): Dispatcher {
  const tls = {
    timeout: settings.connectTimeoutMs,
    rejectUnauthorized: true,
    // Extra CAs add to Node's bundled roots rather than replacing them.
    ...(settings.caBundlePem === undefined ? {} : { ca: [...rootCertificates, settings.caBundlePem] }),
  }
  const common = {
    headersTimeout: settings.headersTimeoutMs,
    bodyTimeout: settings.bodyTimeoutMs,
    ...(settings.connectionsPerOrigin === undefined ? {} : { connections: settings.connectionsPerOrigin }),
  }
  const proxy = settings.proxy
  if (!proxy || (!proxy.http && !proxy.https)) return new Agent({ connect: tls, ...common })
  const proxyOrigins = new Set([proxy.http, proxy.https].filter((url) => url).map((url) => new URL(url).origin))
  return new EnvHttpProxyAgent({
    ...common,
    // '' rather than undefined: undici would fall back to process.env.
    httpProxy: proxy.http,
    httpsProxy: proxy.https,
    noProxy: proxy.noProxy,
    connect: tls,
    requestTls: tls,
    proxyTls: tls,
    // The connection to the proxy for CONNECT tunnels.
    clientFactory: (origin, opts) => {
      const connect = connectorOf(opts)
      return new Pool(origin, connect ? { ...opts, connect: markingProxyFailures(connect) } : opts)
    },
    // Every other connection: to the proxy for forwarded plain-http requests, else to an upstream.
    factory: (origin, opts) => {
      const connect = connectorOf(opts)
      if (connect && proxyOrigins.has(new URL(origin).origin)) return new Pool(origin, { ...opts, connect: markingProxyFailures(connect) })
      // undici's own default factory (lib/dispatcher/agent.js): a Client for one connection, else a Pool.
      const poolOptions = opts as Pool.Options
      return poolOptions.connections === 1 ? new Client(origin, poolOptions) : new Pool(origin, poolOptions)
    },
  })
}

/**
 * Creates a client with its own connection pool.
 * @throws {TypeError} naming the option when an option is invalid.
 */
export function createUpstreamClient(options: UpstreamOptions): UpstreamClient {
  const settings = validateUpstreamOptions(options)
  const allowlist = createHostAllowlist(settings.allowedHosts)
  const agent = createDispatcher(settings)

  async function send(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, retries: number): Promise<Dispatcher.ResponseData> {
    const hopHeaders = { ...headers }
    if ((url.username || url.password) && hopHeaders['authorization'] === undefined) {
      // undici ignores URL userinfo; index URLs such as https://user:token@host/simple/ rely on it.
      const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      hopHeaders['authorization'] = `Basic ${Buffer.from(userinfo).toString('base64')}`
    }
    const target = new URL(url)
    target.username = ''
    target.password = ''
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await request(target, { dispatcher: agent, method: 'GET', headers: hopHeaders, signal: signal ?? null })
        response.body.on('error', ignoreBodyError)
        return response
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        if (attempt < retries && isRetryableBeforeResponse(error)) continue
        throw mapHeadError(error, maskUrl(url.href))
      }
    }
  }

  async function open(startUrl: string, opts: GetOptions, retries: number): Promise<Opened> {
    checkMaxBytes(opts.maxBytes)
    let url = parseUrl(startUrl)
    let headers: Record<string, string> = { 'user-agent': settings.userAgent }
    for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value
    // Identity only, so the bytes we hash and store are exactly the upstream's bytes. RFC 9110
    // §12.5.3: sending no Accept-Encoding at all would allow any coding.
    headers['accept-encoding'] = 'identity'
    for (let hops = 0; ; hops++) {
      allowlist.assertAllowed(url)
      const response = await send(url, headers, opts.signal, retries)
      if (!REDIRECT_STATUSES.has(response.statusCode)) return { url, response }
      await discard(response.body)
      if (hops >= settings.maxRedirects) {
        throw new UpstreamProtocolError(`more than ${settings.maxRedirects} redirects starting at ${maskUrl(startUrl)}`)
      }
      const location = response.headers['location']
      let next: URL
      try {
        if (typeof location !== 'string' || location === '') throw new TypeError('missing Location')
        next = new URL(location, url)
        next.hash = ''
      } catch (error) {
        throw new UpstreamProtocolError(`redirect ${response.statusCode} from ${maskUrl(url.href)} has no valid Location`, { cause: error })
      }
      if (url.protocol === 'https:' && next.protocol === 'http:') {
        throw new UpstreamProtocolError(`refusing redirect from ${maskUrl(url.href)} down to plain http`)
      }
      if (next.origin !== url.origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.includes(name)))
      }
      url = next
    }
  }

  /**
   * Returns the head for 200, and for 304 to a conditional request; throws UpstreamHttpError
   * (after discarding the body) for any other status.
   */
  async function head(opened: Opened, opts: GetOptions): Promise<UpstreamHead & { contentLength: number | undefined }> {
    const { response, url } = opened
    const { maxBytes } = opts
    const status = response.statusCode
    if (status !== 200 && status !== 304) {
      await discard(response.body)
      throw new UpstreamHttpError(status, maskUrl(url.href))
    }
    if (status === 304 && !Object.keys(opts.headers ?? {}).some((name) => CONDITIONAL_HEADERS.includes(name.toLowerCase()))) {
      // Taken at its word, it would make an empty body "the current version" of whatever was asked.
      await discard(response.body)
      throw new UpstreamProtocolError(`upstream answered 304 Not Modified to an unconditional request for ${maskUrl(url.href)}`)
    }
    const headers = flattenHeaders(response.headers)
    const coding = headers['content-encoding']?.trim().toLowerCase()
    if (coding !== undefined && coding !== '' && coding !== 'identity') {
      // RFC 9110 §12.5.3: we sent `Accept-Encoding: identity`; a coded body is not the resource's
      // bytes (a gzip page would parse as an empty page, an unhashed file be cached compressed).
      await discard(response.body)
      throw new UpstreamProtocolError(`upstream sent ${maskUrl(url.href)} with Content-Encoding ${JSON.stringify(coding)}, which was not asked for (Accept-Encoding: identity)`)
    }
    const contentLength = status === 304 ? 0 : contentLengthOf(headers)
    if (contentLength !== undefined && contentLength > maxBytes) {
      response.body.destroy()
      throw new UpstreamTooLargeError(maskUrl(url.href), maxBytes)
    }
    return { status, url: url.href, headers, contentLength }
  }

  /**
   * Runs `work` with a signal that aborts at the deadline as well as with the caller's signal; a
   * deadline that fires becomes an UpstreamSlowError, the caller's abort stays its own reason.
   */
  async function withDeadline<T>(url: string, opts: GetOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(), settings.deadlineMs)
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal
    try {
      return await work(signal)
    } catch (error) {
      if (deadline.signal.aborted && !opts.signal?.aborted) {
        throw new UpstreamSlowError(`upstream took longer than ${settings.deadlineMs} ms for ${maskUrl(url)} (--upstream-deadline)`, { cause: error })
      }
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  const rateLimits = { minBytesPerSecond: settings.minBytesPerSecond, rateWindowMs: settings.rateWindowMs }

  /** A whole bounded body under the deadline, each chunk handed to the sink as it arrives. */
  const getWhole = (url: string, opts: GetOptions, openSink: (head: UpstreamHead) => BodySink): Promise<UpstreamHead> =>
    withDeadline(url, opts, async (signal) => {
      const bounded = { ...opts, signal }
      const opened = await open(url, bounded, 1)
      const { contentLength, ...rest } = await head(opened, bounded)
      if (rest.status === 304) {
        await discard(opened.response.body)
        return rest
      }
      const sink = openSink(rest)
      const limits = { url: rest.url, maxBytes: opts.maxBytes, contentLength, signal, ...rateLimits }
      for await (const chunk of boundedChunks(opened.response.body as Readable, limits, () => false)) await sink.write(chunk)
      return rest
    })

  return {
    getBytes: async (url, opts) => {
      const chunks: Uint8Array[] = []
      let total = 0
      const head = await getWhole(url, opts, () => ({
        write: async (chunk) => {
          chunks.push(chunk)
          total += chunk.byteLength
        },
      }))
      return { ...head, body: chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, total) }
    },

    getInto: getWhole,

    async getStream(url, opts) {
      // The deadline covers the head only: a file's total time cannot be bounded in advance, so
      // its body is held to the rate floor instead. The body keeps the caller's own signal.
      const opened = await withDeadline(url, opts, (signal) => open(url, { ...opts, signal }, 0))
      const result = await head(opened, opts)
      const raw = opened.response.body as Readable
      let aborted = false
      const limits = { url: result.url, maxBytes: opts.maxBytes, contentLength: result.contentLength, signal: opts.signal, ...rateLimits }
      const body = boundedChunks(raw, limits, () => aborted)
      return {
        ...result,
        body,
        abort() {
          aborted = true
          raw.destroy()
        },
      }
    },

    assertAllowed(url) {
      allowlist.assertAllowed(parseUrl(url))
    },

    close: () => agent.close(),
  }
}
