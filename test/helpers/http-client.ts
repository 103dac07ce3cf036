/**
 * What integration tests need to look at the proxy from outside: a GET that returns status,
 * headers and the whole body, a request of any method whose JSON answer is parsed (the admin
 * API's), and the digests of the blobs in a proxy's cache directory.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'

export interface Fetched {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
  readonly text: string
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const response = await request(url, { headers })
  const body = Buffer.from(await response.body.arrayBuffer())
  return { status: response.statusCode, headers: response.headers, body, text: body.toString('utf8') }
}

/** Any method; `json` is the parsed body, or `{}` when it is not JSON (the assertions on status then say what went wrong). */
export async function callJson(method: string, url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { method, headers })
  const text = await response.body.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // not JSON: the assertions on status say what went wrong
  }
  return { status: response.statusCode, headers: response.headers, text, json }
}

/** The SHA-256 names of the committed blobs under a proxy's cache directory. */
export function blobDigests(cacheDir: string): string[] {
  const root = join(cacheDir, 'blobs', 'blobs')
  try {
    return readdirSync(root).flatMap((dir) => readdirSync(join(root, dir)))
  } catch {
    return []
  }
}
