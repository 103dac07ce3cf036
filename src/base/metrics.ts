/**
 * The project's metrics, exposed in the Prometheus text exposition format (0.0.4) by prom-client's
 * registry, which also supplies the Node process metrics (`process_*`, `nodejs_*`).
 *
 * Counters and gauges live in this facade's own cells, and are copied into prom-client's metrics
 * at each scrape: a counter handle's `inc` is then one addition, where prom-client's own costs a
 * label hash and an object per call (several hundred ns, measured), and counters sit on the hot
 * path of cached pages. `value()` reads the cells synchronously (the status page uses it).
 * Histograms keep their buckets the same way (histogram.ts).
 *
 * Label sets are small and fixed by the code (reason codes, cache outcomes, routes, allowlisted
 * hosts), never taken from request input, so cardinality stays bounded.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, validateMetricName } from 'prom-client'
import { SeriesHistogram, type HistogramHandle } from './histogram.js'

type Labels = Readonly<Record<string, string>>

export interface CounterHandle {
  inc(by?: number): void
}

export type { HistogramHandle }

export interface HistogramFamily {
  observe(labels: Labels, seconds: number): void
  /** A handle on one labelled series, for hot paths: the labels are checked and bound once. */
  bind(labels: Labels): HistogramHandle
}

interface Cell {
  readonly labels: Labels
  value: number
}

interface Family {
  readonly type: 'counter' | 'gauge'
  readonly help: string
  readonly cells: Map<string, Cell>
  /** every label name any cell uses: a prom-client metric needs them all at construction */
  readonly labelNames: Set<string>
  /** prom-client's metric for this family, rebuilt when labelNames grew since it was made */
  exported: { readonly metric: Counter | Gauge; readonly labelCount: number } | undefined
}

