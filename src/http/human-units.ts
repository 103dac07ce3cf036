/**
 * Numbers as an operator reads them on the status page: bytes in binary units, durations in the
 * two largest units that matter, instants as "12 s ago" or "in 3 min". Total functions: anything
 * that is not a finite number renders as "-", so a missing field never breaks the page.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '-'
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`
}

const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
]

/** `3 d 4 h`, `12 min 5 s`, `2 min`, `45 s`; under a second, `0 s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-'
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  const parts: string[] = []
  for (const [name, size] of DURATION_UNITS) {
    const whole = Math.floor(rest / size)
    rest %= size
    if (whole > 0) parts.push(`${whole} ${name}`)
    // The two largest units that matter: `2 min`, not `2 min 0 s`; never `3 d 0 h 5 min`.
    if (parts.length === 2 || (parts.length === 1 && whole === 0)) break
  }
  return parts.length ? `${sign}${parts.join(' ')}` : '0 s'
}

/** How far `atMs` lies from `nowMs`: `12 s ago`, `in 3 min`, or `-` when unknown. */
export function formatRelative(atMs: number | undefined, nowMs: number): string {
  if (atMs === undefined || !Number.isFinite(atMs) || !Number.isFinite(nowMs)) return '-'
  const delta = atMs - nowMs
  if (Math.abs(delta) < 1000) return 'now'
  return delta < 0 ? `${formatDuration(-delta)} ago` : `in ${formatDuration(delta)}`
}

/** An ISO 8601 time as epoch ms; undefined when absent or unparseable. */
export function parseIso(text: string | undefined): number | undefined {
  if (typeof text !== 'string') return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/** A ratio in [0, 1] as a percentage with one decimal; `-` when there is nothing to divide. */
export function formatPercent(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '-'
  return `${(ratio * 100).toFixed(1)} %`
}
