// dashboard.js - today / month / total requests, tokens by type and cost,
// trends by day and hour (uPlot, chart.js), model distribution, top keys and
// account health. A range selector (today, 7 or 30 days, or dates of one's
// own) drives the trends and the model distribution; auto-refresh (off, 30 s,
// 60 s; localStorage) reloads the page while it is shown. The statistics API
// (/admin/dashboard, /admin/usage-trend, /admin/model-stats) is optional:
// without it the page says so and shows the totals the key counters give.
import { useEffect, useState } from 'preact/hooks';
import { api, allAccounts, allKeys } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, Card, Stat, fmtNum, fmtUsd, fmtShort, fmtTime, accountState, Badge, ErrorBox, relayDay, retentionDays } from './ui.js';
import { TrendChart } from './chart.js';

const HOUR_DAYS = 7; // hours are kept 7 days (docs/admin-stats-api.md "Retention")
const REFRESH = 'relayDashRefresh';
const REFRESH_CHOICES = [0, 30, 60]; // seconds; 0 = off

// The queries of one range: range.kind today | 7d | 30d (the last days up to
// the relay's now) or custom (range.start .. range.end, the relay's dates).
// Hours: the last 24 h, the last 7 days, or the custom days within the hours kept.
function rangeQueries(range) {
  const days = { today: 1, '7d': Math.min(7, retentionDays()), '30d': Math.min(30, retentionDays()) }[range.kind];
  if (days)
    return {
      day: `granularity=day&days=${days}`, hour: `granularity=hour&days=${Math.min(days, HOUR_DAYS)}`,
      models: days === 1 ? 'period=daily' : `days=${days}`,
    };
  const dates = (a, b) => `startDate=${a}&endDate=${b}`;
  const oldestHour = relayDay(HOUR_DAYS - 1), weekBefore = shiftDay(range.end, -(HOUR_DAYS - 1));
  const hourStart = [range.start, oldestHour, weekBefore].sort().at(-1);
  return {
    day: 'granularity=day&' + dates(range.start, range.end),
    hour: range.end >= oldestHour ? 'granularity=hour&' + dates(hourStart, range.end) : null,
    models: dates(range.start, range.end),
  };
}

function shiftDay(day, n) {
  return new Date(Date.parse(day + 'T00:00:00Z') + n * 86400e3).toISOString().slice(0, 10);
}

// Shapes: docs/admin-stats-api.md (the statistics API; optional in this build).
async function load(range) {
  const opt = (path) => api('GET', path, undefined, { quiet404: true });
  const [keys, accounts, dash] = await Promise.all([allKeys(), allAccounts(), opt('/admin/dashboard')]);
  let day = null, hour = null, models = null, ranking = null;
  const q = rangeQueries(range);
  if (dash)
    [day, hour, models, ranking] = await Promise.all([
      opt('/admin/usage-trend?' + q.day), q.hour ? opt('/admin/usage-trend?' + q.hour) : null,
      opt('/admin/model-stats?' + q.models), opt('/admin/cost-ranking?period=monthly&limit=5'),
    ]);
  const d = (r) => r && r.data;
  return { keys, accounts, dash: d(dash), day: d(day), hour: d(hour), models: d(models), ranking: d(ranking) };
}

function sum(keys, f) {
  return keys.reduce((a, k) => a + ((k.usage && k.usage[f]) || 0), 0);
}

function Models({ rows }) {
  if (!rows || !rows.length) return html`<p class="muted">${t('noData')}</p>`;
  const total = rows.reduce((a, r) => a + (r.allTokens || 0), 0) || 1;
  return html`<ul class="shares">${rows.slice(0, 8).map((r) => html`<li>
    <span class="share-name">${r.model}</span><div class="bar"><i style=${{ width: (100 * (r.allTokens || 0)) / total + '%' }}></i></div>
    <span class="barnum">${((100 * (r.allTokens || 0)) / total).toFixed(1)}% · ${fmtUsd(r.cost)}</span></li>`)}</ul>`;
}

