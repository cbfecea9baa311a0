// accounts.js - every account type in one list (state, cooldown reason and
// until-when, priority, group), adding accounts of the six types (the OAuth
// kinds - Claude, OpenAI ChatGPT, Gemini - through one PKCE component; the
// API-key kinds - Console, OpenAI Responses, Gemini API - through one form
// driven by ACCOUNT_TYPES), editing, reset, pause, test (one small request
// through exactly that account, unbilled), its trend by day or hour; account
// groups.
import { useState } from 'preact/hooks';
import { api, allAccounts, ACCOUNT_TYPES } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtNum, fmtTime, fmtUsd, Badge, Modal, Field, fieldOf, accountState, ErrorBox } from './ui.js';
import { TrendDialog } from './chart.js';

// Today's usage of one account (the statistics API; null without it).
const todayOf = (a) => api('GET', `/admin/accounts/${a.id}/usage-trend?granularity=day&days=1`, undefined, { quiet404: true })
  .then((r) => (r && r.data.length ? r.data[r.data.length - 1] : null));

async function load() {
  const [accounts, groups] = await Promise.all([allAccounts(), api('GET', '/admin/account-groups').then((r) => r.data || [])]);
  const today = await Promise.all(accounts.map(todayOf));
  accounts.forEach((a, i) => {
    a._today = today[i];
  });
  const members = await Promise.all(groups.map((g) => api('GET', `/admin/account-groups/${g.id}/members`).then((r) => r.data || [])));
  const groupOf = {};
  groups.forEach((g, i) => {
    g.members = members[i];
    for (const m of members[i]) groupOf[m.id || m] = g.name;
  });
  return { accounts, groups, groupOf };
}

const FIELDS = ['name', 'description', 'priority', 'apiUrl', 'baseApi', 'baseUrl', 'projectId', 'apiKey', 'dailyQuota', 'maxConcurrentTasks',
  'rateLimitDuration', 'supportedModels', 'sessionId', 'authorizationCode', 'callbackUrl', 'userAgent'];

// Name / priority / description, shared by every add and edit form.
function Common({ a = {}, errs }) {
  return html`<div class="row2">
    <${Field} name="name" label=${t('name')} error=${errs.name}><input name="name" required maxlength="100" value=${a.name || ''} data-testid="account-name" /><//>
    <${Field} name="priority" label=${t('priority') + ' (1–100)'} error=${errs.priority}><input name="priority" type="number" min="1" max="100" value=${a.priority ?? 50} data-testid="account-priority" /><//></div>
    <${Field} name="description" label=${t('description')} error=${errs.description}><input name="description" maxlength="500" value=${a.description || ''} /><//>`;
}

function useSubmit(run, onDone) {
  const [errs, setErrs] = useState({});
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setErrs({});
    setErr(null);
    setBusy(true);
    try {
      onDone(await run(new FormData(e.target)));
    } catch (x) {
      const f = fieldOf(x.message, FIELDS);
      if (f && f !== 'sessionId') setErrs({ [f]: x.message });
      else setErr(x);
    } finally {
      setBusy(false);
    }
  };
  return { errs, err, busy, submit };
}

const common = (f) => ({ name: f.get('name'), description: f.get('description'), priority: Number(f.get('priority') || 50) });

// Gemini's optional Google Cloud project (empty: the relay learns one from loadCodeAssist).
function Project({ a = {}, errs }) {
  return html`<${Field} name="projectId" label=${t('projectId')} error=${errs.projectId} hint=${t('projectHint')}>
    <input name="projectId" maxlength="200" value=${a.projectId || ''} data-testid="account-project" /><//>`;
}

