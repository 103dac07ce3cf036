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

/**
 * A count as en-US writes it: `1,234,567`, a fraction rounded to at most three digits (`12.346`),
 * `-` when not a finite number. Done by hand rather than with `Intl.NumberFormat`: the first
 * formatter a process builds maps ICU's locale data, about 6 MB of resident memory for the life
 * of the process (measured; issue 9), for a page an operator may never open.
 */
export function formatCount(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-'
  const sign = value < 0 || Object.is(value, -0) ? '-' : ''
  const [whole, fraction] = roundedDigits(Math.abs(value))
  return `${sign}${whole.replace(/\B(?=(\d{3})+$)/g, ',')}${fraction ? `.${fraction}` : ''}`
}

/**
 * A non-negative number's digits before and after the point, rounded half up to three fraction
 * digits on its shortest decimal form (`1.0005` gives `1.001`, as ICU rounds, where toFixed(3),
 * on the exact binary value, gives `1.000`), trailing zeros dropped.
 */
function roundedDigits(magnitude: number): [string, string] {
  // String() writes an exponent below 1e-6, where everything rounds to 0, and from 1e21 on, where
  // the shortest form's digits are followed by zeros (`1.5e+22` is 15 and 21 zeros).
  if (magnitude < 1e-6) return ['0', '']
  const exponentForm = /^(\d)(?:\.(\d+))?e\+(\d+)$/.exec(String(magnitude))
  if (exponentForm) {
    const [, first = '', rest = '', exponent = '0'] = exponentForm
    return [(first + rest).padEnd(Number(exponent) + 1, '0'), '']
  }
  const [whole = '0', fraction = ''] = String(magnitude).split('.')
  if (fraction.length <= 3) return [whole, fraction]
  const thousandths = BigInt(whole + fraction.slice(0, 3)) + ((fraction[3] ?? '0') >= '5' ? 1n : 0n)
  const digits = thousandths.toString().padStart(4, '0')
  return [digits.slice(0, -3), digits.slice(-3).replace(/0+$/, '')]
}

/** A ratio in [0, 1] as a percentage with one decimal; `-` when there is nothing to divide. */
export function formatPercent(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '-'
  return `${(ratio * 100).toFixed(1)} %`
}
