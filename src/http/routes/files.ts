/**
 * `/files/<project>/<file name>`: the proxy's own URLs for distribution files and their PEP 658
 * `.metadata`, as rewritten into every page. Names are checked before anything is looked up.
 */
import type { Hono } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { isValidProjectName, normalizeName } from '../../index/index.js'
import { isSafeFileName, type Mirror } from '../../mirror/index.js'
import { BadRequestError } from '../error-response.js'
import { sendBlob, sendDownload, VERIFY_BEFORE_HEADERS_BYTES } from '../send-file.js'
import type { AppEnv } from '../app.js'

export function fileRoutes(app: Hono<AppEnv>, mirror: Mirror): void {
  app.get('/files/:project{[^/]+}/:file{[^/]+}', async (c) => {
    const project = c.req.param('project')
    const fileName = c.req.param('file')
    if (!isValidProjectName(project) || normalizeName(project) !== project) {
      throw new BadRequestError(`${JSON.stringify(project)} is not a normalized project name`)
    }
    if (!isSafeFileName(fileName)) throw new BadRequestError(`${JSON.stringify(fileName)} is not a valid file name`)
    const result = await mirror.file(project, fileName)
    const isHead = c.req.method === 'HEAD'
    const headers = {
      'content-type': fileName.endsWith('.metadata') ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      'cache-control': 'public, max-age=31536000, immutable',
      'x-cache': result.cache,
    }
    const res = c.env.outgoing
    if (result.kind === 'cached') {
      await sendBlob(res, result.ref, headers, isHead)
    } else {
      // Fail with a proper status while nothing is sent yet; after this, failures abort the body.
      await result.download.headway(VERIFY_BEFORE_HEADERS_BYTES)
      await sendDownload(res, result.download, headers, isHead)
    }
    return RESPONSE_ALREADY_SENT
  })
}
