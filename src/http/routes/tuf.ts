/**
 * `/tuf/metadata/<name>` and `/tuf/targets/<path>` for TUF clients behind the proxy: byte-identical
 * upstream metadata and targets, but only what the proxy itself verified. Absent in hash-only mode.
 */
import type { Hono } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { NotFoundError, type Mirror } from '../../mirror/index.js'
import { BadRequestError } from '../error-response.js'
import { rangeRequestOf, sendFileResult } from '../send-file.js'
import type { AppEnv } from '../app.js'

const METADATA_NAME = /^[^/]{1,255}\.json$/

export function tufRoutes(app: Hono<AppEnv>, mirror: Mirror): void {
  app.get('/tuf/metadata/:name{.+}', async (c) => {
    const tuf = requireTuf(mirror)
    const name = c.req.param('name')
    if (!METADATA_NAME.test(name)) throw new BadRequestError(`${JSON.stringify(name)} is not a metadata file name`)
    const bytes = await tuf.metadata(name)
    c.set('served', { cache: 'HIT', bytes: bytes.byteLength })
    return new Response(c.req.method === 'HEAD' ? null : bytes, {
      status: 200,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.byteLength), 'cache-control': 'no-cache', 'x-cache': 'HIT' },
    })
  })
  app.get('/tuf/targets/:path{.+}', async (c) => {
    const tuf = requireTuf(mirror)
    const path = c.req.param('path')
    if (path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
      throw new BadRequestError(`${JSON.stringify(path)} is not a target path`)
    }
    const sent = await sendFileResult(c.env.outgoing, {
      result: await tuf.target(path),
      headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' },
      isHead: c.req.method === 'HEAD',
      request: rangeRequestOf(c.env.incoming.headers),
      lookUpAgain: () => tuf.target(path),
    })
    c.set('served', { status: c.env.outgoing.statusCode, ...sent })
    return RESPONSE_ALREADY_SENT
  })
}

function requireTuf(mirror: Mirror) {
  if (!mirror.tuf) throw new NotFoundError('verifying mode is off: this proxy serves no TUF metadata (start it with --tuf-root)')
  return mirror.tuf
}