function Health({ accounts }) {
  if (!accounts.length) return html`<p class="muted">${t('noData')}</p>`;
  return html`<ul class="health">${accounts.map((a) => {
    const s = accountState(a);
    return html`<li><${Badge} kind=${s.kind}>${s.label}<//> <b>${a.name}</b> <span class="muted">${a._type.label}</span>
      ${s.until && html`<span class="muted"> · ${t('until')} ${fmtTime(s.until)}</span>`}
      ${a.statusReason && html`<div class="muted small">${t('reason')}: ${a.statusReason}</div>`}</li>`;
  })}</ul>`;
}

// Reload every `every` seconds while the page is shown: stopped while the tab is
// hidden (reloaded at once when it shows again) and when the page is left (the
// effect's cleanup), so no timer outlives the dashboard.
function useAutoRefresh(every, reload) {
  useEffect(() => {
    if (!every) return undefined;
    let id = null;
    const start = () => {
      if (id === null && !document.hidden) id = setInterval(reload, every * 1000);
    };
    const stop = () => {
      clearInterval(id);
      id = null;
    };
    const vis = () => {
      if (document.hidden) return stop();
      reload();
      return start();
    };
    document.addEventListener('visibilitychange', vis);
    start();
    return () => {
      stop();
      document.removeEventListener('visibilitychange', vis);
    };
  }, [every, reload]);
}

function storedRefresh() {
  const v = Number(localStorage.getItem(REFRESH));
  return REFRESH_CHOICES.includes(v) ? v : 0;
}

const rangeLabel = (r) => (r.kind === 'custom' ? `${r.start} – ${r.end}` : r.kind === 'today' ? t('rangeToday') : t('lastDays', r.kind === '7d' ? 7 : Math.min(30, retentionDays())));

// The range select (and, for a custom range, the relay's dates within what it keeps) and auto-refresh.
function Toolbar({ range, setRange, every, setEvery, reload }) {
  const pick = (e) => {
    const kind = e.target.value;
    setRange(kind === 'custom' ? { kind, start: relayDay(Math.min(HOUR_DAYS, retentionDays()) - 1), end: relayDay(0) } : { kind });
  };
  const date = (k) => (e) => e.target.value && setRange({ ...range, [k]: e.target.value });
  const lim = { min: relayDay(retentionDays() - 1), max: relayDay(0) };
  const refresh = (e) => {
    const v = Number(e.target.value);
    localStorage.setItem(REFRESH, String(v));
    setEvery(v);
  };
  return html`<div class="toolbar"><h2>${t('dashboard')}</h2><span class="spacer"></span>
    <select value=${range.kind} onChange=${pick} data-testid="dashboard-range" aria-label=${t('range')}>
      ${['today', '7d', '30d', 'custom'].map((k) => html`<option value=${k}>${k === 'custom' ? t('rangeCustom') : rangeLabel({ kind: k })}</option>`)}</select>
    ${range.kind === 'custom' && html`<input type="date" value=${range.start} ...${lim} onChange=${date('start')} data-testid="dashboard-start" aria-label=${t('from')} />
      <input type="date" value=${range.end} ...${lim} onChange=${date('end')} data-testid="dashboard-end" aria-label=${t('to')} />`}
    <label class="inline-label">${t('autoRefresh')}
      <select value=${every} onChange=${refresh} data-testid="dashboard-autorefresh">
        ${REFRESH_CHOICES.map((v) => html`<option value=${v}>${v ? t('seconds', v) : t('off')}</option>`)}</select></label>
    <button onClick=${reload}>${t('refresh')}</button></div>`;
}

