/**
 * The upstream client of `serve --offline`: it has no connection pool and opens no socket, so an
 * air-gapped mirror cannot call out whatever a request asks for. Every fetch fails with
 * NotInOfflineMirrorError. Every http(s) URL counts as allowed: nothing is fetched, and the
 * links of imported pages (to whatever host the bundle's upstream used) must stay servable.
 */
import type { UpstreamClient } from './client.js'
import { HostNotAllowedError, NotInOfflineMirrorError } from './errors.js'

export function createOfflineClient(): UpstreamClient {
  return {
    getBytes: (url) => Promise.reject(new NotInOfflineMirrorError(url)),
    getInto: (url) => Promise.reject(new NotInOfflineMirrorError(url)),
    getStream: (url) => Promise.reject(new NotInOfflineMirrorError(url)),
    assertAllowed(url) {
      const protocol = URL.canParse(url) ? new URL(url).protocol : ''
      if (protocol !== 'http:' && protocol !== 'https:') throw new HostNotAllowedError(`${url} is not an http(s) URL`)
    },
    close: () => Promise.resolve(),
  }
}
