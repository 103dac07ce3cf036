/** A small HTML view of `/status` for a browser; the JSON form is the source of truth. */
import type { MirrorStatus } from '../mirror/index.js'

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

function row(cells: readonly string[]): string {
  return `<tr>${cells.map((cell) => `<td>${escape(cell)}</td>`).join('')}</tr>`
}

export function renderStatusHtml(status: MirrorStatus): string {
  const trust = status.trust
  const roles = trust
    ? `<h2>Trust state</h2><p>Root version ${trust.rootVersion}; last successful refresh: ${escape(trust.lastRefresh ?? 'never')}</p>
<table><tr><th>role</th><th>version</th><th>expires</th><th>threshold</th><th>keys</th></tr>${trust.roles
        .map((role) => row([role.name, String(role.version ?? '-'), role.expires ?? '-', String(role.threshold ?? '-'), String(role.keyCount ?? '-')]))
        .join('')}</table>`
    : '<p>Verifying mode is off: files are checked against index hashes only.</p>'
  const drops = status.drops.length
    ? `<table><tr><th>time</th><th>reason</th><th>what</th><th>url</th><th>detail</th></tr>${status.drops
        .map((drop) => row([new Date(drop.atMs).toISOString(), drop.reason, drop.what, drop.url, drop.detail]))
        .join('')}</table>`
    : '<p>No drops.</p>'
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>tuf-proxy status</title>
<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}table{border-collapse:collapse}</style></head>
<body><h1>tuf-proxy</h1><p>Mode: ${escape(status.mode)}${status.offline ? ', offline (serves only what was imported; never calls out)' : ''}; upstream ${escape(status.upstream)}</p>
<p>Cache: ${status.cache.files} files, ${status.cache.bytes} bytes of ${Number.isFinite(status.cache.maxBytes) ? status.cache.maxBytes : 'unlimited'}</p>
${roles}<h2>Recent drops</h2>${drops}</body></html>`
}
