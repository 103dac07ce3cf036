/**
 * The rows the TUF benchmarks (tuf-engine.ts, verifying-overhead.ts) return to the caller, and
 * their plain-text table. Kept apart from report.ts so the TUF benchmarks run on their own;
 * the lead's run.ts maps these rows onto its own table.
 */

export interface Row {
  readonly figure: string
  readonly value: number
  readonly unit: string
  /** The same figure for the reference (tuf-js, or the hash-only proxy). */
  readonly reference?: number
  /** How the ratio is read is stated in `target` (e.g. `<= 1.00x`, `>= 0.91x`). */
  readonly ratio?: number
  readonly target?: string
  readonly pass?: boolean
}

/** A row comparing `value` with `reference` as value/reference, judged against `limit`. */
export function compared(figure: string, unit: string, value: number, reference: number, limit: { atMost?: number; atLeast?: number }): Row {
  const ratio = value / reference
  const target = limit.atMost === undefined ? `>= ${limit.atLeast?.toFixed(2)}x` : `<= ${limit.atMost.toFixed(2)}x`
  const pass = Number.isFinite(ratio) && (limit.atMost === undefined ? ratio >= (limit.atLeast ?? 0) : ratio <= limit.atMost)
  return { figure, value, unit, reference, ratio, target, pass }
}

function formatNumber(value: number | undefined): string {
  if (value === undefined) return ''
  if (!Number.isFinite(value)) return String(value)
  const magnitude = Math.abs(value)
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-US')
  if (magnitude >= 10) return value.toFixed(1)
  if (magnitude >= 0.1) return value.toFixed(2)
  return value.toFixed(3)
}

export function formatRows(rows: readonly Row[], referenceName: string): string {
  const header = ['figure', 'value', 'unit', referenceName, 'ratio', 'target', 'result']
  const cells = rows.map((row) => [
    row.figure,
    formatNumber(row.value),
    row.unit,
    formatNumber(row.reference),
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x`,
    row.target ?? '',
    row.pass === undefined ? '' : row.pass ? 'pass' : 'FAIL',
  ])
  const all = [header, ...cells]
  const widths = header.map((_cell, column) => Math.max(...all.map((line) => line[column]?.length ?? 0)))
  const lines = all.map((line) => line.map((cell, column) => (column === 1 || column === 3 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '))
  return `${lines.join('\n')}\n`
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5)
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN
}
