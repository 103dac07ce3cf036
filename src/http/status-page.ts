/**
 * `/status` for a browser: the page an operator keeps open. It renders the same report as the
 * JSON form (status-report.ts), refreshes itself every 10 s with a meta refresh, carries its CSS
 * inline, needs no JavaScript and loads nothing else.
 *
 * Everything shown is escaped: upstream error messages, drop details and URLs are
 * attacker-influenced. Credentials in any URL shown are masked. Each section is rendered on its
 * own and a section that fails says so instead of taking the page down: this page is where an
 * operator looks when something is wrong.
 */
import { maskUrl } from '../base/index.js'
import { formatBytes, formatCount as count, formatDuration, formatPercent, formatRelative, parseIso } from './human-units.js'
import type { StatusReport } from './status-report.js'
import { figure, serverWide, type ServerStatus } from './status-workers.js'

const REFRESH_SECONDS = 10
/** A role expiring within this is shown as a warning. */
const EXPIRY_WARNING_MS = 86_400_000
/** Longest error message or drop detail shown; the JSON form has them whole. */
const MAX_TEXT_CHARS = 300

function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

/**
 * Masks userinfo in every URL inside free text (an error message may quote a URL). A scheme is
 * tried only where a run of scheme characters starts (the lookbehind), so a long run of letters
 * from outside costs linear time, not quadratic, and whatever precedes a URL cannot hide it.
 */
function maskUrlsIn(text: string): string {
  return text.replace(/(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => maskUrl(url))
}

/** Escaped, URL-masked and shortened free text from outside. */
function outside(text: unknown): string {
  const masked = maskUrlsIn(String(text ?? ''))
  return esc(masked.length > MAX_TEXT_CHARS ? `${masked.slice(0, MAX_TEXT_CHARS)}…` : masked)
}

function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'muted'): string {
  return `<span class="badge ${tone}">${esc(text)}</span>`
}

function stateBadge(state: unknown): string {
  const tone = state === 'up' ? 'ok' : state === 'trial' ? 'warn' : state === 'down' ? 'bad' : 'muted'
  return badge(String(state ?? 'unknown'), tone)
}

