// dashboard.js - today / month / total requests, tokens by type and cost,
// trends by day and hour (uPlot), model distribution, top keys and account
// health. The statistics API (/admin/dashboard, /admin/usage-trend,
// /admin/model-stats) is optional: without it the page says so and shows the
// totals the key counters give.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { api, allAccounts, allKeys } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, Card, Stat, fmtNum, fmtUsd, fmtShort, fmtTime, accountState, Badge, ErrorBox } from './ui.js';

// Shapes: docs/admin-stats-api.md (the statistics API; optional in this build).
async function load() {
  const opt = (path) => api('GET', path, undefined, { quiet404: true });
  const [keys, accounts, dash] = await Promise.all([allKeys(), allAccounts(), opt('/admin/dashboard')]);
  let day = null, hour = null, models = null, ranking = null;
  if (dash)
    [day, hour, models, ranking] = await Promise.all([
      opt('/admin/usage-trend?granularity=day&days=14'), opt('/admin/usage-trend?granularity=hour&days=1'),
      opt('/admin/model-stats?period=monthly'), opt('/admin/cost-ranking?period=monthly&limit=5'),
    ]);
  const d = (r) => r && r.data;
  return { keys, accounts, dash: d(dash), day: d(day), hour: d(hour), models: d(models), ranking: d(ranking) };
}

function sum(keys, f) {
  return keys.reduce((a, k) => a + ((k.usage && k.usage[f]) || 0), 0);
}

// One uPlot line chart of requests and tokens over time.
function Trend({ rows, hourly }) {
  const ref = useRef();
  useEffect(() => {
    if (!rows || !rows.length || !ref.current) return undefined;
    // Buckets are labelled in the relay's time zone ("2026-12-02", "2026-12-02T09"): read
    // them as UTC and draw them as UTC, so the axis shows the relay's own labels.
    const xs = rows.map((r) => Date.parse(r.hour ? r.hour + ':00:00Z' : r.date + 'T00:00:00Z') / 1000);
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--fg').trim(), acc = css.getPropertyValue('--accent').trim();
    const grid = { stroke: css.getPropertyValue('--line').trim() };
    const plot = new uPlot(
      {
        width: ref.current.clientWidth || 300, height: 180,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
        series: [{}, { label: t('requests'), stroke: acc, fill: acc + '30', width: 2, scale: 'r' },
          { label: t('tokens'), stroke: '#5b8def', width: 2, scale: 't', value: (u, v) => fmtShort(v) }],
        axes: [{ stroke: fg, grid, values: hourly ? '{HH}:00' : '{MM}-{DD}' },
          { scale: 'r', stroke: fg, grid, size: 50 },
          { scale: 't', side: 1, stroke: fg, grid: { show: false }, values: (u, vs) => vs.map(fmtShort), size: 50 }],
      },
      [xs, rows.map((r) => r.requests || 0), rows.map((r) => r.allTokens || 0)],
      ref.current,
    );
    const resize = () => plot.setSize({ width: ref.current.clientWidth, height: 180 });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [rows]);
  if (!rows || !rows.length) return html`<p class="muted">${t('noData')}</p>`;
  return html`<div class="chart" ref=${ref}></div>`;
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

export function Dashboard() {
  const { data, error, reload } = useLoad(load);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">…</p>`;
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
  return html`
    <div class="toolbar"><h2>${t('dashboard')}</h2><span class="spacer"></span><button onClick=${reload}>${t('refresh')}</button></div>
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
      <${Card} title=${t('trendDay')}><${Trend} rows=${data.day} /><//>
      <${Card} title=${t('trendHour')}><${Trend} rows=${data.hour} hourly /><//>
      <${Card} title=${t('models')}><${Models} rows=${data.models} /><//>
      <${Card} title=${t('topKeys')} testid="dashboard-top-keys">
        <ol class="top">${top.map((k) => html`<li><b>${k.name}</b> <span class="muted">${k.text}</span></li>`)}</ol>
        ${!top.length && html`<p class="muted">${t('noData')}</p>`}<//>
    </div>`;
}
