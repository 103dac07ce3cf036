/**
 * Batches log lines into few writes: at most FLUSH_DELAY_MS late, or as soon as FLUSH_BYTES are
 * pending. On Linux, writes to a piped or redirected stdout are synchronous, so a write per
 * request line (or per event-loop turn, measured in bench/) costs a syscall on the hot path.
 */
import { writeSync } from 'node:fs'
import type { LogLevel } from '../base/index.js'

/** Routine lines are written when this much is buffered, or after FLUSH_DELAY_MS, whichever is first. */
const FLUSH_BYTES = 64 * 1024
const FLUSH_DELAY_MS = 50

export function createLineWriter(fd: number): { write: (line: string, level: LogLevel) => void; flush: () => void } {
  let pending: string[] = []
  let pendingBytes = 0
  let timer: NodeJS.Timeout | undefined
  const flush = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (pending.length === 0) return
    const text = pending.join('')
    pending = []
    pendingBytes = 0
    try {
      writeSync(fd, text)
    } catch {
      // stdout closed or full (EAGAIN): logs are best effort and must never stop serving.
    }
  }
  return {
    write(line, level) {
      pending.push(line)
      pendingBytes += line.length
      // Warnings and errors (drops among them) go out at once; routine lines wait for company.
      if (pendingBytes >= FLUSH_BYTES || level === 'warn' || level === 'error') flush()
      else if (!timer) {
        timer = setTimeout(flush, FLUSH_DELAY_MS)
        // A pending log line must not keep the process alive on its own.
        timer.unref()
      }
    },
    flush,
  }
}
