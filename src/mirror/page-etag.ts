/**
 * The ETag of one rendered representation of an index page.
 */
import { sha256Hex } from '../base/index.js'
import type { SimpleFormat } from '../index/index.js'

/**
 * RFC 9110 §8.8.3: a strong ETag names one representation, and text/html and v1+html answers
 * carry the same bytes under different Content-Types, so the format is part of the tag; else an
 * If-None-Match from one would earn a 304 for the other.
 */
export function representationEtag(format: SimpleFormat, bodySha256: string): string {
  return `"${sha256Hex(Buffer.from(`${format}:${bodySha256}`, 'utf8')).slice(0, 32)}"`
}
