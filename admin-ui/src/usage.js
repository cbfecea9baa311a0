// usage.js - usage by key (the key counters) with filters, and the request
// log from the statistics API (/admin/request-log) when this relay has it.
import { useMemo, useState } from 'preact/hooks';
import { api, allKeys, allAccounts } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtNum, fmtTime, fmtUsd, Modal, ErrorBox } from './ui.js';

async function load() {
  const [keys, accounts, log] = await Promise.all([allKeys(), allAccounts(),
    api('GET', '/admin/request-log?limit=200', undefined, { quiet404: true })]);
  return { keys, accounts, log: log ? log.data : null };
}

export function Usage() {
  const { data, error } = useLoad(load);
  const [f, setF] = useState({ key: '', model: '', account: '', from: '', to: '' });
  const [detail, setDetail] = useState(null);
  const log = useMemo(() => {
    if (!data || !data.log) return [];
    const items = Array.isArray(data.log) ? data.log : data.log.items || [];
    return items.filter((r) => (!f.key || r.keyId === f.key) && (!f.model || r.model === f.model) &&
      (!f.account || r.accountId === f.account) && (!f.from || String(r.time || r.timestamp) >= f.from) &&
      (!f.to || String(r.time || r.timestamp) <= f.to + 'T23:59:59Z'));
  }, [data, f]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">…</p>`;
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const keys = data.keys.filter((k) => !f.key || k.id === f.key);
  const models = [...new Set(log.map((r) => r.model))];
  return html`<div class="toolbar"><h2>${t('usage')}</h2></div>
    <form class="row inline filters" data-testid="usage-filters">
      <select value=${f.key} onChange=${set('key')} data-testid="usage-key"><option value="">${t('allKeys')}</option>${data.keys.map((k) => html`<option value=${k.id}>${k.name}</option>`)}</select>
      <select value=${f.model} onChange=${set('model')}><option value="">${t('allModels')}</option>${models.map((m) => html`<option>${m}</option>`)}</select>
      <select value=${f.account} onChange=${set('account')}><option value="">${t('allAccounts')}</option>${data.accounts.map((a) => html`<option value=${a.id}>${a.name}</option>`)}</select>
      <label class="inline-label">${t('from')} <input type="date" value=${f.from} onChange=${set('from')} /></label>
      <label class="inline-label">${t('to')} <input type="date" value=${f.to} onChange=${set('to')} /></label></form>
    <h3>${t('usageByKey')}</h3>
    <div class="table-wrap"><table class="list" data-testid="usage-by-key"><thead><tr><th>${t('key')}</th><th>${t('requests')}</th>
      <th>${t('input')}</th><th>${t('output')}</th><th>${t('cacheCreate')}</th><th>${t('cacheRead')}</th><th>${t('lastUsed')}</th></tr></thead>
    <tbody>${keys.map((k) => html`<tr><td data-label=${t('key')}><b>${k.name}</b></td><td data-label=${t('requests')}>${fmtNum(k.usage?.requests)}</td>
      <td data-label=${t('input')}>${fmtNum(k.usage?.inputTokens)}</td><td data-label=${t('output')}>${fmtNum(k.usage?.outputTokens)}</td>
      <td data-label=${t('cacheCreate')}>${fmtNum(k.usage?.cacheCreateTokens)}</td><td data-label=${t('cacheRead')}>${fmtNum(k.usage?.cacheReadTokens)}</td>
      <td data-label=${t('lastUsed')}>${fmtTime(k.lastUsedAt)}</td></tr>`)}</tbody></table></div>
    <h3>${t('requestLog')}</h3>
    ${!data.log ? html`<p class="notice" data-testid="log-missing">${t('logMissing')}</p>` : html`<div class="table-wrap"><table class="list" data-testid="request-log">
      <thead><tr><th>${t('time')}</th><th>${t('key')}</th><th>${t('model')}</th><th>${t('tokens')}</th><th>${t('cost')}</th><th>${t('status')}</th><th>${t('duration')}</th></tr></thead>
      <tbody>${log.map((r) => html`<tr class="clickable" onClick=${() => setDetail(r)}><td>${fmtTime(r.time || r.timestamp)}</td><td>${r.keyName || r.keyId}</td><td>${r.model}</td>
        <td>${fmtNum((r.inputTokens || 0) + (r.outputTokens || 0) + (r.cacheCreateTokens || 0) + (r.cacheReadTokens || 0))}</td><td>${fmtUsd(r.cost)}</td><td>${r.status}</td><td>${r.durationMs ?? r.duration} ms</td></tr>`)}</tbody></table></div>`}
    ${detail && html`<${Modal} title=${t('details')} onClose=${() => setDetail(null)}><pre>${JSON.stringify(detail, null, 2)}</pre><//>`}`;
}
