/**
 * Progress of a long bundle job. On a terminal: one live line (files, bytes, rate, ETA) redrawn
 * at most ten times a second, written here (a dozen lines; no dependency). Otherwise: one JSON
 * line per item and a summary, for scripts and CI logs.
 */
export interface ProgressItem {
  readonly status: string
  readonly kind: string
  readonly project: string
  readonly name: string
  readonly size: number
  readonly sha256: string
}

export interface Progress {
  planned(files: number, bytes: number): void
  bytes(count: number): void
  item(item: ProgressItem): void
  refused(what: string, code: string, detail: string): void
  /** Ends the live line and writes the summary. */
  done(summary: Readonly<Record<string, unknown>>): void
}

const REDRAW_INTERVAL_MS = 100

function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function createProgress(out: NodeJS.WriteStream, nowMs: () => number): Progress {
  if (!out.isTTY) {
    const line = (value: Record<string, unknown>) => out.write(`${JSON.stringify(value)}\n`)
    return {
      planned: (files, bytes) => line({ event: 'planned', files, bytes }),
      bytes: () => undefined,
      item: (item) => line({ event: 'item', ...item }),
      refused: (what, code, detail) => line({ event: 'refused', what, code, detail }),
      done: (summary) => line({ event: 'summary', ...summary }),
    }
  }
  const startedMs = nowMs()
  let plannedFiles = 0
  let plannedBytes = 0
  let doneFiles = 0
  let doneBytes = 0
  let drawnMs = 0
  const draw = (force: boolean) => {
    const now = nowMs()
    if (!force && now - drawnMs < REDRAW_INTERVAL_MS) return
    drawnMs = now
    const rate = doneBytes / Math.max(0.001, (now - startedMs) / 1000)
    const fraction = plannedBytes > 0 ? Math.min(1, doneBytes / plannedBytes) : plannedFiles > 0 ? doneFiles / plannedFiles : 0
    const width = 24
    const filled = Math.round(fraction * width)
    const etaSeconds = rate > 0 && plannedBytes > doneBytes ? Math.ceil((plannedBytes - doneBytes) / rate) : 0
    const columns = out.columns || 80
    const text = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${doneFiles}/${plannedFiles} files  ${formatBytes(doneBytes)}/${formatBytes(plannedBytes)}  ${formatBytes(rate)}/s  ETA ${etaSeconds}s`
    out.write(`\r${text.slice(0, columns - 1).padEnd(columns - 1)}`)
  }
  return {
    planned: (files, bytes) => {
      plannedFiles = files
      plannedBytes = bytes
      draw(true)
    },
    bytes: (count) => {
      doneBytes += count
      draw(false)
    },
    item: (item) => {
      if (item.kind === 'file' || item.kind === 'metadata') doneFiles++
      draw(false)
    },
    refused: (what, code, detail) => {
      out.write(`\r\x1b[K${what}: refused (${code}): ${detail}\n`)
      draw(true)
    },
    done: (summary) => {
      draw(true)
      out.write(`\n${Object.entries(summary).map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`).join('  ')}\n`)
    },
  }
}
