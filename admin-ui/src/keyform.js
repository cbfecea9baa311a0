// keyform.js - create / edit one API key with every policy field the admin
// API accepts (server/store/keys.c key_fields). A 400 names its field; the
// message is shown next to that field.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, Field, Modal, fieldOf, ErrorBox } from './ui.js';

const NUMS = ['rateLimitWindow', 'rateLimitRequests', 'tokenLimit', 'concurrencyLimit'];
const USDS = ['rateLimitCost', 'dailyCostLimit', 'totalCostLimit', 'weeklyOpusCostLimit'];
const OPTIONAL_INTS = ['weeklyResetDay', 'weeklyResetHour', 'activationDays'];
const SERVICES = ['claude', 'gemini', 'openai', 'droid'];
const CLIENTS = ['claude_code', 'gemini_cli', 'codex_cli', 'droid_cli'];
const BINDS = [
  ['claudeAccountId', 'claude-official'],
  ['claudeConsoleAccountId', 'claude-console'],
  ['openaiAccountId', 'openai-responses'],
];
export const KEY_FIELDS = ['name', 'description', 'tags', 'isActive', 'expiresAt', 'expirationMode', 'permissions',
  'enableModelRestriction', 'restrictedModels', 'enableClientRestriction', 'allowedClients', ...NUMS, ...USDS,
  ...OPTIONAL_INTS, 'activationUnit', ...BINDS.map((b) => b[0]), 'count', 'baseName'];

const list = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);
const toLocal = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16) : '');

// The body from the form: on edit every field is sent (empty = cleared).
function bodyOf(f, edit) {
  const b = { name: f.get('name'), description: f.get('description'), tags: list(f.get('tags')) };
  const has = (n) => f.get(n) !== null && f.get(n) !== ''; // null: not on the form
  for (const n of [...NUMS, ...USDS]) if (has(n) || edit) b[n] = Number(f.get(n) || 0);
  for (const n of OPTIONAL_INTS) if (has(n)) b[n] = Number(f.get(n));
  b.expirationMode = f.get('expirationMode');
  if (b.expirationMode === 'fixed') {
    const e = f.get('expiresAt');
    if (e || edit) b.expiresAt = e ? new Date(e + 'Z').toISOString() : null;
  } else b.activationUnit = f.get('activationUnit');
  b.permissions = SERVICES.filter((s) => f.get('perm-' + s));
  b.enableModelRestriction = !!f.get('enableModelRestriction');
  b.restrictedModels = list(f.get('restrictedModels'));
  b.enableClientRestriction = !!f.get('enableClientRestriction');
  b.allowedClients = CLIENTS.filter((c) => f.get('client-' + c));
  for (const [n] of BINDS) if (f.get(n) !== null && (f.get(n) || edit)) b[n] = f.get(n);
  if (edit) b.isActive = !!f.get('isActive');
  return b;
}

