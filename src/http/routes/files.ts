/**
 * `/files/<project>/<file name>`: the proxy's own URLs for distribution files and their PEP 658
 * `.metadata`, as rewritten into every page. Names are checked before anything is looked up.
 */
import type { Hono } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { isValidProjectName, normalizeName } from '../../index/index.js'
import { isSafeFileName, type Mirror } from '../../mirror/index.js'
import { BadRequestError } from '../error-response.js'
import { rangeRequestOf, sendFileResult } from '../send-file.js'
import type { AppEnv } from '../app.js'

export function fileRoutes(app: Hono<AppEnv>, mirror: Mirror): void {
  app.get('/files/:project{[^/]+}/:file{[^/]+}', async (c) => {
    const project = c.req.param('project')
    const fileName = c.req.param('file')
    if (!isValidProjectName(project) || normalizeName(project) !== project) {
      throw new BadRequestError(`${JSON.stringify(project)} is not a normalized project name`)
    }
    if (!isSafeFileName(fileName)) throw new BadRequestError(`${JSON.stringify(fileName)} is not a valid file name`)
    const headers = {
      'content-type': fileName.endsWith('.metadata') ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      'cache-control': 'public, max-age=31536000, immutable',
    }
    const sent = await sendFileResult(c.env.outgoing, {
      result: await mirror.file(project, fileName),
      headers,
      isHead: c.req.method === 'HEAD',
      request: rangeRequestOf(c.env.incoming.headers),
      lookUpAgain: () => mirror.file(project, fileName),
    })
    c.set('served', { status: c.env.outgoing.statusCode, ...sent })
    return RESPONSE_ALREADY_SENT
  })
}