export function Dashboard() {
  const [range, setRange] = useState({ kind: '7d' });
  const [every, setEvery] = useState(storedRefresh);
  const { data, error, reload } = useLoad(() => load(range), [range.kind, range.start, range.end]);
  useAutoRefresh(every, reload);
  const bar = html`<${Toolbar} range=${range} setRange=${setRange} every=${every} setEvery=${setEvery} reload=${reload} />`;
  if (error) return html`${bar}<${ErrorBox} error=${error} />`;
  if (!data) return html`${bar}<p class="muted">…</p>`;
  const { keys, accounts, dash } = data;
  const today = dash && dash.today, month = dash && dash.month;
  // Lifetime totals: the statistics API, else the sum of the key counters.
  const tot = (dash && dash.total) || {
    requests: sum(keys, 'requests'), inputTokens: sum(keys, 'inputTokens'), outputTokens: sum(keys, 'outputTokens'),
    cacheCreateTokens: sum(keys, 'cacheCreateTokens'), cacheReadTokens: sum(keys, 'cacheReadTokens'),
  };
  const tok = { input: tot.inputTokens, output: tot.outputTokens, cc: tot.cacheCreateTokens, cr: tot.cacheReadTokens };
  const totalReq = tot.requests;
  const top = data.ranking
    ? data.ranking.keys.map((k) => ({ name: k.name, text: fmtUsd(k.cost) + ' · ' + fmtNum(k.requests) + ' ' + t('requests') }))
    : [...keys].sort((a, b) => (b.usage?.allTokens || 0) - (a.usage?.allTokens || 0)).slice(0, 5)
      .map((k) => ({ name: k.name, text: fmtNum(k.usage?.allTokens) + ' ' + t('tokens') }));
  const hourTitle = t('trendHour') + ' · ' + (range.kind === 'today' ? t('last24h') : range.kind === 'custom' ? rangeLabel(range) : t('lastDays', HOUR_DAYS));
  return html`${bar}
    ${!dash && html`<p class="notice" data-testid="stats-missing">${t('statsMissing')}</p>`}
    <div class="stats">
      <${Stat} label=${t('requestsToday')} value=${fmtNum(today ? today.requests : null)} testid="dashboard-requests-today"
        sub=${today && fmtShort(today.allTokens) + ' ' + t('tokens')} />
      <${Stat} label=${t('costToday')} value=${fmtUsd(today ? today.cost : null)} testid="dashboard-cost-today" />
      <${Stat} label=${t('requestsMonth')} value=${fmtNum(month ? month.requests : null)} testid="dashboard-requests-month"
        sub=${month && fmtUsd(month.cost)} />
      <${Stat} label=${t('requestsTotal')} value=${fmtNum(totalReq)} testid="dashboard-requests-total" />
      <${Stat} label=${t('costTotal')} value=${fmtUsd(dash ? dash.total.cost : null)} testid="dashboard-cost-total" />
      ${dash && dash.realtimeMetrics && html`<${Stat} label="RPM / TPM" value=${dash.realtimeMetrics.rpm + ' / ' + fmtShort(dash.realtimeMetrics.tpm)}
        sub=${dash.realtimeMetrics.windowMinutes + ' min'} testid="dashboard-rpm" />`}
    </div>
    <div class="grid">
      <${Card} title=${t('tokensByType')} testid="dashboard-tokens">
        <table class="kv"><tbody>
          <tr><th>${t('input')}</th><td data-testid="tokens-input">${fmtNum(tok.input)}</td></tr>
          <tr><th>${t('output')}</th><td data-testid="tokens-output">${fmtNum(tok.output)}</td></tr>
          <tr><th>${t('cacheCreate')}</th><td>${fmtNum(tok.cc)}</td></tr>
          <tr><th>${t('cacheRead')}</th><td>${fmtNum(tok.cr)}</td></tr>
          <tr><th>${t('total')}</th><td><b>${fmtNum(tok.input + tok.output + tok.cc + tok.cr)}</b></td></tr>
        </tbody></table><//>
      <${Card} title=${t('accountHealth')} testid="dashboard-health"><${Health} accounts=${accounts} /><//>
      <${Card} title=${t('trendDay') + ' · ' + rangeLabel(range)} testid="dashboard-trend-day"><${TrendChart} rows=${data.day} /><//>
      <${Card} title=${hourTitle} testid="dashboard-trend-hour">${data.hour || !dash ? html`<${TrendChart} rows=${data.hour} hourly />`
        : html`<p class="muted">${t('hoursKept', HOUR_DAYS)}</p>`}<//>
      <${Card} title=${t('models') + ' · ' + rangeLabel(range)} testid="dashboard-models"><${Models} rows=${data.models} /><//>
      <${Card} title=${t('topKeys')} testid="dashboard-top-keys">
        <ol class="top">${top.map((k) => html`<li><b>${k.name}</b> <span class="muted">${k.text}</span></li>`)}</ol>
        ${!top.length && html`<p class="muted">${t('noData')}</p>`}<//>
    </div>`;
}