export function KeyForm({ item, accounts, groups, batch, onClose, onSaved }) {
  const k = item || {};
  const [errs, setErrs] = useState({});
  const [err, setErr] = useState(null);
  const [mode, setMode] = useState(k.expirationMode || 'fixed');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = bodyOf(f, !!item);
    setErrs({});
    setErr(null);
    setBusy(true);
    try {
      let r;
      if (item) r = await api('PUT', '/admin/api-keys/' + k.id, body);
      else if (batch) {
        delete body.name;
        r = await api('POST', '/admin/api-keys/batch', { ...body, baseName: f.get('baseName'), count: Number(f.get('count')) });
      } else r = await api('POST', '/admin/api-keys', body);
      onSaved(r);
    } catch (x) {
      const field = fieldOf(x.message, KEY_FIELDS);
      if (field) setErrs({ [field]: x.message });
      // A field the form does not show right now: say it at the bottom too.
      if (!field || !e.target.querySelector(`[data-field="${field}"]`)) setErr(x);
    } finally {
      setBusy(false);
    }
  };
  const num = (n, step = 1, min = 0, max) => html`<${Field} name=${n} label=${t(n)} error=${errs[n]}>
    <input name=${n} type="number" step=${step} min=${min} max=${max} value=${k[n] ?? ''} placeholder=${t('unlimited')} data-testid=${'key-' + n} /><//>`;
  const title = item ? t('edit') + ' · ' + k.name : batch ? t('batchCreate') : t('createKey');
  return html`<${Modal} title=${title} onClose=${onClose} testid="key-form">
    <form class="form" onSubmit=${submit} novalidate>
      ${batch
        ? html`<div class="row2"><${Field} name="baseName" label=${t('baseName')} error=${errs.baseName}>
            <input name="baseName" required maxlength="90" data-testid="key-basename" /><//>
            <${Field} name="count" label=${t('count')} error=${errs.count}><input name="count" type="number" min="1" max="500" value="5" data-testid="key-count" /><//></div>`
        : html`<${Field} name="name" label=${t('name')} error=${errs.name}>
            <input name="name" required maxlength="100" value=${k.name || ''} data-testid="key-name" /><//>`}
      <${Field} name="description" label=${t('description')} error=${errs.description}>
        <input name="description" maxlength="500" value=${k.description || ''} /><//>
      <${Field} name="tags" label=${t('tags')} error=${errs.tags}><input name="tags" value=${(k.tags || []).join(', ')} /><//>
      ${item && html`<label class="check"><input type="checkbox" name="isActive" checked=${k.isActive !== false} /> ${t('enable')}</label>`}
      <fieldset><legend>${t('policy')}</legend><p class="fhint">${t('zeroUnlimited')}</p>
        <div class="row3">${num('rateLimitWindow', 1, 0, 525600)}${num('rateLimitRequests')}${num('tokenLimit')}</div>
        <div class="row3">${num('rateLimitCost', 0.01)}${num('concurrencyLimit')}${num('dailyCostLimit', 0.01)}</div>
        <div class="row3">${num('totalCostLimit', 0.01)}${num('weeklyOpusCostLimit', 0.01)}
          <div class="row2">${num('weeklyResetDay', 1, 1, 7)}${num('weeklyResetHour', 1, 0, 23)}</div></div>
      </fieldset>
      <fieldset><legend>${t('expirationMode')}</legend>
        <div class="row3"><${Field} name="expirationMode" label=${t('expirationMode')} error=${errs.expirationMode}>
          <select name="expirationMode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
            <option value="fixed">${t('fixed')}</option><option value="activation">${t('activation')}</option></select><//>
        ${mode === 'fixed'
          ? html`<${Field} name="expiresAt" label=${t('expiresAt') + ' (UTC)'} error=${errs.expiresAt}>
              <input name="expiresAt" type="datetime-local" value=${toLocal(k.expiresAt)} /><//>`
          : html`${num('activationDays', 1, 1, 3650)}<${Field} name="activationUnit" label=${t('activationUnit')} error=${errs.activationUnit}>
              <select name="activationUnit" value=${k.activationUnit || 'days'}><option value="days">${t('days')}</option><option value="hours">${t('hours')}</option></select><//>`}</div>
      </fieldset>
      <fieldset><legend>${t('access')}</legend>
        <${Field} name="permissions" label=${t('permissions') + ' (' + t('allServices') + ')'} error=${errs.permissions}>
          <span class="checks">${SERVICES.map((s) => html`<label class="check"><input type="checkbox" name=${'perm-' + s} checked=${(k.permissions || []).includes(s)} /> ${s}</label>`)}</span><//>
        <label class="check"><input type="checkbox" name="enableModelRestriction" checked=${!!k.enableModelRestriction} /> ${t('enableModelRestriction')}</label>
        <${Field} name="restrictedModels" label=${t('restrictedModels')} error=${errs.restrictedModels}>
          <input name="restrictedModels" value=${(k.restrictedModels || []).join(', ')} /><//>
        <label class="check"><input type="checkbox" name="enableClientRestriction" checked=${!!k.enableClientRestriction} /> ${t('enableClientRestriction')}</label>
        <${Field} name="allowedClients" label=${t('allowedClients')} error=${errs.allowedClients}>
          <span class="checks">${CLIENTS.map((c) => html`<label class="check"><input type="checkbox" name=${'client-' + c} checked=${(k.allowedClients || []).includes(c)} /> ${c}</label>`)}</span><//>
      </fieldset>
      <fieldset><legend>${t('dedicated')}</legend><div class="row3">
        ${BINDS.map(([n, platform]) => html`<${Field} name=${n} label=${t(n)} error=${errs[n]}>
          <select name=${n} value=${k[n] || ''}><option value="">${t('none')}</option>
            ${accounts.filter((a) => a.platform === platform).map((a) => html`<option value=${a.id}>${a.name}</option>`)}
            ${n !== 'openaiAccountId' && groups.map((g) => html`<option value=${'group:' + g.id}>${t('group')}: ${g.name}</option>`)}
          </select><//>`)}</div>
      </fieldset>
      <${ErrorBox} error=${err} />
      <div class="actions"><button type="button" onClick=${onClose}>${t('cancel')}</button>
        <button type="submit" class="primary" disabled=${busy} data-testid="key-save">${item ? t('save') : t('create')}</button></div>
    </form><//>`;
}
