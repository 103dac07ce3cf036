/**
 * Durations as every option of the project writes them: `90s`, `15m`, `12h`, `7d`, or a bare
 * number of seconds. One parser, so a flag, a config key and a policy entry read alike.
 */
const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }

/**
 * @returns the duration in whole seconds, or undefined when `text` is not a duration
 * (negative, fractional, unknown unit, or too large to count in milliseconds exactly).
 */
export function parseDurationSeconds(text: string | number): number | undefined {
  const match = /^\s*(\d+)\s*([smhdw]?)\s*$/i.exec(String(text))
  if (!match) return undefined
  const seconds = Number(match[1]) * (UNIT_SECONDS[(match[2] ?? '').toLowerCase()] ?? 1)
  return Number.isSafeInteger(seconds * 1000) ? seconds : undefined
}

/** The shortest exact form: 90 → "90s", 3600 → "1h", 604800 → "7d". */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds !== 0 && seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
