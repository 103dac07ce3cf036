/**
 * PEP 691 negotiation of the Accept header for the page routes, cached per distinct value: clients
 * send a handful of distinct headers, and negotiating one costs more than serving a cached page.
 */
import { negotiate, type SimpleFormat } from '../index/index.js'

const negotiated = new Map<string, SimpleFormat | undefined>()
const NEGOTIATED_MAX_ENTRIES = 256

/** The last header seen: one client tool sends the same one every time, and comparing it costs
 * less than hashing it for the map. */
let last: { accept: string; format: SimpleFormat | undefined } | undefined

export function negotiateAccept(accept: string | undefined): SimpleFormat | undefined {
  const key = accept ?? ''
  if (last?.accept === key) return last.format
  let format = negotiated.get(key)
  if (format === undefined && !negotiated.has(key)) {
    format = negotiate(accept, undefined)
    if (negotiated.size < NEGOTIATED_MAX_ENTRIES) negotiated.set(key, format)
  }
  last = { accept: key, format }
  return format
}
