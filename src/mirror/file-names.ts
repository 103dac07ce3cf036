/**
 * Which file names and project names may appear in a proxy path. Upstream names are never turned
 * into disk paths (the store is content-addressed), but they do become URL segments, so a name
 * that could change the meaning of a path is refused wherever it enters.
 */
const MAX_NAME_BYTES = 255

/** A distribution file name that is one harmless path segment. */
export function isSafeFileName(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES) return false
  if (name.startsWith('.')) return false
  // No separators, no percent (it would decode differently on the next hop), no controls or NUL.
  return !/[/\\%\u0000-\u001f\u007f]/.test(name)
}