/** Prometheus data model: label names match this, and those starting `__` are reserved. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function labelKey(labels: Labels | undefined): string {
  if (!labels) return ''
  const names = Object.keys(labels)
  if (names.length === 0) return ''
  if (names.length > 1) names.sort()
  // JSON keeps any two different label sets apart, whatever characters their values hold.
  return JSON.stringify(names.map((name) => [name, labels[name]]))
}

function checkCount(name: string, by: number): void {
  if (!(by >= 0 && by !== Infinity)) throw new TypeError(`counter ${name}: increment must be a finite non-negative number (got ${by})`)
}

export class Metrics {
  readonly #registry = new Registry()
  readonly #families = new Map<string, Family>()
  readonly #histograms = new Map<string, HistogramFamily>()
  readonly #collectors: Array<() => void> = []
  #collectsProcessMetrics = false

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.#registry.contentType
  }

  /** @throws {TypeError} when the name is not a Prometheus metric name or is taken by another type */
  #family(name: string, type: Family['type'], help: string): Family {
    let family = this.#families.get(name)
    if (!family) {
      if (!validateMetricName(name)) throw new TypeError(`not a Prometheus metric name: ${JSON.stringify(name)}`)
      if (this.#histograms.has(name)) throw new TypeError(`metric ${name} is a histogram, not a ${type}`)
      family = { type, help, cells: new Map(), labelNames: new Set(), exported: undefined }
      this.#families.set(name, family)
    } else if (family.type !== type) {
      throw new TypeError(`metric ${name} is a ${family.type}, not a ${type}`)
    }
    return family
  }

  #cell(family: Family, name: string, labels: Labels | undefined): Cell {
    const key = labelKey(labels)
    let cell = family.cells.get(key)
    if (!cell) {
      // Sorted: a series' labels render in its object's key order.
      const copy: Record<string, string> = {}
      for (const label of Object.keys(labels ?? {}).sort()) {
        if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new TypeError(`metric ${name}: not a Prometheus label name: ${JSON.stringify(label)}`)
        copy[label] = String(labels?.[label])
        family.labelNames.add(label)
      }
      cell = { labels: Object.freeze(copy), value: 0 }
      family.cells.set(key, cell)
    }
    return cell
  }

  /** Declares a counter so it renders (as 0) before its first increment. */
  declareCounter(name: string, help: string): void {
    this.#family(name, 'counter', help)
  }

  /**
   * A handle on one labelled series, for hot paths: the label key is computed once, so each
   * `inc` is one addition.
   */
  counter(name: string, help: string, labels?: Labels): CounterHandle {
    const cell = this.#cell(this.#family(name, 'counter', help), name, labels)
    return {
      inc: (by = 1) => {
        checkCount(name, by)
        cell.value += by
      },
    }
  }

  inc(name: string, help: string, labels?: Labels, by = 1): void {
    checkCount(name, by)
    this.#cell(this.#family(name, 'counter', help), name, labels).value += by
  }

  set(name: string, help: string, value: number, labels?: Labels): void {
    this.#cell(this.#family(name, 'gauge', help), name, labels).value = value
  }

  /** The current value of one counter or gauge series, 0 when it was never touched. */
  value(name: string, labels?: Labels): number {
    return this.#families.get(name)?.cells.get(labelKey(labels))?.value ?? 0
  }

  /**
   * A histogram with fixed label names and bucket upper bounds (in seconds for a `_seconds`
   * metric); asking again for the same name returns the same histogram.
   * @throws {TypeError} when the name is taken by a counter or gauge, or the bounds do not increase;
   *   {Error} from prom-client for a name or label name it refuses
   */
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): HistogramFamily {
    const existing = this.#histograms.get(name)
    if (existing) return existing
    if (this.#families.has(name)) throw new TypeError(`metric ${name} is a ${this.#families.get(name)?.type}, not a histogram`)
    // prom-client takes the bounds as given; a bucket is found by the first bound not below the value.
    if (buckets.some((bound, index) => !Number.isFinite(bound) || (index > 0 && bound <= (buckets[index - 1] ?? -Infinity)))) {
      throw new TypeError(`histogram ${name}: bucket bounds must be finite and increasing (got ${buckets.join(', ')})`)
    }
    const histogram = new SeriesHistogram({ name, help, labelNames, buckets, registry: this.#registry })
    const allowed = new Set(labelNames)
    const bind = (labels: Labels): HistogramHandle => {
      const unknown = Object.keys(labels).filter((label) => !allowed.has(label))
      if (unknown.length > 0) throw new TypeError(`histogram ${name}: labels ${unknown.join(', ')} are not among ${labelNames.join(', ')}`)
      const copy: Record<string, string> = {}
      for (const label of labelNames) if (labels[label] !== undefined) copy[label] = String(labels[label])
      return histogram.series(labelKey(copy), Object.freeze(copy))
    }
    const family: HistogramFamily = {
      // Not for hot paths: a label key per call (bind() once instead).
      observe: (labels, seconds) => bind(labels).observe(seconds),
      bind,
    }
    this.#histograms.set(name, family)
    return family
  }

  /** Registers a callback that sets gauges just before each render. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect)
  }

  /**
   * Adds prom-client's Node process metrics under their standard names (`process_*`, `nodejs_*`:
   * CPU, memory, heap, event-loop lag, active handles, GC). Once per registry: they sample the
   * event loop for the life of the process, so only the serving process turns them on.
   */
  collectProcessMetrics(): void {
    if (this.#collectsProcessMetrics) return
    this.#collectsProcessMetrics = true
    collectDefaultMetrics({ register: this.#registry })
  }

  /** The exposition text: collectors run first, then every family is read. */
  async render(): Promise<string> {
    for (const collect of this.#collectors) collect()
    for (const [name, family] of this.#families) this.#export(name, family)
    return this.#registry.metrics()
  }

  /** Copies a family's cells into its prom-client metric, made anew when label names were added. */
  #export(name: string, family: Family): void {
    let exported = family.exported
    if (!exported || exported.labelCount !== family.labelNames.size) {
      if (exported) this.#registry.removeSingleMetric(name)
      const config = { name, help: family.help, labelNames: [...family.labelNames].sort(), registers: [this.#registry] }
      exported = { metric: family.type === 'counter' ? new Counter(config) : new Gauge(config), labelCount: family.labelNames.size }
      family.exported = exported
    }
    const { metric } = exported
    metric.reset()
    for (const cell of family.cells.values()) {
      if (metric instanceof Counter) metric.inc(cell.labels, cell.value)
      else metric.set(cell.labels, cell.value)
    }
  }
}
