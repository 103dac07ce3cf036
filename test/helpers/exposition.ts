/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests of what /metrics
 * serves: every sample must belong to a family declared by `# HELP` and `# TYPE` before it, label
 * values are unescaped, and a histogram's buckets must be cumulative with `+Inf` equal to `_count`
 * and a `_sum` beside them. Throws an Error naming the line on any violation.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  readonly help: string
  readonly samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y
const TYPES: ReadonlyArray<Family['type']> = ['counter', 'gauge', 'histogram', 'summary', 'untyped']

function isType(word: string): word is Family['type'] {
  return TYPES.some((type) => type === word)
}

function unescapeLabel(raw: string): string {
  return raw.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char))
}

/** Values as Prometheus reads them (Go's strconv.ParseFloat: NaN and Inf in any case; prom-client writes `Nan`). */
function parseValue(raw: string, line: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw)
  if (special) return special[2]?.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity
  const value = Number(raw)
  if (raw === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${line}`)
  return value
}

/** Which family a sample name belongs to: itself, or a histogram's/summary's series. */
function familyOf(sampleName: string, families: ReadonlyMap<string, Family>): Family | undefined {
  const exact = families.get(sampleName)
  if (exact) return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const family = families.get(sampleName.slice(0, -suffix.length))
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family
  }
  return undefined
}

function parseSample(line: string): Sample {
  const brace = line.indexOf('{')
  const space = line.indexOf(' ')
  let name: string
  const labels: Record<string, string> = {}
  let rest: string
  if (brace !== -1 && brace < space) {
    name = line.slice(0, brace)
    const close = line.lastIndexOf('}')
    if (close < brace) throw new Error(`unterminated label set: ${line}`)
    const body = line.slice(brace + 1, close)
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const match = LABEL.exec(body)
      if (!match?.[1]) throw new Error(`bad label set: ${line}`)
      if (match[1] in labels) throw new Error(`label ${match[1]} repeated: ${line}`)
      labels[match[1]] = unescapeLabel(match[2] ?? '')
    }
    rest = line.slice(close + 1).trim()
  } else {
    name = line.slice(0, space)
    rest = line.slice(space + 1).trim()
  }
  if (!METRIC_NAME.test(name)) throw new Error(`bad metric name: ${line}`)
  const [value, timestamp, extra] = rest.split(/\s+/)
  if (extra !== undefined || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) throw new Error(`bad sample: ${line}`)
  return { name, labels, value: parseValue(value ?? '', line) }
}

function labelsKey(labels: Readonly<Record<string, string>>, without: string): string {
  return JSON.stringify(Object.keys(labels).filter((name) => name !== without).sort().map((name) => [name, labels[name]]))
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: Array<{ le: number; value: number }>; sum?: number; count?: number }>()
  for (const sample of family.samples) {
    const key = labelsKey(sample.labels, 'le')
    let entry = series.get(key)
    if (!entry) series.set(key, (entry = { buckets: [] }))
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le
      if (le === undefined) throw new Error(`${family.name}: bucket without le`)
      entry.buckets.push({ le: parseValue(le, le), value: sample.value })
    } else if (sample.name === `${family.name}_sum`) entry.sum = sample.value
    else if (sample.name === `${family.name}_count`) entry.count = sample.value
    else throw new Error(`${family.name}: histogram sample ${sample.name}`)
  }
  for (const [key, entry] of series) {
    const buckets = [...entry.buckets].sort((a, b) => a.le - b.le)
    for (let i = 1; i < buckets.length; i++) {
      if ((buckets[i]?.value ?? 0) < (buckets[i - 1]?.value ?? 0)) throw new Error(`${family.name}${key}: buckets not cumulative at le=${buckets[i]?.le}`)
    }
    const inf = buckets.at(-1)
    if (!inf || inf.le !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
    if (entry.count === undefined || entry.sum === undefined) throw new Error(`${family.name}${key}: _count or _sum missing`)
    if (inf.value !== entry.count) throw new Error(`${family.name}${key}: +Inf bucket ${inf.value} != _count ${entry.count}`)
  }
}

/** @throws Error on anything the format does not allow (see the module comment). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const helps = new Map<string, string>()
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline')
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (!match) continue
      const [, keyword, name = '', rest = ''] = match
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name: ${line}`)
      if (keyword === 'HELP') {
        if (helps.has(name)) throw new Error(`second HELP for ${name}`)
        helps.set(name, rest)
      } else {
        if (families.has(name)) throw new Error(`second TYPE for ${name}`)
        if (!isType(rest)) throw new Error(`unknown type: ${line}`)
        const help = helps.get(name)
        if (help === undefined) throw new Error(`TYPE before HELP for ${name}`)
        families.set(name, { name, type: rest, help, samples: [] })
      }
      continue
    }
    const sample = parseSample(line)
    const family = familyOf(sample.name, families)
    if (!family) throw new Error(`sample of no declared family: ${line}`)
    if (family.samples.some((seen) => seen.name === sample.name && labelsKey(seen.labels, '') === labelsKey(sample.labels, ''))) {
      throw new Error(`duplicate sample: ${line}`)
    }
    family.samples.push(sample)
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** The value of the one sample named `name` whose labels include `labels`; summed when several match. */
export function sampleValue(families: ReadonlyMap<string, Family>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let total = 0
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([label, value]) => sample.labels[label] === value)) total += sample.value
    }
  }
  return total
}
