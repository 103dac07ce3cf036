/**
 * Batches log lines into one write per event-loop turn. On Linux, writes to a piped stdout are
 * synchronous, so one write per request line would cost a syscall on the hot path.
 */
import { writeSync } from 'node:fs'

export function createLineWriter(fd: number): { write: (line: string) => void; flush: () => void } {
  let pending: string[] = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const text = pending.join('')
    pending = []
    try {
      writeSync(fd, text)
    } catch {
      // stdout closed or full (EAGAIN): logs are best effort and must never stop serving.
    }
  }
  return {
    write(line) {
      pending.push(line)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush,
  }
}
