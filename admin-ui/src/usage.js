// usage.js - usage by key (the key counters) with filters, and the request
// log of one key or one account from the statistics API (/admin/request-log,
// docs/admin-stats-api.md) when this relay has it.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, allKeys, allAccounts } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtNum, fmtTime, fmtUsd, Modal, ErrorBox } from './ui.js';

async function load() {
  const [keys, accounts] = await Promise.all([allKeys(), allAccounts()]);
  return { keys, accounts };
}

// The log of the chosen key (else account); null = the API is not in this build.
function useLog(f) {
  const [log, setLog] = useState({ records: [], missing: false, error: null });
  useEffect(() => {
    if (!f.key && !f.account) return setLog({ records: [], missing: false, error: null });
    const q = new URLSearchParams(f.key ? { keyId: f.key } : { accountId: f.account });
    q.set('limit', '200');
    if (f.model) q.set('model', f.model);
    api('GET', '/admin/request-log?' + q, undefined, { quiet404: true }).then(
      (r) => setLog(r ? { records: r.data.records || [], missing: false } : { records: [], missing: true }),
      (error) => setLog({ records: [], missing: false, error }),
    );
    return undefined;
  }, [f.key, f.account, f.model]);
  return log;
}

function LogTable({ rows, keys, accounts, onPick }) {
  const name = (list, id) => (list.find((x) => x.id === id) || {}).name || id;
  return html`<div class="table-wrap"><table class="list" data-testid="request-log">
    <thead><tr><th>${t('time')}</th><th>${t('key')}</th><th>${t('account')}</th><th>${t('model')}</th><th>${t('tokens')}</th>
      <th>${t('cost')}</th><th>${t('status')}</th><th>${t('duration')}</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr class="clickable" data-testid="log-row" onClick=${() => onPick(r)}>
      <td data-label=${t('time')}>${fmtTime(r.timestamp)}</td><td data-label=${t('key')}>${name(keys, r.keyId)}</td>
      <td data-label=${t('account')}>${name(accounts, r.accountId)}</td><td data-label=${t('model')}>${r.model}</td>
      <td data-label=${t('tokens')}>${fmtNum(r.allTokens)}</td><td data-label=${t('cost')}>${r.formattedCost || fmtUsd(r.cost)}</td>
      <td data-label=${t('status')}>${r.status}${r.attempts > 1 ? ` · ${r.attempts}×` : ''}</td>
      <td data-label=${t('duration')}>${fmtNum(r.durationMs)} ms${r.ttftMs ? html`<span class="muted small"> · TTFT ${fmtNum(r.ttftMs)}</span>` : ''}</td></tr>`)}
    ${!rows.length && html`<tr><td colspan="8" class="muted">${t('noData')}</td></tr>`}</tbody></table></div>`;
}

export function Usage() {
  const { data, error } = useLoad(load);
  const [f, setF] = useState({ key: '', model: '', account: '', from: '', to: '' });
  const [detail, setDetail] = useState(null);
  const log = useLog(f);
  const rows = useMemo(() => log.records.filter((r) => {
    const day = fmtTime(r.timestamp).slice(0, 10); // the relay's date
    return (!f.account || !f.key || r.accountId === f.account) && (!f.from || day >= f.from) && (!f.to || day <= f.to);
  }), [log, f]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">…</p>`;
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const keys = data.keys.filter((k) => !f.key || k.id === f.key);
  return html`<div class="toolbar"><h2>${t('usage')}</h2></div>
    <form class="row inline filters" data-testid="usage-filters" onSubmit=${(e) => e.preventDefault()}>
      <select value=${f.key} onChange=${set('key')} data-testid="usage-key"><option value="">${t('allKeys')}</option>${data.keys.map((k) => html`<option value=${k.id}>${k.name}</option>`)}</select>
      <select value=${f.account} onChange=${set('account')} data-testid="usage-account"><option value="">${t('allAccounts')}</option>${data.accounts.map((a) => html`<option value=${a.id}>${a.name}</option>`)}</select>
      <input placeholder=${t('model')} value=${f.model} onChange=${set('model')} data-testid="usage-model" />
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
    <${ErrorBox} error=${log.error} />
    ${log.missing ? html`<p class="notice" data-testid="log-missing">${t('logMissing')}</p>`
      : !f.key && !f.account ? html`<p class="muted" data-testid="log-pick">${t('logPick')}</p>`
      : html`<${LogTable} rows=${rows} keys=${data.keys} accounts=${data.accounts} onPick=${setDetail} />`}
    ${detail && html`<${Modal} title=${t('details')} onClose=${() => setDetail(null)} testid="log-detail"><pre>${JSON.stringify(detail, null, 2)}</pre><//>`}`;
}
