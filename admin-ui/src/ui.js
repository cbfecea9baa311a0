// ui.js - shared pieces: the html tag, number/time formatting in the relay's
// time zone, and small components (cards, bars, modal, copy button, fields).
import { h } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import { t } from './i18n.js';

export const html = htm.bind(h);

// Client-side navigation under /web (main.js listens to popstate).
export function go(page) {
  history.pushState(null, '', '/web/' + page);
  dispatchEvent(new Event('popstate'));
}

// The relay's TIMEZONE_OFFSET (hours), from /admin/ui-settings; UTC until known.
let tzOffset = 0;
export const setTz = (h) => {
  tzOffset = Number(h) || 0;
};
export const tzLabel = () => 'UTC' + (tzOffset >= 0 ? '+' : '') + tzOffset;
// Today in the relay's time zone (YYYY-MM-DD), and the day n days before it.
export function relayDay(back = 0) {
  return new Date(Date.now() + tzOffset * 3600e3 - back * 86400e3).toISOString().slice(0, 10);
}

// The days of usage statistics the relay keeps (TOKEN_USAGE_RETENTION), from
// /admin/ui-settings; the relay's default until known.
let retention = 30;
export const setRetention = (d) => {
  retention = Number(d) > 0 ? Number(d) : 30;
};
export const retentionDays = () => retention;

export function fmtTime(v) {
  if (v === null || v === undefined || v === '' || v === 0) return '—';
  const d = new Date(typeof v === 'number' ? v : String(v));
  if (isNaN(d)) return String(v);
  return new Date(d.getTime() + tzOffset * 3600e3).toISOString().slice(0, 16).replace('T', ' ');
}
export const fmtNum = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));
// Cents for large sums; up to 4 decimals below $100 so small costs are not rounded away.
export function fmtUsd(n) {
  if (n === null || n === undefined) return '—';
  const v = Number(n);
  if (v >= 100) return '$' + v.toFixed(2);
  return '$' + v.toFixed(4).replace(/(\.\d\d[1-9]?)0+$/, '$1');
}
export function fmtShort(n) {
  n = Number(n) || 0;
  if (n >= 1e9) return (n / 1e9).toFixed(1) + 'B';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return String(n);
}

// useLoad(fn, deps): {data, error, loading, reload} for one async read. Only the
// latest read is shown: one started before it (other deps) that ends later is dropped.
export function useLoad(fn, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const latest = useRef(0);
  const reload = useCallback(() => {
    const n = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    return fn().then(
      (data) => n === latest.current && setState({ data, error: null, loading: false }),
      (error) => n === latest.current && setState({ data: null, error, loading: false }),
    );
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  return { ...state, reload };
}

export const Card = ({ title, children, testid, wide }) => html`
  <section class=${'card' + (wide ? ' wide' : '')} data-testid=${testid}>
    ${title && html`<h3>${title}</h3>`}${children}
  </section>`;

export const Stat = ({ label, value, sub, testid }) => html`
  <div class="stat"><div class="stat-label">${label}</div>
  <div class="stat-value" data-testid=${testid}>${value}</div>${sub && html`<div class="stat-sub">${sub}</div>`}</div>`;

// A usage bar: used of limit; no limit shows the number only.
export function Bar({ used, limit, fmt = fmtNum, label }) {
  if (!limit) return html`<span class="muted">${label ? label + ' ' : ''}${fmt(used)}</span>`;
  const pct = Math.min(100, (100 * (used || 0)) / limit);
  const cls = pct >= 90 ? 'bar hot' : pct >= 70 ? 'bar warm' : 'bar';
  return html`<div class="barwrap" title=${`${fmt(used)} / ${fmt(limit)}`}>
    ${label && html`<span class="barlabel">${label}</span>`}
    <div class=${cls}><i style=${{ width: pct + '%' }}></i></div>
    <span class="barnum">${fmt(used)} / ${fmt(limit)}</span></div>`;
}

export const Badge = ({ kind, children }) => html`<span class=${'badge ' + kind}>${children}</span>`;

// Escape closes: the listener is attached once, in a layout effect (before the
// browser delivers another event), and calls the latest onClose through a ref;
// re-attaching it after every render (an inline onClose) lost an early Escape.
export function Modal({ title, onClose, children, testid }) {
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const esc = (e) => e.key === 'Escape' && close.current();
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, []);
  return html`<div class="modal-bg" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="modal" role="dialog" aria-label=${title} data-testid=${testid}>
      <header><h2>${title}</h2><button class="ghost" aria-label=${t('close')} onClick=${onClose}>✕</button></header>
      ${children}
    </div></div>`;
}

export function CopyButton({ text, testid }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text);
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="small" data-testid=${testid} onClick=${copy}>${done ? t('copied') : t('copy')}</button>`;
}

// The server's 400 messages start with the field name ("tokenLimit must be
// ..."): return that name when it is one of the form's fields.
export function fieldOf(message, names) {
  const m = /^([A-Za-z]+)/.exec(message || '');
  if (m && names.includes(m[1])) return m[1];
  return names.find((n) => new RegExp('\\b' + n + '\\b').test(message || '')) || null;
}

export function Field({ name, label, hint, error, children }) {
  return html`<label class=${'field' + (error ? ' invalid' : '')} data-field=${name}>
    <span class="flabel">${label}</span>${children}
    ${error ? html`<span class="ferr" data-testid=${'error-' + name}>${error}</span>` : hint && html`<span class="fhint">${hint}</span>`}
  </label>`;
}

export const ErrorBox = ({ error }) => (error ? html`<p class="error" role="alert">${error.message || String(error)}</p>` : null);

export function download(name, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// States (docs/architecture.md "Account health"): active; temp_error,
// overloaded, rate_limited cool down until statusUntil; unauthorized and
// blocked wait for an admin reset (a timed block has a statusUntil too).
export function accountState(a) {
  if (a.isActive === false) return { kind: 'off', label: t('disabled') };
  const st = a.status || 'active';
  if (st === 'active') return a.schedulable === false ? { kind: 'off', label: t('paused') } : { kind: 'ok', label: t('active') };
  if (a.statusUntil || ['temp_error', 'overloaded', 'rate_limited'].includes(st))
    return { kind: 'warn', label: t('cooling') + ' · ' + st, until: a.statusUntil };
  return { kind: 'bad', label: t('error') + ' · ' + st };
}
