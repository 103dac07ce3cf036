/**
 * Structured logging: one JSON object per line. Rooms receive a Logger; only the composition root
 * decides where lines go. URLs are masked before they are logged, since an upstream URL may
 * carry credentials (https://user:token@host/simple/).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Readonly<Record<string, unknown>>

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }
/** Printable ASCII but `"` and `\\`: JSON quotes such a string without escaping anything. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** JSON.stringify of a string, without its machinery for the common plain case. */
function quote(text: string): string {
  return PLAIN_TEXT.test(text) ? `"${text}"` : JSON.stringify(text)
}

export function createJsonLogger(options: {
  /** receives each line with its level, so a writer may batch routine lines but not warnings */
  write: (line: string, level: LogLevel) => void
  level?: LogLevel
  nowMs?: () => number
  /** events written whatever the level, e.g. the start-up line a supervisor reads the port from */
  unfiltered?: ReadonlySet<string>
}): Logger {
  const minRank = LEVEL_RANK[options.level ?? 'info']
  const unfiltered = options.unfiltered ?? new Set<string>()
  const nowMs = options.nowMs ?? (() => Date.now())
  // The access log writes a line per request (issue 9: a few microseconds a line). The time as
  // text changes once a millisecond and is shared by the lines within it.
  let stampMs = Number.NaN
  let stamp = ''
  const log = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < minRank && !unfiltered.has(event)) return
    const ms = nowMs()
    if (ms !== stampMs) {
      stampMs = ms
      stamp = new Date(ms).toISOString()
    }
    const head = `{"time":"${stamp}","level":"${level}","event":${quote(event)}`
    // The fields in one JSON.stringify: one flat string, undefined fields left out, where a
    // field at a time built a string per key and value (measured: 0.7 -> 0.5 µs a request
    // line). A field never overwrites the header that log readers key on.
    const body = fields === undefined ? undefined : JSON.stringify(withoutHeader(fields))
    options.write(body === undefined || body === '{}' ? `${head}}\n` : `${head},${body.slice(1)}\n`, level)
  }
  return {
    log,
    info: (event, fields) => log('info', event, fields),
    warn: (event, fields) => log('warn', event, fields),
    error: (event, fields) => log('error', event, fields),
  }
}

/** `fields` less any named like the line's header (`time`, `level`, `event`); the same object when none is. */
function withoutHeader(fields: LogFields): LogFields {
  if (fields.time === undefined && fields.level === undefined && fields.event === undefined) return fields
  const { time: _time, level: _level, event: _event, ...rest } = fields
  return rest
}

export const silentLogger: Logger = { log() {}, info() {}, warn() {}, error() {} }

/** Replaces the password (or a lone token) of a URL's userinfo with `***`. */
export function maskUrl(url: string): string {
  // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2); userinfo runs to its LAST
  // '@', as WHATWG URL parses it, so a raw '@' in a password is masked too, and an '@' in the
  // query of a path-less URL is not mistaken for userinfo. Text that does not parse as a URL is
  // what a config error quotes: there a raw '/', '?' or '#' in a password would end the authority
  // early, so the userinfo is taken to run to the last '@' of the whole text.
  const userinfo = URL.canParse(url) ? /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i : /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is
  return url.replace(userinfo, (_match, scheme: string, info: string) => {
    const colon = info.indexOf(':')
    return colon === -1 ? `${scheme}***@` : `${scheme}${info.slice(0, colon)}:***@`
  })
}
