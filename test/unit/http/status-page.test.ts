/**
 * The status page renderer: everything from outside is escaped and its URLs' credentials masked,
 * a report with parts missing or malformed still renders (each broken part says so), and the
 * numbers read in human units. The browser test (integration/status-page.test.ts) checks the page
 * a real proxy serves; these check what a real proxy rarely produces.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { renderStatusHtml } from '../../../src/http/status-page.js'
import type { StatusReport } from '../../../src/http/status-report.js'
import { formatBytes, formatCount, formatDuration, formatPercent, formatRelative } from '../../../src/http/human-units.js'

const NOW_MS = Date.parse('2026-01-02T03:04:05.000Z')
const HOSTILE = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`

function report(overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    version: '1.2.3',
    startedAt: new Date(NOW_MS - 3_725_000).toISOString(),
    uptimeSeconds: 3725,
    generatedAt: new Date(NOW_MS).toISOString(),
    mode: 'tuf',
    offline: false,
    upstream: 'https://user:hunter2@index.example/simple/',
    upstreams: [
      {
        origin: 'https://index.example',
        state: 'down',
        lastError: { code: 'upstream_unreachable', cause: 'refused', message: `refused by https://user:hunter2@index.example/x ${HOSTILE}`, atMs: NOW_MS - 42_000 },
        lastSuccessAtMs: NOW_MS - 600_000,
        lastLatencyMs: 87,
      },
    ],
    cache: { files: 1234, bytes: 3 * 1024 ** 3, maxBytes: 10 * 1024 ** 3, pages: 56, evictions: { count: 7, bytes: 1536 } },
    cacheOutcomes: { file: { hits: 3, misses: 1, stale: 0 }, page: { hits: 5, misses: 1, stale: 0 }, hitRatio: 0.8 },
    requests: { requestsPerSecond: 1.5, errorsPerSecond: 0.1, windowSeconds: 59, total: 1000, clientErrors: 4, serverErrors: 2 },
    trust: {
      rootVersion: 3,
      lastRefresh: new Date(NOW_MS - 5000).toISOString(),
      nextRefresh: new Date(NOW_MS + 295_000).toISOString(),
      validUntil: new Date(NOW_MS + 3_600_000).toISOString(),
      lastRefreshError: { code: 'bad_signature', message: HOSTILE },
      roles: [
        { name: 'root', version: 3, expires: new Date(NOW_MS + 90 * 86_400_000).toISOString(), threshold: 2, keyCount: 3 },
        { name: 'timestamp', version: 99, expires: new Date(NOW_MS + 3_600_000).toISOString(), threshold: 1, keyCount: 1 },
        { name: 'snapshot', version: 98, expires: new Date(NOW_MS - 1000).toISOString(), threshold: 1, keyCount: 1 },
        { name: HOSTILE, version: undefined, expires: 'not a date', threshold: undefined, keyCount: undefined },
      ],
    },
    drops: [],
    dropsByReason: [
      { reason: 'hash_mismatch', count: 12, latest: { atMs: NOW_MS - 3000, reason: 'hash_mismatch', what: HOSTILE, url: `https://a:b@files.example/${HOSTILE}`, detail: HOSTILE } },
    ],
    ...overrides,
  }
}

describe('status page renderer', () => {
  test('hostile strings from upstreams are escaped everywhere, and URL credentials are masked', () => {
    const html = renderStatusHtml(report({ version: HOSTILE }))
    assert.doesNotMatch(html, /<script|<img/i, 'no markup from outside survives')
    assert.ok(html.includes('&#60;script&#62;alert(1)&#60;/script&#62;'), 'it is shown as text')
    assert.doesNotMatch(html, /hunter2|a:b@/, 'no password is shown')
    assert.ok(html.includes('https://user:***@index.example/x'), 'a URL inside an error message is masked')
    assert.ok(html.includes('https://a:***@files.example/'), 'a drop URL is masked')
    const glued = renderStatusHtml(report({ trust: undefined, dropsByReason: [], upstreams: [{ origin: 'o', state: 'up', lastError: { code: 'c', cause: undefined, message: `_https://u:pw1@h ${'a'.repeat(40)}https://u:pw2@h`, atMs: NOW_MS }, lastSuccessAtMs: undefined, lastLatencyMs: undefined }] }))
    assert.doesNotMatch(glued, /pw1|pw2/, 'a URL glued to other text is masked too')
  })

  test('says when the server is an offline mirror', () => {
    assert.match(renderStatusHtml(report({ offline: true })), /<b>offline<\/b> \(serves only what was imported; never calls out\)/)
    assert.doesNotMatch(renderStatusHtml(report()), /<b>offline<\/b>/)
  })

  test('shows the figures in human units, with the trust roles and drops by reason', () => {
    const html = renderStatusHtml(report())
    assert.match(html, /<meta http-equiv="refresh" content="10">/)
    assert.ok(html.includes('tuf-proxy <span class="version">1.2.3</span>'))
    assert.ok(html.includes('up 1 h 2 min'))
    assert.ok(html.includes('3.00 GiB <span class="muted">/ 10.0 GiB (30.0 %)'))
    assert.ok(html.includes('width:30.0%'), 'the bar shows the share used')
    assert.ok(html.includes('1,234 blobs on disk') && html.includes('56 project pages recorded') && html.includes('7 evictions (1.50 KiB)'))
    assert.ok(html.includes('80.0 %'), 'the hit ratio')
    assert.ok(html.includes('<span class="badge bad">down</span>'))
    assert.ok(html.includes('87 ms') && html.includes('(42 s ago)') && html.includes('10 min ago'))
    assert.ok(html.includes('<b>refused</b> <code>upstream_unreachable</code>'), 'the cause of the last failure is shown before its code')
    assert.ok(html.includes('<code class="key">hash_mismatch</code></td><td class="num">12</td><td>3 s ago</td>'))
    assert.ok(html.includes('<td>root</td><td class="num">3</td><td>2 of 3 keys</td>'))
    assert.ok(html.includes('90 d'), 'time left of root')
    assert.ok(html.includes('<span class="badge warn">1 h</span>'), 'a role expiring within a day is a warning')
    assert.ok(html.includes('<span class="badge bad">expired</span>'), 'an expired role says so')
    assert.ok(html.includes('next refresh due in 4 min 55 s'))
    assert.ok(html.includes('Last refresh failed: <code>bad_signature</code>'))
    assert.ok(html.includes('<a href="/metrics">') && html.includes('<a href="/health">'))
    assert.doesNotMatch(html, /could not be rendered|undefined|NaN/)
  })

  test('sources, recent policy refusals grouped by reason, and collisions; names from outside escaped', () => {
    const html = renderStatusHtml(report({
      policy: {
        sources: [{ name: 'internal', public: false }, { name: 'pypi', public: true }],
        // newest first, as PolicyLog.recent() gives them
        refusals: [
          { atMs: NOW_MS - 2000, reason: 'too_new', project: 'requests', file: 'requests-2.99.0-py3-none-any.whl', detail: `too new ${HOSTILE}` },
          { atMs: NOW_MS - 60_000, reason: 'denied_by_policy', project: 'evil-thing', file: undefined, detail: 'evil-thing is denied by policy.deny entry "evil-*"' },
          { atMs: NOW_MS - 90_000, reason: 'too_new', project: 'six', file: 'six-9.0-py3-none-any.whl', detail: 'older example' },
        ],
        collisions: [{ atMs: NOW_MS - 5000, project: HOSTILE, privateSource: 'internal', publicSource: 'pypi' }],
      },
    }))
    assert.match(html, /<section id="policy"><h2>Sources and policy<\/h2>/)
    assert.ok(html.includes('<code class="key">internal</code> <span class="badge muted">private</span> · <code class="key">pypi</code> <span class="badge warn">public</span>'), 'the sources in priority order')
    assert.ok(html.includes('of the last 3 refusals'))
    assert.ok(html.includes('<td><code class="key">too_new</code></td><td class="num">2</td><td>2 s ago</td><td><code>requests</code> <code>requests-2.99.0-py3-none-any.whl</code>'), 'two too_new, the latest as the example')
    assert.ok(html.includes('<td><code class="key">denied_by_policy</code></td><td class="num">1</td><td>1 min ago</td><td><code>evil-thing</code> (page)'), 'a refused page')
    assert.doesNotMatch(html, /older example/, 'only the latest example per reason')
    assert.ok(html.includes('<span class="badge bad">1 collision(s)</span>'))
    assert.ok(html.includes('<td><code class="key">&#60;script&#62;alert(1)&#60;/script&#62;'), 'a project name from an index is escaped')
    assert.doesNotMatch(html, /<script|<img|could not be rendered|undefined|NaN/i)
    const quiet = renderStatusHtml(report({ policy: { sources: [{ name: 'pypi', public: true }], refusals: [], collisions: [] } }))
    assert.match(quiet, /Nothing refused by the policy since start/)
    assert.match(quiet, /No private project name seen on a public source since start/)
    assert.match(renderStatusHtml(report()), /no <code>sources:<\/code> or <code>policy:<\/code> configured/)
  })

  test('a report with missing or malformed parts still renders, each broken part saying so', () => {
    assert.doesNotThrow(() => renderStatusHtml({}))
    const empty = renderStatusHtml({})
    assert.match(empty, /unknown version/)
    assert.doesNotMatch(empty, /NaN|undefined/)
    const broken = { ...report(), upstreams: [null], dropsByReason: [{}], trust: { roles: [null] }, cache: { evictions: null } } as unknown as StatusReport
    let html = ''
    assert.doesNotThrow(() => (html = renderStatusHtml(broken)))
    assert.match(html, /This part could not be rendered/)
    assert.match(html, /<section id="trust">/, 'every section is there')
    assert.match(renderStatusHtml({ ...report(), policy: { sources: null } } as unknown as StatusReport), /<section id="policy"><h2>Sources and policy<\/h2><p class="bad-text">This part could not be rendered/)
    const failed = renderStatusHtml({}, `cannot read ${HOSTILE}`)
    assert.match(failed, /The status report could not be built: cannot read &#60;script/)
  })

  test('a --workers server: the whole server\'s figures, a row per worker with its pid, uptime and requests, the restarts, and who did not answer', () => {
    const one = report({ uptimeSeconds: 3725, requests: { requestsPerSecond: 1.5, errorsPerSecond: 0.1, windowSeconds: 59, total: 1000, clientErrors: 4, serverErrors: 2 } })
    const two = report({
      uptimeSeconds: 61,
      requests: { requestsPerSecond: 0.5, errorsPerSecond: 0, windowSeconds: 60, total: 234, clientErrors: 1, serverErrors: 0 },
      cacheOutcomes: { file: { hits: 1, misses: 1, stale: 0 }, page: { hits: 0, misses: 0, stale: 0 }, hitRatio: 0.5 },
      cache: { files: 1234, bytes: 3 * 1024 ** 3, maxBytes: 10 * 1024 ** 3, pages: 56, evictions: { count: 3, bytes: 512 } },
      dropsByReason: [],
    })
    const server = {
      ...two,
      worker: '4',
      primary: { pid: 4321, startedAt: new Date(NOW_MS - 7_200_000).toISOString(), uptimeSeconds: 7200, workerRestarts: 2 },
      workers: [
        { worker: '1', pid: 5001, status: one },
        { worker: '4', pid: 5004, status: two },
        { worker: HOSTILE, pid: HOSTILE, status: null },
      ],
      workersNotAnswering: ['5'],
    }
    const html = renderStatusHtml(server)
    assert.ok(html.includes('up 2 h (since'), 'the server is as old as its primary, not as the worker that answered')
    assert.ok(html.includes('3 workers'))
    assert.ok(html.includes('<section id="workers">'))
    assert.ok(html.includes('4 workers · 2 restarts since start'), 'the restarts the primary counted')
    assert.ok(html.includes('primary pid 4321'))
    assert.ok(html.includes('<tr><td>1</td><td class="num">5001</td><td class="num">1 h 2 min</td><td class="num">1,000</td><td class="num">1.50</td><td class="num">4</td><td class="num">2</td>'))
    assert.ok(html.includes('<tr><td>4 <span class="badge muted">this page</span></td><td class="num">5004</td><td class="num">1 min 1 s</td><td class="num">234</td><td class="num">0.50</td>'))
    assert.ok(html.includes('<tr><td>5</td><td colspan="9"><span class="badge bad">did not answer in time</span>'))
    // Summed over the workers: requests, errors, cache outcomes (hits 3+5+1 of 4+6+2), evictions, drops.
    assert.ok(html.includes('2.00'), 'requests per second of both workers')
    assert.ok(html.includes('5 <small>4xx</small> · 2 <small>5xx</small>') && html.includes('of 1,234 requests since start'))
    assert.ok(html.includes('75.0 %'), 'the hit ratio over all workers')
    assert.ok(html.includes('10 evictions (2.00 KiB)'))
    assert.ok(html.includes('<code class="key">hash_mismatch</code></td><td class="num">12</td>'))
    assert.ok(!html.includes('<script>') && html.includes('&#60;script&#62;'), 'a worker id from outside is escaped')
    assert.doesNotMatch(html, /could not be rendered|undefined|NaN/)
    assert.doesNotThrow(() => renderStatusHtml({ ...server, workers: [null, 7], dropsByReason: [null] } as unknown as typeof server))
  })

  test('human units', () => {
    assert.equal(formatBytes(0), '0 B')
    assert.equal(formatBytes(1536), '1.50 KiB')
    assert.equal(formatBytes(64 * 1024 ** 2), '64.0 MiB')
    assert.equal(formatBytes(Infinity), '-')
    assert.equal(formatDuration(90_061_000), '1 d 1 h')
    assert.equal(formatDuration(61_000), '1 min 1 s')
    assert.equal(formatDuration(400), '0 s')
    assert.equal(formatRelative(NOW_MS - 5000, NOW_MS), '5 s ago')
    assert.equal(formatRelative(NOW_MS + 120_000, NOW_MS), 'in 2 min')
    assert.equal(formatRelative(undefined, NOW_MS), '-')
    assert.equal(formatPercent(undefined), '-')
  })

  test('counts read as en-US writes them, without building an Intl formatter', () => {
    const enUs = new Intl.NumberFormat('en-US')
    const values = [0, -0, 1, 7, 999, 1000, 1234, 12_345, 999_999, 1_000_000, 1_234_567_890, -1234, 0.5, 12.3456, 12.3454, 1.0005, 2.675, 0.0004, -0.0004, 999.9996,
      1e15 + 0.5, Number.MAX_SAFE_INTEGER, 2 ** 60, 1e21, 1.5e22, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE]
    for (const value of values) assert.equal(formatCount(value), enUs.format(value), `formatCount(${value})`)
    for (const value of [NaN, Infinity, -Infinity, undefined, '12', null]) assert.equal(formatCount(value), '-')
  })

  test('each verifying source has its own trust state on the page, and the summary card counts the earliest expiry of all', () => {
    const single = report().trust
    assert.ok(single)
    const html = renderStatusHtml(
      report({
        mode: 'hash-only',
        trust: undefined,
        sourceTrust: [
          { source: 'pypi', trust: { ...single, rootVersion: 7, validUntil: new Date(NOW_MS + 7_200_000).toISOString() } },
          { source: HOSTILE, trust: { ...single, rootVersion: 8, validUntil: new Date(NOW_MS + 1_800_000).toISOString() } },
        ],
      }),
    )
    assert.match(html, /<h3>Source <code>pypi<\/code><\/h3><p>Root version <b>7<\/b>/)
    assert.match(html, /<h3>Source <code>&#60;script&#62;.*<\/code><\/h3><p>Root version <b>8<\/b>/)
    assert.doesNotMatch(html, /Verifying mode is off/)
    assert.match(html, /Trusted metadata<\/div><div class="value">30 min<\/div>/, 'the earliest expiry among the sources')
  })
})