// The OAuth kinds (PKCE) and the Claude setup token: get a link, open it,
// paste the code or the callback URL. The tokens never reach the browser.
function OAuthFlow({ type, setup, onDone }) {
  const [flow, setFlow] = useState(null);
  const [linkErr, setLinkErr] = useState(null);
  const gen = setup ? 'generate-setup-token-url' : 'generate-auth-url';
  const exch = setup ? 'exchange-setup-token-code' : 'exchange-code';
  const base = `/admin/${type.path}/`;
  const start = () => api('POST', base + gen, {}).then((r) => setFlow(r.data), setLinkErr);
  const { errs, err, busy, submit } = useSubmit((f) => {
    const v = String(f.get('code') || '').trim();
    const body = { ...common(f), sessionId: flow.sessionId, ...(v.startsWith('http') ? { callbackUrl: v } : { authorizationCode: v }) };
    if (type.project) body.projectId = String(f.get('projectId') || '').trim();
    return api('POST', base + exch, body);
  }, onDone);
  if (!flow)
    return html`<p class="muted">${t('step1')}</p><${ErrorBox} error=${linkErr} />
      <button class="primary" onClick=${start} data-testid="oauth-start">${t('getLink')}</button>`;
  return html`<form class="form" onSubmit=${submit} novalidate>
    <p>${t('step1')}</p>
    <p><a class="button" href=${flow.authUrl} target="_blank" rel="noopener noreferrer" data-testid="oauth-link">${t('openLink')} ↗</a></p>
    <p>${t('step2')}</p>
    <${Field} name="authorizationCode" label=${t('codeOrUrl')} error=${errs.authorizationCode || errs.callbackUrl}>
      <input name="code" required data-testid="oauth-code" autocomplete="off" /><//>
    <${Common} errs=${errs} />
    ${type.project && html`<${Project} errs=${errs} />`}
    <${ErrorBox} error=${err} />
    <div class="actions"><button type="submit" class="primary" disabled=${busy} data-testid="account-save">${t('finish')}</button></div></form>`;
}

// The API-key kinds: URL (type.url) + API key (blank on edit = unchanged).
function KeyAccountForm({ type, a, onDone }) {
  const urlField = type.url;
  const { errs, err, busy, submit } = useSubmit((f) => {
    const body = { ...common(f), [urlField]: String(f.get(urlField) || '').trim(), dailyQuota: Number(f.get('dailyQuota') || 0),
      maxConcurrentTasks: Number(f.get('maxConcurrentTasks') || 0), rateLimitDuration: Number(f.get('rateLimitDuration') || 0) };
    if (f.get('apiKey')) body.apiKey = f.get('apiKey');
    return a ? api('PUT', `/admin/${type.path}/${a.id}`, body) : api('POST', '/admin/' + type.path, body);
  }, onDone);
  return html`<form class="form" onSubmit=${submit} novalidate>
    <${Common} a=${a} errs=${errs} />
    <${Field} name=${urlField} label=${t('apiUrl')} error=${errs[urlField]}>
      <input name=${urlField} required=${type.urlRequired} value=${(a && a[urlField]) || ''} placeholder=${type.placeholder} data-testid="account-url" /><//>
    <${Field} name="apiKey" label=${t('apiKey')} error=${errs.apiKey} hint=${a ? a.apiKeyPreview : ''}>
      <input name="apiKey" type="password" autocomplete="off" required=${!a} data-testid="account-key" /><//>
    <div class="row3">
      <${Field} name="dailyQuota" label="Daily quota (USD)" error=${errs.dailyQuota}><input name="dailyQuota" type="number" step="0.01" min="0" value=${a ? a.dailyQuota : ''} /><//>
      <${Field} name="maxConcurrentTasks" label="Max concurrent" error=${errs.maxConcurrentTasks}><input name="maxConcurrentTasks" type="number" min="0" value=${a ? a.maxConcurrentTasks : ''} /><//>
      <${Field} name="rateLimitDuration" label="429 cooldown (min)" error=${errs.rateLimitDuration}><input name="rateLimitDuration" type="number" min="0" value=${a ? a.rateLimitDuration : 60} /><//></div>
    <${ErrorBox} error=${err} />
    <div class="actions"><button type="submit" class="primary" disabled=${busy} data-testid="account-save">${a ? t('save') : t('finish')}</button></div></form>`;
}

// The read-only facts an OAuth account learnt from its sign-in (plan, ids, e-mail).
function Info({ a }) {
  const rows = (a._type.info || []).filter((k) => a[k]);
  return rows.length ? html`<table class="kv" data-testid="account-info"><tbody>${rows.map((k) => html`<tr><th>${t('f_' + k)}</th><td>${a[k]}</td></tr>`)}</tbody></table>` : '';
}

// Edit an OAuth account: name, priority, description (and Gemini's project);
// the tokens come from the flow only.
function OAuthEdit({ a, onDone }) {
  const { errs, err, busy, submit } = useSubmit((f) => {
    const body = common(f);
    if (a._type.project) body.projectId = String(f.get('projectId') || '').trim();
    return api('PUT', `/admin/${a._type.path}/${a.id}`, body);
  }, onDone);
  return html`<form class="form" onSubmit=${submit} novalidate><${Info} a=${a} /><${Common} a=${a} errs=${errs} />
    ${a._type.project && html`<${Project} a=${a} errs=${errs} />`}<${ErrorBox} error=${err} />
    <div class="actions"><button type="submit" class="primary" disabled=${busy} data-testid="account-save">${t('save')}</button></div></form>`;
}

