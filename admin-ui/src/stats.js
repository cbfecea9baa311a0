// stats.js - the key-holder page (/web/stats): the key is typed in and sent
// in the x-api-key header of GET /api/v1/key-info, never put in a URL.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, Bar, Card, Stat, fmtNum, fmtUsd, ErrorBox, go } from './ui.js';

function Result({ info }) {
  const k = info.keyInfo || info;
  const u = k.usage || {}, lim = k.limits || {}, tot = u.total || {}, cost = u.cost || {};
  const exp = k.expiresAt ? new Date(k.expiresAt).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : k.activationPending ? t('pendingActivation') : t('never');
  const window = lim.windowMinutes ? ` (${lim.windowMinutes} min)` : '';
  return html`<div data-testid="stats-result">
    <h2 data-testid="stats-name">${k.name}</h2>
    <div class="stats">
      <${Stat} label=${t('requests')} value=${fmtNum(tot.requests)} testid="stats-requests" />
      <${Stat} label=${t('tokens')} value=${fmtNum(tot.allTokens)} />
      <${Stat} label=${t('dailyCost')} value=${fmtUsd(cost.daily)} />
      <${Stat} label=${t('totalCost')} value=${fmtUsd(cost.total)} />
      <${Stat} label=${t('expiry')} value=${exp} testid="stats-expiry" />
    </div>
    <${Card} title=${t('limits')} testid="stats-limits">
      ${lim.dailyCost > 0 && html`<${Bar} label=${t('dailyCost')} used=${cost.daily} limit=${lim.dailyCost} fmt=${fmtUsd} />`}
      ${lim.totalCost > 0 && html`<${Bar} label=${t('totalCost')} used=${cost.total} limit=${lim.totalCost} fmt=${fmtUsd} />`}
      <table class="kv"><tbody>
        <tr><th>${t('rateLimitRequests')}${window}</th><td data-testid="stats-limit-requests">${lim.requests ? fmtNum(lim.requests) : t('unlimited')}</td></tr>
        <tr><th>${t('tokenLimit')}</th><td>${lim.tokens ? fmtNum(lim.tokens) : t('unlimited')}</td></tr>
        <tr><th>${t('concurrencyLimit')}</th><td>${lim.concurrency || t('unlimited')}</td></tr>
        <tr><th>${t('dailyCostLimit')}</th><td>${lim.dailyCost ? fmtUsd(lim.dailyCost) + ' · ' + t('remaining') + ' ' + fmtUsd(Math.max(0, lim.dailyCost - (cost.daily || 0))) : t('unlimited')}</td></tr>
        <tr><th>${t('totalCostLimit')}</th><td data-testid="stats-remaining">${lim.totalCost ? fmtUsd(lim.totalCost) + ' · ' + t('remaining') + ' ' + fmtUsd(Math.max(0, lim.totalCost - (cost.total || 0))) : t('unlimited')}</td></tr>
        <tr><th>${t('weeklyOpusCostLimit')}</th><td>${lim.weeklyOpusCost ? fmtUsd(lim.weeklyOpusCost) : t('unlimited')}</td></tr>
      </tbody></table><//></div>`;
}

export function KeyStats() {
  const [info, setInfo] = useState(null);
  const [err, setErr] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    const key = new FormData(e.target).get('key').trim();
    setErr(null);
    api('GET', '/api/v1/key-info', undefined, { key }).then(setInfo, (x) => { setInfo(null); setErr(x); });
  };
  return html`<main class="page narrow">
    <form class="card form" onSubmit=${submit} data-testid="stats-form"><h2>${t('statsTitle')}</h2>
      <p class="muted">${t('statsHelp')}</p>
      <div class="row inline"><input name="key" type="password" autocomplete="off" placeholder="cr_..." required data-testid="stats-key" />
        <button type="submit" class="primary" data-testid="stats-submit">${t('check')}</button></div>
      <${ErrorBox} error=${err} />
      <p class="muted small"><a href="/web/dashboard" onClick=${(e) => { e.preventDefault(); go('dashboard'); }}>${t('adminLink')}</a></p></form>
    ${info && html`<${Result} info=${info} />`}</main>`;
}
