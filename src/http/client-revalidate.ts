/**
 * Whether a client asks for a project page to be revalidated upstream before it is answered
 * (honoured only under --honor-client-revalidate): RFC 9111 §5.2.1.4 `Cache-Control: no-cache`,
 * or §5.4 `Pragma: no-cache` from a client that sends no Cache-Control.
 *
 * Deliberately not `max-age=0`: pip sends `Cache-Control: max-age=0` on every index request,
 * so honouring it would revalidate every page on every install and defeat --index-ttl.
 */
import type { IncomingHttpHeaders } from 'node:http'

function hasNoCache(value: string | undefined): boolean {
  if (value === undefined) return false
  // A list of directives (RFC 9111 §5.2); a directive's name is case-insensitive.
  return value.split(',').some((directive) => directive.split('=')[0]?.trim().toLowerCase() === 'no-cache')
}

export function asksToRevalidate(headers: IncomingHttpHeaders): boolean {
  const cacheControl = headers['cache-control']
  // RFC 9111 §5.4: Pragma is ignored when Cache-Control is present.
  if (cacheControl !== undefined) return hasNoCache(cacheControl)
  const pragma = headers.pragma
  return hasNoCache(typeof pragma === 'string' ? pragma : undefined)
}
