/**
 * What the process says when it dies: on an uncaught exception or unhandled rejection, one
 * `fatal` JSON line naming the error and the requests in flight, then every queued log line
 * written synchronously, since nothing asynchronous runs after Node's fatal-exception handling.
 *
 * It only watches (`uncaughtExceptionMonitor`, `exit`): Node still prints the stack to stderr and
 * exits with status 1 as it would without it, so a crash is never turned into a limping process.
 * SIGTERM and SIGINT are graceful stops (serve.ts) whose last lines go out through the same
 * `exit` flush; SIGKILL and native crashes run no JavaScript, so nothing can be written then.
 */
import { describeError, errorCode, type Logger } from '../base/index.js'
import type { LineWriter } from './line-writer.js'

/** How long the dying process waits for a slow stdout reader before giving its lines up (counted). */
const EXIT_FLUSH_MAX_WAIT_MS = 5_000
/** Enough requests to find the culprit among, few enough to keep the line readable. */
const IN_FLIGHT_MAX_LISTED = 20

export interface InFlightRequest {
  readonly method: string
  readonly path: string
  readonly ms: number
}

export interface LastWordsDeps {
  readonly logger: Logger
  readonly writer: Pick<LineWriter, 'flushSync'>
  /** the requests being answered right now; empty before the server listens */
  readonly inFlight: () => readonly InFlightRequest[]
}

/** The `fatal` line for `error`, then a blocking flush; exported for its test. */
export function reportFatal(deps: LastWordsDeps, error: unknown, origin: string): void {
  let inFlight: readonly InFlightRequest[] = []
  try {
    inFlight = deps.inFlight()
  } catch {
    // The state that crashed may be the state listed; the error line matters more.
  }
  deps.logger.error('fatal', {
    origin,
    code: errorCode(error),
    detail: describeError(error),
    stack: error instanceof Error ? error.stack : undefined,
    inFlight: inFlight.slice(0, IN_FLIGHT_MAX_LISTED),
    inFlightCount: inFlight.length,
  })
  deps.writer.flushSync(EXIT_FLUSH_MAX_WAIT_MS)
}

/**
 * Installs the process-wide watchers; call once, from the composition root.
 */
export function installLastWords(deps: LastWordsDeps): void {
  process.on('uncaughtExceptionMonitor', (error, origin) => reportFatal(deps, error, origin))
  // Every way out that runs JavaScript passes here: a graceful stop, a return from main, a crash.
  process.on('exit', () => deps.writer.flushSync(EXIT_FLUSH_MAX_WAIT_MS))
}
