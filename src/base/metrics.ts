/**
 * Counters and gauges rendered in the Prometheus text exposition format (version 0.0.4).
 * Deliberately tiny: label sets are small and fixed by the code (reason codes, cache outcomes),
 * never taken from request input, so cardinality stays bounded.
 */
type Labels = Readonly<Record<string, string>>

interface Series {
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly values: Map<string, number>
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return ''
  const parts = Object.keys(labels)
    .sort()
    .map((name) => `${name}="${String(labels[name]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

export class Metrics {
  readonly #series = new Map<string, Series>()
  readonly #collectors: Array<() => void> = []

  #get(name: string, type: Series['type'], help: string): Series {
    let series = this.#series.get(name)
    if (!series) {
      series = { help, type, values: new Map() }
      this.#series.set(name, series)
    }
    return series
  }

  /** Declares a counter so it renders (as 0) before its first increment. */
  declareCounter(name: string, help: string): void {
    this.#get(name, 'counter', help)
  }

  /**
   * A handle on one labelled series, for hot paths: the label key is computed once, so each
   * `inc` is a map update.
   */
  counter(name: string, help: string, labels?: Labels): { inc(by?: number): void } {
    const series = this.#get(name, 'counter', help)
    const key = labelKey(labels)
    if (!series.values.has(key)) series.values.set(key, 0)
    return { inc: (by = 1) => void series.values.set(key, (series.values.get(key) ?? 0) + by) }
  }

  inc(name: string, help: string, labels?: Labels, by = 1): void {
    const series = this.#get(name, 'counter', help)
    const key = labelKey(labels)
    series.values.set(key, (series.values.get(key) ?? 0) + by)
  }

  set(name: string, help: string, value: number, labels?: Labels): void {
    this.#get(name, 'gauge', help).values.set(labelKey(labels), value)
  }

  /** The current value of one series, 0 when it was never touched. */
  value(name: string, labels?: Labels): number {
    return this.#series.get(name)?.values.get(labelKey(labels)) ?? 0
  }

  /** Registers a callback that sets gauges just before each render. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect)
  }

  render(): string {
    for (const collect of this.#collectors) collect()
    const lines: string[] = []
    for (const [name, series] of this.#series) {
      lines.push(`# HELP ${name} ${series.help}`, `# TYPE ${name} ${series.type}`)
      if (series.values.size === 0 && series.type === 'counter') lines.push(`${name} 0`)
      for (const [key, value] of series.values) lines.push(`${name}${key} ${value}`)
    }
    return `${lines.join('\n')}\n`
  }
}
