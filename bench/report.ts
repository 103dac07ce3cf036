/**
 * The bench's output: one row per figure (proxy, reference, ratio, target, verdict) printed as an
 * aligned text table, plus notes. Knows nothing about how figures are measured.
 */

export interface Row {
  readonly figure: string
  readonly proxy: string
  readonly reference: string
  readonly ratio: string
  readonly target: string
  readonly result: 'pass' | 'FAIL' | 'n/a'
}

/** A ratio against a target: `atLeast` for "higher is better", else "lower is better". */
export function judge(options: { ratio: number | undefined; target: number; atLeast: boolean }): { ratio: string; target: string; result: Row['result'] } {
  const { ratio, target, atLeast } = options
  const targetText = `${atLeast ? '>=' : '<='} ${target.toFixed(2)}x`
  if (ratio === undefined || !Number.isFinite(ratio)) return { ratio: 'not measured', target: targetText, result: 'n/a' }
  const isMet = atLeast ? ratio >= target : ratio <= target
  return { ratio: `${ratio.toFixed(2)}x`, target: targetText, result: isMet ? 'pass' : 'FAIL' }
}

/** An absolute limit (e.g. peak RSS) rather than a ratio. */
export function judgeLimit(options: { value: number; limit: number; unit: string }): { ratio: string; target: string; result: Row['result'] } {
  return { ratio: '—', target: `<= ${options.limit} ${options.unit}`, result: options.value <= options.limit ? 'pass' : 'FAIL' }
}

/** A row that informs, with no target. */
export function info(figure: string, proxy: string, reference: string, ratio = '—'): Row {
  return { figure, proxy, reference, ratio, target: '—', result: 'n/a' }
}

/** `value` as a multiple of `base`, as the ratio column prints it. */
export const times = (value: number, base: number): string => `${(value / base).toFixed(2)}x`

export function formatTable(rows: readonly Row[]): string {
  const header: Row = { figure: 'figure', proxy: 'proxy', reference: 'reference', ratio: 'ratio', target: 'target', result: 'n/a' }
  const cells = [header, ...rows].map((row, i) => [row.figure, row.proxy, row.reference, row.ratio, row.target, i === 0 ? 'result' : row.result])
  const widths = cells[0]?.map((_cell, column) => Math.max(...cells.map((line) => line[column]?.length ?? 0))) ?? []
  const lines = cells.map((line) => line.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '))
  return `${lines.join('\n')}\n`
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`
export const mbPerSecond = (bytesPerSecond: number): string => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`
export const ms = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`
export const rps = (value: number): string => `${Math.round(value)} req/s`

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2
}