// The add dialog's kinds: [testid suffix, label, admin path, setup token?].
const KINDS = [
  ['oauth', 'claudeOauth', 'claude-accounts'], ['setup', 'setupToken', 'claude-accounts', true],
  ['console', 'console', 'claude-console-accounts'], ['openai', 'openaiOauth', 'openai-accounts'],
  ['openai-responses', 'openaiResponses', 'openai-responses-accounts'], ['gemini', 'geminiOauth', 'gemini-accounts'],
  ['gemini-api', 'geminiApi', 'gemini-api-accounts'],
];

function AddAccount({ onClose, onDone }) {
  const [kind, setKind] = useState('oauth');
  const [, , path, setup] = KINDS.find((k) => k[0] === kind);
  const type = ACCOUNT_TYPES.find((x) => x.path === path);
  return html`<${Modal} title=${t('addAccount')} onClose=${onClose} testid="account-form">
    <div class="seg">${KINDS.map(([k, l]) => html`<button class=${kind === k ? 'active' : ''} data-testid=${'account-kind-' + k} onClick=${() => setKind(k)}>${t(l)}</button>`)}</div>
    ${type.oauth ? html`<${OAuthFlow} key=${kind} type=${type} setup=${!!setup} onDone=${onDone} />` : html`<${KeyAccountForm} key=${kind} type=${type} onDone=${onDone} />`}
  <//>`;
}

function Groups({ data, reload }) {
  const [err, setErr] = useState(null);
  const run = (fn) => () => fn().then(reload, setErr);
  const add = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    api('POST', '/admin/account-groups', { name: f.get('name'), platform: 'claude', description: f.get('description') || '' })
      .then(() => { e.target.reset(); reload(); }, setErr);
  };
  const claude = data.accounts.filter((a) => a.platform === 'claude-official' || a.platform === 'claude-console');
  return html`<h3>${t('groups')}</h3><${ErrorBox} error=${err} />
    <form class="row inline" onSubmit=${add}><input name="name" placeholder=${t('name')} required maxlength="100" data-testid="group-name" />
      <input name="description" placeholder=${t('description')} maxlength="500" /><button type="submit" data-testid="group-add">${t('addGroup')}</button></form>
    <div class="grid">${data.groups.map((g) => html`<section class="card" data-testid="group"><h3>${g.name} <span class="muted small">${g.platform}</span></h3>
      <ul class="plain">${g.members.map((m) => {
        const id = m.id || m;
        const a = data.accounts.find((x) => x.id === id);
        return html`<li>${a ? a.name : id} <button class="small ghost" onClick=${run(() => api('DELETE', `/admin/account-groups/${g.id}/members/${id}`))}>✕</button></li>`;
      })}</ul>
      <select onChange=${(e) => e.target.value && run(() => api('POST', `/admin/account-groups/${g.id}/members`, { accountId: e.target.value }))()}>
        <option value="">+ ${t('members')}</option>${claude.filter((a) => !g.members.some((m) => (m.id || m) === a.id)).map((a) => html`<option value=${a.id}>${a.name}</option>`)}</select>
      <p><button class="small danger" onClick=${run(() => api('DELETE', '/admin/account-groups/' + g.id))}>${t('delete')}</button></p></section>`)}</div>`;
}

// The last test of an account: OK with the latency and the answer's text, or the error.
function TestResult({ r }) {
  if (r === 'busy') return html`<div class="muted small" data-testid="account-test-result">${t('testing')}</div>`;
  const what = r.ok ? `${t('testOk')} · ${r.latencyMs} ms · ${r.model}` : `${t('testFailed')}${r.status ? ' · HTTP ' + r.status : ''}`;
  return html`<div class="small" data-testid="account-test-result" data-ok=${r.ok ? 'true' : 'false'}>
    <${Badge} kind=${r.ok ? 'ok' : 'bad'}>${what}<//> <span class="muted">${r.ok ? r.text : r.error}</span></div>`;
}

// Under the name: where an API-key account points, or what an OAuth one is.
const subline = (a) => (a._type.url ? a[a._type.url] || '' : (a._type.info || []).map((k) => a[k]).filter(Boolean).join(' · '));

