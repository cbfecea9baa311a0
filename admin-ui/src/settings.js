// settings.js - language, theme (in the header too), the switches the relay
// runs with (read-only, from .env: WEB_TITLE and WEB_LOGO_URL too) and changing the admin password.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, tzLabel, Field, fieldOf, ErrorBox } from './ui.js';

export function Settings({ onRelogin }) {
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
        <tr><th>${t('usageStatistics')}</th><td>${onoff(d.usageStatistics)}</td></tr>
        <tr><th>${t('requestQueue')}</th><td>${onoff(d.concurrentRequestQueue)}${d.concurrentRequestQueue ? ` · ${d.concurrentRequestQueueTimeoutMs} ms` : ''}</td></tr>
        <tr><th>${t('userMessageQueue')}</th><td>${onoff(d.userMessageQueue)}${d.userMessageQueue ? ` · ${d.userMessageQueueDelayMs} ms` : ''}</td></tr>
        <tr><th>${t('stickyTtl')}</th><td>${d.stickySessionTtlHours} h</td></tr>
        <tr><th>${t('branding')}</th><td data-testid="settings-branding">${d.webTitle} (WEB_TITLE)${d.webLogoUrl ? html`<div class="muted small">${d.webLogoUrl} (WEB_LOGO_URL)</div>` : ''}</td></tr></tbody></table>`}</section>
    <form class="card form" onSubmit=${submit} novalidate><h3>${t('changePassword')}</h3>
      <${Field} name="currentPassword" label=${t('currentPassword')} error=${errs.currentPassword}><input name="currentPassword" type="password" autocomplete="current-password" required /><//>
      <${Field} name="newPassword" label=${t('newPassword')} error=${errs.newPassword}><input name="newPassword" type="password" autocomplete="new-password" minlength="8" required /><//>
      <${Field} name="newUsername" label=${t('newUsername')} error=${errs.newUsername}><input name="newUsername" autocomplete="username" /><//>
      <${ErrorBox} error=${err} />
      <div class="actions"><button type="submit" class="primary">${t('changePassword')}</button></div></form>
    </div>`;
}