function table(head: readonly string[], rows: readonly string[], numericFrom = head.length): string {
  const th = head.map((name, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${esc(name)}</th>`).join('')
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

/** Renders one part on its own: a failure shows as a note in its place. */
function guarded(render: () => string): string {
  try {
    return render()
  } catch (error) {
    return `<p class="bad-text">This part could not be rendered: ${outside(error instanceof Error ? error.message : error)}</p>`
  }
}

function section(id: string, title: string, render: () => string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${guarded(render)}</section>`
}

function card(label: string, value: string, note = ''): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${value}</div>${note ? `<div class="note">${note}</div>` : ''}</div>`
}

type Report = Partial<StatusReport>

function cards(report: Report, nowMs: number): string {
  const upstreams = report.upstreams ?? []
  const worst = upstreams.some((u) => u.state === 'down') ? 'down' : upstreams.some((u) => u.state === 'trial') ? 'trial' : upstreams.length ? 'up' : undefined
  const requests = report.requests
  const cache = report.cache
  const budget = cache && Number.isFinite(cache.maxBytes) ? ` of ${formatBytes(cache.maxBytes)}` : ''
  const drops = (report.dropsByReason ?? []).reduce((sum, reason) => sum + reason.count, 0)
  // Every repository vouching for something: the single --upstream's, or each verifying source's.
  const trusts = [...(report.trust ? [report.trust] : []), ...(report.sourceTrust ?? []).map((entry) => entry.trust)]
  const untils = trusts.map((trust) => parseIso(trust.validUntil))
  const validUntilMs = untils.length === 0 || untils.includes(undefined) ? undefined : Math.min(...untils.map((ms) => ms ?? 0))
  const trust = report.mode !== 'tuf' && trusts.length === 0 ? '' : card('Trusted metadata', validUntilMs === undefined ? badge('none', 'bad') : validUntilMs <= nowMs ? badge('expired', 'bad') : esc(formatDuration(validUntilMs - nowMs)), 'left before it expires')
  return `<div class="cards" id="summary">${[
    card('Upstream', worst ? stateBadge(worst) : badge('not asked yet', 'muted'), `${count(upstreams.length)} origin(s)`),
    card('Requests / s', esc(requests ? requests.requestsPerSecond.toFixed(2) : '-'), `over the last ${esc(requests?.windowSeconds ?? '-')} s`),
    card('Errors', `${esc(count(requests?.clientErrors))} <small>4xx</small> · ${esc(count(requests?.serverErrors))} <small>5xx</small>`, `of ${esc(count(requests?.total))} requests since start`),
    card('Cache hit ratio', esc(formatPercent(report.cacheOutcomes?.hitRatio)), 'files and pages since start'),
    card('Cache used', esc(formatBytes(cache?.bytes)), esc(budget.trim() || 'no budget')),
    card('Drops', esc(count(drops)), 'refused upstream responses since start'),
    trust,
  ].join('')}</div>`
}

function upstreamSection(report: Report, nowMs: number): string {
  const upstreams = report.upstreams ?? []
  const index = `<p>Index: <code>${outside(report.upstream ?? '-')}</code></p>`
  if (!upstreams.length) return `${index}<p class="muted">No upstream asked yet.</p>`
  const rows = upstreams.map((u) => {
    const error = u.lastError
      ? `${u.lastError.cause ? `<b>${esc(u.lastError.cause)}</b> ` : ''}<code>${esc(u.lastError.code)}</code> ${outside(u.lastError.message)} <span class="muted">(${esc(formatRelative(u.lastError.atMs, nowMs))})</span>`
      : '<span class="muted">none</span>'
    return `<tr><td><code class="key">${outside(u.origin)}</code></td><td>${stateBadge(u.state)}</td><td class="num">${u.lastLatencyMs === undefined ? '-' : `${esc(count(u.lastLatencyMs))} ms`}</td><td>${esc(formatRelative(u.lastSuccessAtMs, nowMs))}</td><td>${error}</td></tr>`
  })
  return index + table(['origin', 'state', 'latency', 'last success', 'last error'], rows)
}

function cacheSection(report: Report): string {
  const cache = report.cache
  if (!cache) return '<p class="muted">No cache figures.</p>'
  const hasBudget = Number.isFinite(cache.maxBytes) && cache.maxBytes > 0
  const ratio = hasBudget ? Math.min(1, cache.bytes / cache.maxBytes) : 0
  const bar = hasBudget
    ? `<div class="bar" title="${esc(formatPercent(ratio))}"><span style="width:${(ratio * 100).toFixed(1)}%"></span></div>`
    : ''
  const used = `<p class="big">${esc(formatBytes(cache.bytes))} <span class="muted">/ ${hasBudget ? esc(formatBytes(cache.maxBytes)) : 'no budget'}${hasBudget ? ` (${esc(formatPercent(ratio))})` : ''}</span></p>`
  const evictions = cache.evictions
  const facts = `<p>${esc(count(cache.files))} blobs on disk (distribution files and page bodies) · ${esc(count(cache.pages))} project pages recorded · ${esc(count(evictions?.count))} evictions (${esc(formatBytes(evictions?.bytes))}) since start</p>`
  const outcomes = report.cacheOutcomes
  const row = (kind: string, o: { hits: number; misses: number; stale: number } | undefined) => {
    const total = o ? o.hits + o.misses + o.stale : 0
    return `<tr><td>${esc(kind)}</td><td class="num">${esc(count(o?.hits))}</td><td class="num">${esc(count(o?.misses))}</td><td class="num">${esc(count(o?.stale))}</td><td class="num">${esc(formatPercent(o && total ? o.hits / total : undefined))}</td></tr>`
  }
  const outcomesTable = table(['served since start', 'hits', 'misses', 'stale', 'hit ratio'], [row('files', outcomes?.file), row('pages', outcomes?.page)], 1)
  return used + bar + facts + outcomesTable
}

function dropsSection(report: Report, nowMs: number): string {
  const reasons = report.dropsByReason ?? []
  if (!reasons.length) return '<p class="muted">No upstream response refused since start.</p>'
  const rows = reasons.map(
    (r) =>
      `<tr><td><code class="key">${esc(r.reason)}</code></td><td class="num">${esc(count(r.count))}</td><td>${esc(formatRelative(r.latest.atMs, nowMs))}</td><td>${esc(r.latest.what)} <code>${outside(r.latest.url)}</code><br><span class="muted">${outside(r.latest.detail)}</span></td></tr>`,
  )
  return table(['reason', 'count', 'latest', 'latest example'], rows)
}

function trustSection(report: Report, nowMs: number): string {
  const trust = report.trust
  const bySource = report.sourceTrust ?? []
  // Each verifying `sources:` index has its own repository, so its own trust state.
  const sources = bySource.map((entry) => `<h3>Source <code>${esc(entry.source)}</code></h3>${guarded(() => trustView(entry.trust, nowMs))}`).join('')
  if (!trust) return sources || '<p class="muted">Verifying mode is off: files are checked against the index\'s hashes only.</p>'
  return trustView(trust, nowMs) + sources
}

function trustView(trust: NonNullable<Report['trust']>, nowMs: number): string {
  const validUntilMs = parseIso(trust.validUntil)
  const facts = [
    `Root version <b>${esc(trust.rootVersion)}</b>`,
    `last refresh ${esc(formatRelative(parseIso(trust.lastRefresh), nowMs))}`,
    `next refresh due ${esc(formatRelative(parseIso(trust.nextRefresh), nowMs))}`,
    `serving until ${validUntilMs === undefined ? badge('nothing verified', 'bad') : esc(trust.validUntil)} ${validUntilMs !== undefined && validUntilMs <= nowMs ? badge('expired', 'bad') : ''}`,
  ]
  const error = trust.lastRefreshError ? `<p>Last refresh failed: <code>${esc(trust.lastRefreshError.code)}</code> ${outside(trust.lastRefreshError.message)}</p>` : ''
  const rows = (trust.roles ?? []).map((role) => {
    const expiresMs = parseIso(role.expires)
    const left = expiresMs === undefined ? '-' : expiresMs <= nowMs ? badge('expired', 'bad') : expiresMs - nowMs < EXPIRY_WARNING_MS ? badge(formatDuration(expiresMs - nowMs), 'warn') : esc(formatDuration(expiresMs - nowMs))
    const threshold = role.threshold === undefined ? '-' : `${esc(role.threshold)} of ${esc(role.keyCount ?? '-')} keys`
    return `<tr><td>${esc(role.name)}</td><td class="num">${esc(role.version ?? '-')}</td><td>${threshold}</td><td>${esc(role.expires ?? '-')}</td><td>${left}</td></tr>`
  })
  return `<p>${facts.join(' · ')}</p>${error}${table(['role', 'version', 'threshold', 'expires', 'time left'], rows)}`
}

/** With `sources:` or `policy:`: the sources in priority order, recent refusals by reason, and collisions. */
function policySection(report: Report, nowMs: number): string {
  const policy = report.policy
  if (!policy) return '<p class="muted">One upstream, no release policy: no <code>sources:</code> or <code>policy:</code> configured.</p>'
  const sources = `<p>Sources, in priority order: ${policy.sources.map((source) => `<code class="key">${outside(source.name)}</code> ${source.public ? badge('public', 'warn') : badge('private', 'muted')}`).join(' · ') || '-'}</p>`
  const byReason = new Map<string, { count: number; latest: (typeof policy.refusals)[number] }>()
  // The ring is newest first, so the first entry of a reason is its latest.
  for (const refusal of policy.refusals) {
    const entry = byReason.get(refusal.reason)
    if (entry) entry.count++
    else byReason.set(refusal.reason, { count: 1, latest: refusal })
  }
  const refusalRows = [...byReason].map(
    ([reason, { count: n, latest }]) =>
      `<tr><td><code class="key">${esc(reason)}</code></td><td class="num">${esc(count(n))}</td><td>${esc(formatRelative(latest.atMs, nowMs))}</td><td><code>${outside(latest.project)}</code>${latest.file === undefined ? ' (page)' : ` <code>${outside(latest.file)}</code>`}<br><span class="muted">${outside(latest.detail)}</span></td></tr>`,
  )
  const refusals = refusalRows.length
    ? `<h3>Refused by the policy, of the last ${esc(count(policy.refusals.length))} refusals</h3>${table(['reason', 'count', 'latest', 'latest example'], refusalRows)}`
    : '<p class="muted">Nothing refused by the policy since start.</p>'
  const collisionRows = policy.collisions.map(
    (collision) =>
      `<tr><td><code class="key">${outside(collision.project)}</code></td><td>${outside(collision.privateSource)}</td><td>${outside(collision.publicSource)}</td><td>${esc(formatRelative(collision.atMs, nowMs))}</td></tr>`,
  )
  // A private name a public index lists too: a dependency-confusion attempt, or a name to claim.
  const collisions = collisionRows.length
    ? `<h3>${badge(`${policy.collisions.length} collision(s)`, 'bad')} private names a public source lists too</h3>${table(['project', 'private source (owner)', 'public source', 'noticed'], collisionRows)}`
    : '<p class="muted">No private project name seen on a public source since start.</p>'
  return sources + refusals + collisions
}

/** A process id from another process's report, as it is (no digit grouping); "-" when it is not one. */
function pidText(value: unknown): string {
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : '-'
}

/** `--workers` mode: one row per worker, and the primary's facts (the server's age, replaced workers). */
function workersSection(report: ServerStatus): string {
  const primary = report.primary ?? {}
  const notAnswering = Array.isArray(report.workersNotAnswering) ? report.workersNotAnswering : []
  const entries = report.workers ?? []
  const facts = `<p>${esc(count(entries.length + notAnswering.length))} workers · ${esc(count(primary.workerRestarts))} restarts since start (a worker that died is replaced by a new one) · primary pid ${esc(pidText(primary.pid))}. Figures above are summed over the workers; upstream states are those seen by worker ${esc(report.worker ?? '-')}, which answered this page.</p>`
  const rows = entries.map((entry) => {
    const status = entry.status ?? {}
    const requests = status.requests
    const outcomes = status.cacheOutcomes
    const hits = figure(outcomes?.file?.hits) + figure(outcomes?.page?.hits)
    const misses = figure(outcomes?.file?.misses) + figure(outcomes?.page?.misses)
    const drops = (Array.isArray(status.dropsByReason) ? status.dropsByReason : []).reduce((sum, reason) => sum + figure(reason.count), 0)
    const uptime = typeof status.uptimeSeconds === 'number' ? formatDuration(status.uptimeSeconds * 1000) : '-'
    const answering = entry.worker === report.worker ? ` ${badge('this page', 'muted')}` : ''
    const cells = [pidText(entry.pid), uptime, count(requests?.total), typeof requests?.requestsPerSecond === 'number' ? requests.requestsPerSecond.toFixed(2) : '-', count(requests?.clientErrors), count(requests?.serverErrors), count(hits), count(misses), count(drops)]
    return `<tr><td>${esc(entry.worker ?? '-')}${answering}</td>${cells.map((cell) => `<td class="num">${esc(cell)}</td>`).join('')}</tr>`
  })
  const silent = notAnswering.map((worker) => `<tr><td>${esc(worker)}</td><td colspan="9">${badge('did not answer in time', 'bad')}</td></tr>`)
  return facts + table(['worker', 'pid', 'up', 'requests', 'req/s', '4xx', '5xx', 'cache hits', 'misses', 'drops'], [...rows, ...silent], 1)
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:6px 24px;align-items:baseline}
header h1{font-size:20px;margin:0}header a{color:#9cc3ff}nav a{margin-right:12px}
main{padding:16px 24px;max-width:1280px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:10px 0 4px}p{margin:6px 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{font-weight:600;color:#4b5563}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-weight:600;font-size:12px;line-height:20px}
.ok{background:#dcf5e3;color:#11662f}.warn{background:#fff1cc;color:#7a5200}.bad{background:#fde0e0;color:#9b1c1c}.muted{color:#6b7280}
.bad-text{color:#9b1c1c}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:0 0 16px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 14px}
.card .label{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600;margin:2px 0}.card .note{color:#6b7280;font-size:12px}
.big{font-size:18px}.bar{height:14px;background:#e5e9ef;border-radius:7px;overflow:hidden;margin:6px 0}.bar span{display:block;height:100%;background:#3b82f6}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:anywhere}code.key{white-space:nowrap}`

/**
 * The page for `report` (one process's, or a `--workers` server's: then the whole server's);
 * with `failure`, a page saying the report could not be built. Never throws: a missing or
 * malformed part renders as "-" or as a note in its section.
 */
export function renderStatusHtml(asked: ServerStatus, failure?: string): string {
  let report: ServerStatus = asked
  try {
    report = serverWide(asked)
  } catch {
    // The answering worker's own figures, then; the workers section says what is wrong.
  }
  // Ages are relative to when the report was made; without that instant they show as "-".
  const nowMs = parseIso(report.generatedAt) ?? Number.NaN
  const mode = report.mode === 'tuf' ? 'verifying (TUF)' : report.mode === 'hash-only' ? 'hash-only' : 'unknown'
  // A server of workers is as old as its primary; a worker may be younger (it replaced one that died).
  const server = report.primary && typeof report.primary.uptimeSeconds === 'number' ? { uptimeSeconds: report.primary.uptimeSeconds, startedAt: report.primary.startedAt } : report
  const uptime = typeof server.uptimeSeconds === 'number' ? formatDuration(server.uptimeSeconds * 1000) : '-'
  const workers = Array.isArray(report.workers) ? `, ${esc(count(report.workers.length))} workers` : ''
  const head = `<header id="about"><h1>tuf-proxy <span class="version">${esc(report.version ?? 'unknown version')}</span></h1>
<span>mode: <b>${esc(mode)}</b>${report.offline === true ? ', <b>offline</b> (serves only what was imported; never calls out)' : ''}</span><span>up ${esc(uptime)} (since ${esc(server.startedAt ?? '-')})${workers}</span>
<span>as of ${esc(report.generatedAt ?? '-')}, refreshed every ${REFRESH_SECONDS} s</span>
<nav><a href="/metrics">/metrics</a><a href="/health">/health</a><a href="/status?format=json">/status as JSON</a></nav></header>`
  const body = failure
    ? `<section><h2>Status unavailable</h2><p class="bad-text">The status report could not be built: ${outside(failure)}</p></section>`
    : [
        guarded(() => cards(report, nowMs)),
        ...(report.workers !== undefined ? [section('workers', 'Workers', () => workersSection(report))] : []),
        section('upstreams', 'Upstreams', () => upstreamSection(report, nowMs)),
        section('cache', 'Cache', () => cacheSection(report)),
        section('drops', 'Drops by reason', () => dropsSection(report, nowMs)),
        section('policy', 'Sources and policy', () => policySection(report, nowMs)),
        section('trust', 'Trust state', () => trustSection(report, nowMs)),
      ].join('\n')
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>tuf-proxy status</title><style>${STYLE}</style></head>
<body>${head}<main>${body}</main></body></html>`
}
