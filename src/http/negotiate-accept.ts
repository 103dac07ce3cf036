/**
 * PEP 691 negotiation of the Accept header for the page routes, cached per distinct value: clients
 * send a handful of distinct headers, and negotiating one costs more than serving a cached page.
 */
import { negotiate, type SimpleFormat } from '../index/index.js'

const negotiated = new Map<string, SimpleFormat | undefined>()
const NEGOTIATED_MAX_ENTRIES = 256

export function negotiateAccept(accept: string | undefined): SimpleFormat | undefined {
  const key = accept ?? ''
  const known = negotiated.get(key)
  if (known !== undefined || negotiated.has(key)) return known
  const format = negotiate(accept, undefined)
  if (negotiated.size < NEGOTIATED_MAX_ENTRIES) negotiated.set(key, format)
  return format
}