export function Accounts() {
  const { data, error, reload } = useLoad(load);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState(null);
  const [actErr, setActErr] = useState(null);
  const [tests, setTests] = useState({}); // account id -> 'busy' or its test's data
  const [trend, setTrend] = useState(null); // the account whose trend is open
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">…</p>`;
  const act = (fn) => () => fn().then(reload, setActErr);
  const runTest = (a) => async () => {
    setTests((m) => ({ ...m, [a.id]: 'busy' }));
    const r = await api('POST', `/admin/${a._type.path}/${a.id}/test`, {}).then((x) => x.data, (x) => ({ ok: false, status: 0, error: x.message }));
    setTests((m) => ({ ...m, [a.id]: r }));
    if (!r.ok) reload(); // the provider may have marked the account (a 401: unauthorized)
  };
  const done = () => {
    setAdding(false);
    setEditing(null);
    reload();
  };
  const sorted = [...data.accounts].sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  return html`
    <div class="toolbar"><h2>${t('accounts')}</h2><span class="spacer"></span>
      <button onClick=${reload}>${t('refresh')}</button>
      <button class="primary" data-testid="account-add" onClick=${() => setAdding(true)}>${t('addAccount')}</button></div>
    <${ErrorBox} error=${actErr} />
    <div class="table-wrap"><table class="list" data-testid="account-list"><thead><tr>
      <th>${t('name')}</th><th>${t('type')}</th><th>${t('state')}</th><th>${t('priority')}</th><th>${t('group')}</th><th>${t('today')}</th><th>${t('lastUsed')}</th><th>${t('actions')}</th></tr></thead>
    <tbody>${sorted.map((a) => {
      const s = accountState(a);
      return html`<tr data-testid="account-row" data-name=${a.name}>
        <td data-label=${t('name')}><b>${a.name}</b><div class="muted small">${subline(a)}</div></td>
        <td data-label=${t('type')}>${a._type.label}</td>
        <td data-label=${t('state')}><${Badge} kind=${s.kind}>${s.label}<//>
          ${s.until && html`<div class="muted small">${t('until')} ${fmtTime(s.until)}</div>`}
          ${a.statusReason && html`<div class="muted small">${a.statusReason}</div>`}
          ${a.quotaStoppedUntil && html`<div class="muted small">quota ${fmtUsd(a.dailyQuota)} · ${t('until')} ${fmtTime(a.quotaStoppedUntil)}</div>`}
          ${tests[a.id] && html`<${TestResult} r=${tests[a.id]} />`}</td>
        <td data-label=${t('priority')}>${a.priority}</td>
        <td data-label=${t('group')}>${data.groupOf[a.id] || '—'}</td>
        <td data-label=${t('today')} data-testid="account-today">${a._today ? html`${fmtNum(a._today.requests)} ${t('requests')}<div class="muted small">${fmtUsd(a._today.cost)}</div>` : '—'}</td>
        <td data-label=${t('lastUsed')}>${fmtTime(a.lastUsedAt)}</td>
        <td class="row-actions">
          <button class="small" data-testid="account-trend" onClick=${() => setTrend(a)}>${t('trend')}</button>
          <button class="small" onClick=${() => setEditing(a)}>${t('edit')}</button>
          <button class="small" data-testid="account-test" title=${t('testHint')} disabled=${tests[a.id] === 'busy'} onClick=${runTest(a)}>${t('test')}</button>
          <button class="small" data-testid="account-toggle" onClick=${act(() => api('PUT', `/admin/${a._type.path}/${a.id}/toggle-schedulable`))}>${a.schedulable ? t('pause') : t('resume')}</button>
          ${a.status && a.status !== 'active' && html`<button class="small" data-testid="account-reset" onClick=${act(() => api('POST', `/admin/${a._type.path}/${a.id}/reset-status`))}>${t('resetStatus')}</button>`}
          <button class="small danger" onClick=${act(async () => { if (confirm(t('confirmDelete', a.name))) await api('DELETE', `/admin/${a._type.path}/${a.id}`); })}>${t('delete')}</button>
        </td></tr>`;
    })}${!sorted.length && html`<tr><td colspan="8" class="muted">${t('noData')}</td></tr>`}</tbody></table></div>
    <${Groups} data=${data} reload=${reload} />
    ${adding && html`<${AddAccount} onClose=${() => setAdding(false)} onDone=${done} />`}
    ${trend && html`<${TrendDialog} title=${trend.name} base=${`/admin/accounts/${trend.id}/usage-trend`} onClose=${() => setTrend(null)} />`}
    ${editing && html`<${Modal} title=${t('edit') + ' · ' + editing.name} onClose=${() => setEditing(null)}>
      ${editing._type.oauth ? html`<${OAuthEdit} a=${editing} onDone=${done} />` : html`<${KeyAccountForm} type=${editing._type} a=${editing} onDone=${done} />`}<//>`}`;
}
