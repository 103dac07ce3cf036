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
  const log = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < minRank && !unfiltered.has(event)) return
    // Built as text (one line per request is a hot path); undefined fields are left out, as
    // JSON.stringify would, and a field never overwrites the header that log readers key on.
    let line = `{"time":"${new Date(nowMs()).toISOString()}","level":"${level}","event":${JSON.stringify(event)}`
    if (fields) {
      for (const key in fields) {
        const value = fields[key]
        if (value === undefined || key === 'time' || key === 'level' || key === 'event') continue
        line += `,${JSON.stringify(key)}:${JSON.stringify(value)}`
      }
    }
    options.write(`${line}}\n`, level)
  }
  return {
    log,
    info: (event, fields) => log('info', event, fields),
    warn: (event, fields) => log('warn', event, fields),
    error: (event, fields) => log('error', event, fields),
  }
}

export const silentLogger: Logger = { log() {}, info() {}, warn() {}, error() {} }

/** Replaces the password (or a lone token) of a URL's userinfo with `***`. */
export function maskUrl(url: string): string {
  // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2); userinfo runs to its LAST
  // '@', as WHATWG URL parses it, so a raw '@' in a password is masked too, and an '@' in the
  // query of a path-less URL is not mistaken for userinfo.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':')
    return colon === -1 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`
  })
}
