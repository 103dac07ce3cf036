/**
 * Reads the admin API's bearer token from --admin-token-file at start: the file's content,
 * trimmed. A file that is missing, empty, too short to resist guessing, or not sendable as a
 * bearer token stops the start with a ConfigError. A file other users may read is allowed with a
 * warning (the caller logs it): container secrets are commonly mounted 0444 or 0644, and
 * refusing them would push operators to put the token somewhere worse.
 */
import { readFileSync, statSync } from 'node:fs'
import { describeError } from '../base/index.js'
import { ConfigError } from '../config/index.js'

/** 32 characters: `openssl rand -hex 16`, 128 bits. */
export const MIN_TOKEN_CHARS = 32

/** RFC 6750 §2.1 b64token: what a client can send after `Bearer `. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

export interface AdminToken {
  readonly token: string
  /** the file's permission bits when group or other may read it, else undefined */
  readonly looseMode: number | undefined
}

/** @throws ConfigError naming the option and what is wrong with the file */
export function readAdminToken(path: string): AdminToken {
  const fail = (problem: string): never => {
    throw new ConfigError(`--admin-token-file ${path}: ${problem}`)
  }
  let mode = 0
  let text = ''
  try {
    const info = statSync(path)
    if (!info.isFile()) fail('is not a regular file')
    mode = info.mode & 0o777
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if (error instanceof ConfigError) throw error
    fail(`cannot read the file (${describeError(error)})`)
  }
  const token = text.trim()
  if (token === '') fail('the file is empty; put the admin token in it (for example the output of `openssl rand -hex 32`)')
  if (!B64TOKEN.test(token)) fail('the token must be one word of letters, digits and -._~+/ (a bearer token, RFC 6750)')
  if (token.length < MIN_TOKEN_CHARS) fail(`the token has ${token.length} characters; use at least ${MIN_TOKEN_CHARS} (for example \`openssl rand -hex 32\`)`)
  return { token, looseMode: (mode & 0o044) === 0 ? undefined : mode }
}
