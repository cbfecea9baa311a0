// settings.js - language, theme (in the header too), the switches fixed by .env
// (read-only), the runtime settings (queues, sticky TTL, branding: stored in
// Redis over their .env defaults, /admin/claude-relay-config, applied on every
// relay without a restart) and changing the admin password.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, tzLabel, Field, fieldOf, ErrorBox } from './ui.js';

// The runtime settings: [name, kind, min, max]; the server checks the same.
const RUNTIME = [
  ['concurrentRequestQueueEnabled', 'bool'],
  ['concurrentRequestQueueTimeoutMs', 'int', 5000, 300000],
  ['userMessageQueueEnabled', 'bool'],
  ['userMessageQueueDelayMs', 'int', 0, 10000],
  ['userMessageQueueTimeoutMs', 'int', 1000, 300000],
  ['stickySessionTtlHours', 'int', 1, 8760],
  ['webTitle', 'text', 1, 100],
  ['webLogoUrl', 'url', 0, 500],
];
const NAMES = RUNTIME.map((f) => f[0]);

// The form's value of one field, or an error message naming it.
function readField([name, kind, min, max], form) {
  const el = form.elements[name];
  if (kind === 'bool') return { value: el.checked };
  const raw = el.value.trim();
  if (kind === 'int') {
    const n = Number(raw);
    if (raw === '' || !Number.isInteger(n) || n < min || n > max) return { error: t('rangeError', name, min, max) };
    return { value: n };
  }
  if ([...raw].length < min || [...raw].length > max) return { error: t('lengthError', name, min, max) };
  if (kind === 'url' && raw && !/^https?:\/\/[^\s;,'"]+$/.test(raw)) return { error: t('urlError', name) };
  return { value: raw };
}

function RuntimeSettings({ onBrand }) {
  const s = useLoad(() => api('GET', '/admin/claude-relay-config'));
  const [errs, setErrs] = useState({});
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const [gen, setGen] = useState(0); // re-mounts the inputs with the values just stored
  const send = async (body) => {
    setErrs({});
    setErr(null);
    setSaved(false);
    try {
      const r = await api('PUT', '/admin/claude-relay-config', body);
      await s.reload();
      setGen((g) => g + 1);
      setSaved(true);
      if (onBrand) onBrand({ title: r.data.webTitle, logo: r.data.webLogoUrl || '' });
    } catch (x) {
      const n = fieldOf(x.message, NAMES);
      if (n) setErrs({ [n]: x.message });
      else setErr(x);
    }
  };
  const submit = (e) => {
    e.preventDefault();
    const body = {};
    const bad = {};
    for (const f of RUNTIME) {
      const v = readField(f, e.target);
      if (v.error) bad[f[0]] = v.error;
      else if (v.value !== s.data.data[f[0]]) body[f[0]] = v.value; // only what changed is stored
    }
    if (Object.keys(bad).length) {
      setErrs(bad);
      setSaved(false);
      return;
    }
    send(body);
  };
  if (!s.data) return html`<section class="card"><h3>${t('runtimeSettings')}</h3><${ErrorBox} error=${s.error} /></section>`;
  const { data: d, defaults: def, overridden } = s.data;
  const shown = (n) => (typeof def[n] === 'boolean' ? (def[n] ? t('on') : t('off')) : def[n] === '' ? '—' : String(def[n]));
  const hint = (n) => t('defaultIs', shown(n)) + (overridden.includes(n) ? ' · ' + t('overridden') : '');
  const reset = (n) => overridden.includes(n) && html`<button type="button" class="small" data-testid=${'settings-reset-' + n}
    onClick=${() => send({ [n]: null })}>${t('resetDefault')}</button>`;
  const input = ([n, kind, min, max]) => {
    if (kind === 'bool')
      return html`<input type="checkbox" name=${n} data-testid=${'setting-' + n} checked=${d[n]} />`;
    if (kind === 'int')
      return html`<input name=${n} type="number" min=${min} max=${max} step="1" value=${d[n]} data-testid=${'setting-' + n} />`;
    return html`<input name=${n} type=${kind === 'url' ? 'url' : 'text'} value=${d[n]} data-testid=${'setting-' + n} />`;
  };
  return html`<form class="card form" onSubmit=${submit} novalidate data-testid="settings-runtime" key=${gen}>
    <h3>${t('runtimeSettings')}</h3><p class="muted small">${t('runtimeHelp')}</p>
    ${RUNTIME.map((f) => html`<${Field} name=${f[0]} label=${t('setting_' + f[0])} hint=${hint(f[0])} error=${errs[f[0]]}>
      <div class="setting-row">${input(f)}${reset(f[0])}</div><//>`)}
    <${ErrorBox} error=${err} />
    ${saved && html`<p class="notice" data-testid="settings-saved">${t('settingsSaved')}</p>`}
    <div class="actions"><button type="submit" class="primary" data-testid="settings-save">${t('save')}</button>
      ${overridden.length > 0 && html`<button type="button" data-testid="settings-reset-all"
        onClick=${() => send(Object.fromEntries(NAMES.map((n) => [n, null])))}>${t('resetAll')}</button>`}</div></form>`;
}

export function Settings({ onRelogin, onBrand }) {
  const s = useLoad(() => api('GET', '/admin/ui-settings').then((r) => r.data));
  const [errs, setErrs] = useState({});
  const [err, setErr] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setErrs({});
    setErr(null);
    const body = { currentPassword: f.get('currentPassword'), newPassword: f.get('newPassword') };
    if (f.get('newUsername')) body.newUsername = f.get('newUsername');
    try {
      await api('POST', '/web/auth/change-password', body);
      onRelogin();
    } catch (x) {
      const n = fieldOf(x.message, ['currentPassword', 'newPassword', 'newUsername']);
      if (n) setErrs({ [n]: x.message });
      else setErr(x);
    }
  };
  const d = s.data;
  const onoff = (b) => (b ? t('on') : t('off'));
  return html`<div class="toolbar"><h2>${t('settings')}</h2></div>
    <div class="grid">
    <section class="card"><h3>${t('switches')}</h3><${ErrorBox} error=${s.error} />
      ${d && html`<table class="kv" data-testid="settings-switches"><tbody>
        <tr><th>${t('timezone')}</th><td>${tzLabel()} (TIMEZONE_OFFSET)</td></tr>
        <tr><th>${t('sessionTimeout')}</th><td>${Math.round(d.sessionTimeoutMs / 3600e3)} h</td></tr>
        <tr><th>${t('usageStatistics')}</th><td>${onoff(d.usageStatistics)}</td></tr></tbody></table>`}</section>
    <${RuntimeSettings} onBrand=${onBrand} />
    <form class="card form" onSubmit=${submit} novalidate><h3>${t('changePassword')}</h3>
      <${Field} name="currentPassword" label=${t('currentPassword')} error=${errs.currentPassword}><input name="currentPassword" type="password" autocomplete="current-password" required /><//>
      <${Field} name="newPassword" label=${t('newPassword')} error=${errs.newPassword}><input name="newPassword" type="password" autocomplete="new-password" minlength="8" required /><//>
      <${Field} name="newUsername" label=${t('newUsername')} error=${errs.newUsername}><input name="newUsername" autocomplete="username" /><//>
      <${ErrorBox} error=${err} />
      <div class="actions"><button type="submit" class="primary">${t('changePassword')}</button></div></form>
    </div>`;
}
