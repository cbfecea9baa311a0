// chart.js - the one uPlot wrapper (requests, tokens and cost over time) the
// dashboard's trends and the per-key / per-account trend dialog both draw
// with, and that dialog (GET /admin/api-keys/:keyId/usage-trend,
// /admin/accounts/:accountId/usage-trend; docs/admin-stats-api.md).
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtNum, fmtShort, fmtUsd, Modal, ErrorBox, retentionDays } from './ui.js';

const total = (rows, f) => (rows || []).reduce((a, r) => a + (r[f] || 0), 0);

// One line chart of a trend's buckets: requests (left axis), tokens (right
// axis) and cost (legend only: a third axis crowds a card). data-points and
// data-requests say what was drawn (a canvas cannot be read back).
// Hour ticks: a midnight says which day it starts (a week of hours would
// otherwise read "00:00" seven times), the others their hour.
const hourLabels = (u, vals) => vals.map((v) => {
  const d = new Date(v * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return d.getUTCHours() === 0 ? `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}` : `${two(d.getUTCHours())}:00`;
});

export function TrendChart({ rows, hourly, testid }) {
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
          { label: t('tokens'), stroke: '#5b8def', width: 2, scale: 't', value: (u, v) => fmtShort(v) },
          { label: t('cost'), stroke: '#d08a2c', width: 1, dash: [4, 3], scale: 'c', value: (u, v) => (v === null ? '—' : fmtUsd(v)) }],
        axes: [{ stroke: fg, grid, values: hourly ? hourLabels : '{MM}-{DD}' },
          { scale: 'r', stroke: fg, grid, size: 50 },
          { scale: 't', side: 1, stroke: fg, grid: { show: false }, values: (u, vs) => vs.map(fmtShort), size: 50 }],
      },
      [xs, rows.map((r) => r.requests || 0), rows.map((r) => r.allTokens || 0), rows.map((r) => r.cost || 0)],
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
  return html`<div class="chart" ref=${ref} data-testid=${testid} data-points=${rows.length} data-requests=${total(rows, 'requests')}></div>`;
}

// The days a day trend covers: 30, or fewer when the relay keeps fewer.
export const trendDays = () => Math.min(30, retentionDays());

// The trend of one key or one account (base: its usage-trend path) by day
// (the last trendDays()) or by hour (the last 24 h), with the totals drawn.
export function TrendDialog({ title, base, onClose }) {
  const [gran, setGran] = useState('day');
  const { data, error, loading } = useLoad(
    () => api('GET', `${base}?granularity=${gran}&days=${gran === 'hour' ? 1 : trendDays()}`, undefined, { quiet404: true }),
    [base, gran],
  );
  const rows = data && data.data;
  return html`<${Modal} title=${t('trendOf', title)} onClose=${onClose} testid="trend-dialog">
    <div class="seg">${['day', 'hour'].map((g) => html`<button class=${gran === g ? 'active' : ''} data-testid=${'trend-' + g}
      onClick=${() => setGran(g)}>${g === 'day' ? t('lastDays', trendDays()) : t('last24h')}</button>`)}</div>
    <${ErrorBox} error=${error} />
    ${error ? '' : !data && loading ? html`<p class="muted">…</p>` : !rows ? html`<p class="notice">${t('statsMissing')}</p>`
      : html`<p class="muted small" data-testid="trend-total">${fmtNum(total(rows, 'requests'))} ${t('requests')} ·
          ${fmtShort(total(rows, 'allTokens'))} ${t('tokens')} · ${fmtUsd(total(rows, 'cost'))}</p>
        <${TrendChart} key=${gran} rows=${rows} hourly=${gran === 'hour'} testid="trend-chart" />`}
  <//>`;
}
