// stats.js - the key-holder page (/web/stats): the key is typed in and sent
// in the body of POST /apiStats/api/user-stats (or, in a build without it,
// the x-api-key header of GET /api/v1/key-info), never put in a URL.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, Bar, Card, Stat, fmtNum, fmtUsd, ErrorBox, go } from './ui.js';

// One view of either answer: POST /apiStats/api/user-stats (the statistics API,
// docs/admin-stats-api.md) or, in a build without it, GET /api/v1/key-info.
function normalize(r) {
  if (r.data) {
    const d = r.data, l = d.limits || {}, u = d.usage || {};
    return {
      name: d.name, requests: u.total?.requests, tokens: u.total?.allTokens, today: u.today, month: u.month,
      dailyCost: l.currentDailyCost, totalCost: l.currentTotalCost, weeklyOpusCost: l.weeklyOpusCost,
      expiresAt: d.expiresAt, pending: d.expirationMode === 'activation' && !d.isActivated,
      lim: { requests: l.rateLimitRequests, window: l.rateLimitWindow, tokens: l.tokenLimit, concurrency: l.concurrencyLimit,
        dailyCost: l.dailyCostLimit, totalCost: l.totalCostLimit, weeklyOpus: l.weeklyOpusCostLimit },
    };
  }
  const k = r.keyInfo || r, u = k.usage || {}, l = k.limits || {}, c = u.cost || {};
  return {
    name: k.name, requests: u.total?.requests, tokens: u.total?.allTokens, dailyCost: c.daily, totalCost: c.total,
    expiresAt: k.expiresAt, pending: k.activationPending,
    lim: { requests: l.requests, window: l.windowMinutes, tokens: l.tokens, concurrency: l.concurrency,
      dailyCost: l.dailyCost, totalCost: l.totalCost, weeklyOpus: l.weeklyOpusCost },
  };
}

function Result({ info }) {
  const v = normalize(info), lim = v.lim;
  const exp = v.expiresAt ? new Date(v.expiresAt).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : v.pending ? t('pendingActivation') : t('never');
  const window = lim.window ? ` (${lim.window} min)` : '';
  const left = (limit, used) => (limit ? fmtUsd(limit) + ' · ' + t('remaining') + ' ' + fmtUsd(Math.max(0, limit - (used || 0))) : t('unlimited'));
  return html`<div data-testid="stats-result">
    <h2 data-testid="stats-name">${v.name}</h2>
    <div class="stats">
      <${Stat} label=${t('requests')} value=${fmtNum(v.requests)} testid="stats-requests" sub=${v.today && t('today') + ' ' + fmtNum(v.today.requests)} />
      <${Stat} label=${t('tokens')} value=${fmtNum(v.tokens)} sub=${v.today && t('today') + ' ' + fmtNum(v.today.allTokens)} />
      <${Stat} label=${t('dailyCost')} value=${fmtUsd(v.dailyCost)} />
      <${Stat} label=${t('totalCost')} value=${fmtUsd(v.totalCost)} />
      <${Stat} label=${t('expiry')} value=${exp} testid="stats-expiry" />
    </div>
    <${Card} title=${t('limits')} testid="stats-limits">
      ${lim.dailyCost > 0 && html`<${Bar} label=${t('dailyCost')} used=${v.dailyCost} limit=${lim.dailyCost} fmt=${fmtUsd} />`}
      ${lim.totalCost > 0 && html`<${Bar} label=${t('totalCost')} used=${v.totalCost} limit=${lim.totalCost} fmt=${fmtUsd} />`}
      ${lim.weeklyOpus > 0 && html`<${Bar} label=${t('weeklyOpusCost')} used=${v.weeklyOpusCost} limit=${lim.weeklyOpus} fmt=${fmtUsd} />`}
      <table class="kv"><tbody>
        <tr><th>${t('rateLimitRequests')}${window}</th><td data-testid="stats-limit-requests">${lim.requests ? fmtNum(lim.requests) : t('unlimited')}</td></tr>
        <tr><th>${t('tokenLimit')}</th><td>${lim.tokens ? fmtNum(lim.tokens) : t('unlimited')}</td></tr>
        <tr><th>${t('concurrencyLimit')}</th><td>${lim.concurrency || t('unlimited')}</td></tr>
        <tr><th>${t('dailyCostLimit')}</th><td>${left(lim.dailyCost, v.dailyCost)}</td></tr>
        <tr><th>${t('totalCostLimit')}</th><td data-testid="stats-remaining">${left(lim.totalCost, v.totalCost)}</td></tr>
        <tr><th>${t('weeklyOpusCostLimit')}</th><td>${left(lim.weeklyOpus, v.weeklyOpusCost)}</td></tr>
      </tbody></table><//></div>`;
}

export function KeyStats() {
  const [info, setInfo] = useState(null);
  const [err, setErr] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    const key = new FormData(e.target).get('key').trim();
    setErr(null);
    api('POST', '/apiStats/api/user-stats', { apiKey: key }, { quiet404: true, keyHolder: true })
      .then((r) => r || api('GET', '/api/v1/key-info', undefined, { key }))
      .then(setInfo, (x) => { setInfo(null); setErr(x); });
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
