// explain.js - "why this account?": the scheduler's own explanation
// (/admin/scheduler/explain) for a key and a model.
import { useState } from 'preact/hooks';
import { api, allKeys } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtTime, Badge, ErrorBox } from './ui.js';

const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5', 'gpt-5'];

export function Explain() {
  const keys = useLoad(allKeys);
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const run = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setErr(null);
    const q = new URLSearchParams({ keyId: f.get('keyId'), model: f.get('model') });
    api('GET', '/admin/scheduler/explain?' + q).then((r) => setRes(r.data), setErr);
  };
  if (keys.error) return html`<${ErrorBox} error=${keys.error} />`;
  return html`<div class="toolbar"><h2>${t('explain')}</h2></div>
    <p class="muted">${t('explainHelp')}</p>
    <form class="row inline" onSubmit=${run}>
      <select name="keyId" data-testid="explain-key" required>${(keys.data || []).map((k) => html`<option value=${k.id}>${k.name}</option>`)}</select>
      <input name="model" list="models" value="claude-sonnet-4-5" data-testid="explain-model" required />
      <datalist id="models">${MODELS.map((m) => html`<option value=${m} />`)}</datalist>
      <button type="submit" class="primary" data-testid="explain-run">${t('explainRun')}</button></form>
    <${ErrorBox} error=${err} />
    ${res && html`<section class="card" data-testid="explain-result">
      <h3>${t('picked')}: <span data-testid="explain-picked">${res.picked ? res.picked.name : t('noAccount')}</span></h3>
      <p class="muted small">${t('model')} ${res.model} · ${res.family}${res.binding ? ' · ' + t('dedicated') + ' ' + res.binding : ''}</p>
      <ul class="health">${(res.accounts || []).map((a) => html`<li data-testid="explain-account">
        ${a.eligible ? html`<${Badge} kind="ok">${t('eligible')}<//>` : html`<${Badge} kind="warn">${t('skipped')}<//>`}
        <b> ${a.name}</b> <span class="muted">${a.platform} · ${t('priority')} ${a.priority}</span>
        ${a.reason && html`<div class="small">${a.reason}${a.statusReason ? ' — ' + a.statusReason : ''}${a.until ? ' · ' + t('until') + ' ' + fmtTime(a.until) : ''}</div>`}</li>`)}</ul>
    </section>`}`;
}
