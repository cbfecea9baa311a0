// keys.js - the API key list (search, sort, usage and limits), the secret
// shown once with ready-to-paste client settings, and the key actions (a
// key's trend by day or hour among them).
import { useMemo, useState } from 'preact/hooks';
import { api, allAccounts, allKeys } from './api.js';
import { t } from './i18n.js';
import { html, useLoad, fmtNum, fmtShort, fmtTime, fmtUsd, Badge, Bar, Modal, CopyButton, ErrorBox, download } from './ui.js';
import { KeyForm } from './keyform.js';
import { TrendDialog } from './chart.js';

// Costs per key (today, lifetime) for the limit bars, from the statistics API's
// cost ranking when this relay has it (docs/admin-stats-api.md); else none.
async function costs() {
  const rank = (period) => api('GET', `/admin/cost-ranking?period=${period}&limit=100`, undefined, { quiet404: true });
  const [today, all] = await Promise.all([rank('today'), rank('all')]);
  if (!today || !all) return null;
  const by = (r) => Object.fromEntries(r.data.keys.map((k) => [k.keyId, k.cost]));
  return { today: by(today), all: by(all) };
}

async function load() {
  const [keys, deleted, accounts, groups, cost] = await Promise.all([
    allKeys(), api('GET', '/admin/api-keys/deleted').then((r) => r.apiKeys || []), allAccounts(),
    api('GET', '/admin/account-groups').then((r) => r.data || []), costs(),
  ]);
  return { keys, deleted, accounts, groups, cost };
}

function CostBars({ k, cost }) {
  if (!cost) return null;
  const today = cost.today[k.id] || 0, all = cost.all[k.id] || 0;
  return html`${k.dailyCostLimit > 0 && html`<${Bar} label=${t('today')} used=${today} limit=${k.dailyCostLimit} fmt=${fmtUsd} />`}
    ${k.totalCostLimit > 0 && html`<${Bar} label=${t('total')} used=${all} limit=${k.totalCostLimit} fmt=${fmtUsd} />`}
    ${!k.dailyCostLimit && !k.totalCostLimit && html`<div class="muted small">${fmtUsd(all)}</div>`}`;
}

function limitsOf(k) {
  const out = [];
  if (k.rateLimitRequests) out.push(`${fmtNum(k.rateLimitRequests)} req/${k.rateLimitWindow || 1}m`);
  if (k.tokenLimit) out.push(`${fmtShort(k.tokenLimit)} tok/${k.rateLimitWindow || 1}m`);
  if (k.rateLimitCost) out.push(`${fmtUsd(k.rateLimitCost)}/${k.rateLimitWindow || 1}m`);
  if (k.concurrencyLimit) out.push(`${k.concurrencyLimit}×`);
  if (k.dailyCostLimit) out.push(`${fmtUsd(k.dailyCostLimit)}/day`);
  if (k.totalCostLimit) out.push(`${fmtUsd(k.totalCostLimit)} total`);
  if (k.weeklyOpusCostLimit) out.push(`Opus ${fmtUsd(k.weeklyOpusCostLimit)}/wk`);
  return out;
}

// Ready-to-paste settings for this relay, as README's client section writes
// them (each run against the relay there: Codex CLI 0.169, Gemini CLI 0.61).
export function clientSettings(key) {
  const base = location.origin;
  const codex = ['model_provider = "crs"', 'model = "gpt-5-codex"', 'model_reasoning_effort = "high"', 'disable_response_storage = true',
    'preferred_auth_method = "apikey"', '', '[model_providers.crs]', 'name = "crs"', `base_url = "${base}/openai"`, 'wire_api = "responses"',
    'requires_openai_auth = true', 'env_key = "CRS_OAI_KEY"', '', '# shell:', `export CRS_OAI_KEY=${key}`];
  return [
    ['Claude Code', `export ANTHROPIC_BASE_URL=${base}/api\nexport ANTHROPIC_AUTH_TOKEN=${key}\nclaude`],
    ['Codex CLI (~/.codex/config.toml)', codex.join('\n')],
    ['Gemini CLI (API key; a gemini-api account)', `# ~/.gemini/settings.json: {"security":{"auth":{"selectedType":"gemini-api-key"}}}\nexport GOOGLE_GEMINI_BASE_URL=${base}/gemini\nexport GEMINI_API_KEY=${key}\ngemini`],
    ['Gemini CLI (Code Assist; a Google sign-in account)', `# ~/.gemini/settings.json: {"security":{"auth":{"selectedType":"oauth-personal"}}}\nexport CODE_ASSIST_ENDPOINT=${base}/gemini\nexport GOOGLE_CLOUD_ACCESS_TOKEN=${key}\nexport GOOGLE_GENAI_USE_GCA=true\ngemini`],
  ];
}

function Secret({ keys, onClose }) {
  const first = keys[0];
  return html`<${Modal} title=${first.name} onClose=${onClose} testid="key-secret-modal">
    <p class="notice">${t('secretOnce')}</p>
    ${keys.length === 1
      ? html`<div class="secret"><code data-testid="key-secret">${first.apiKey}</code><${CopyButton} text=${first.apiKey} testid="key-copy" /></div>
        <h3>${t('clientSettings')}</h3>
        ${clientSettings(first.apiKey).map(([label, text]) => html`<div class="snippet"><div class="snippet-head"><b>${label}</b><${CopyButton} text=${text} /></div><pre>${text}</pre></div>`)}`
      : html`<pre data-testid="key-secret">${keys.map((k) => k.name + '\t' + k.apiKey).join('\n')}</pre>
        <div class="actions"><button class="primary" data-testid="key-download" onClick=${() => download('relay-keys.txt', keys.map((k) => k.name + '\t' + k.apiKey).join('\n') + '\n')}>${t('download')}</button></div>`}
  <//>`;
}

const COLS = [
  ['name', (k) => k.name.toLowerCase()], ['requests', (k) => k.usage?.requests || 0],
  ['tokens', (k) => k.usage?.allTokens || 0], ['lastUsed', (k) => k.lastUsedAt || ''], ['created', (k) => k.createdAt || ''],
];

export function Keys() {
  const { data, error, reload } = useLoad(load);
  const [q, setQ] = useState('');
  const [sort, setSort] = useState(['created', -1]);
  const [form, setForm] = useState(null); // {item} | {batch} | {}
  const [secret, setSecret] = useState(null);
  const [showDeleted, setShowDeleted] = useState(false);
  const [trend, setTrend] = useState(null); // the key whose trend is open
  const [actErr, setActErr] = useState(null);
  const rows = useMemo(() => {
    if (!data) return [];
    const get = COLS.find((c) => c[0] === sort[0])[1];
    return data.keys
      .filter((k) => !q || (k.name + ' ' + (k.description || '') + ' ' + (k.tags || []).join(' ')).toLowerCase().includes(q.toLowerCase()))
      .sort((a, b) => (get(a) < get(b) ? -1 : get(a) > get(b) ? 1 : 0) * sort[1]);
  }, [data, q, sort]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">…</p>`;
  const act = (fn) => async () => {
    setActErr(null);
    try {
      await fn();
      await reload();
    } catch (x) {
      setActErr(x);
    }
  };
  const saved = (r) => {
    setForm(null);
    if (Array.isArray(r.data)) setSecret(r.data);
    else if (r.data && r.data.apiKey) setSecret([r.data]);
    reload();
  };
  const th = (c) => html`<th class="sortable" onClick=${() => setSort([c, sort[0] === c ? -sort[1] : -1])}>${t(c)}${sort[0] === c ? (sort[1] > 0 ? ' ▲' : ' ▼') : ''}</th>`;
  return html`
    <div class="toolbar"><h2>${t('keys')}</h2>
      <input type="search" placeholder=${t('search')} value=${q} onInput=${(e) => setQ(e.target.value)} data-testid="key-search" />
      <span class="spacer"></span>
      <button onClick=${() => setForm({ batch: true })} data-testid="key-batch">${t('batchCreate')}</button>
      <button class="primary" onClick=${() => setForm({})} data-testid="key-create">${t('createKey')}</button></div>
    <${ErrorBox} error=${actErr} />
    <div class="table-wrap"><table class="list" data-testid="key-list"><thead><tr>
      ${th('name')}<th>${t('status')}</th>${th('requests')}${th('tokens')}<th>${t('limits')}</th>${th('lastUsed')}${th('created')}<th>${t('actions')}</th>
    </tr></thead><tbody>${rows.map((k) => html`<tr data-testid="key-row" data-name=${k.name}>
      <td data-label=${t('name')}><b>${k.name}</b><div class="muted small"><code>${k.maskedKey}</code> ${k.description}</div></td>
      <td data-label=${t('status')}>${k.isActive ? html`<${Badge} kind="ok">${t('active')}<//>` : html`<${Badge} kind="off">${t('disabled')}<//>`}
        ${k.expiresAt && html`<div class="muted small">${t('expiresAt')} ${fmtTime(k.expiresAt)}</div>`}
        ${k.expirationMode === 'activation' && !k.isActivated && html`<div class="muted small">${t('pendingActivation')}</div>`}</td>
      <td data-label=${t('requests')}>${fmtNum(k.usage?.requests)}</td>
      <td data-label=${t('tokens')}><span title=${`in ${k.usage?.inputTokens} · out ${k.usage?.outputTokens}`}>${fmtShort(k.usage?.allTokens)}</span></td>
      <td data-label=${t('limits')}>${limitsOf(k).map((l) => html`<span class="chip">${l}</span>`)}${!limitsOf(k).length && html`<span class="muted">${t('unlimited')}</span>`}
        <${CostBars} k=${k} cost=${data.cost} /></td>
      <td data-label=${t('lastUsed')}>${fmtTime(k.lastUsedAt)}</td>
      <td data-label=${t('created')}>${fmtTime(k.createdAt)}</td>
      <td class="row-actions">
        <button class="small" data-testid="key-trend" onClick=${() => setTrend(k)}>${t('trend')}</button>
        <button class="small" data-testid="key-edit" onClick=${() => setForm({ item: k })}>${t('edit')}</button>
        <button class="small" data-testid="key-toggle" onClick=${act(() => api('PUT', '/admin/api-keys/' + k.id, { isActive: !k.isActive }))}>${k.isActive ? t('disable') : t('enable')}</button>
        <button class="small" data-testid="key-regenerate" onClick=${act(async () => {
          if (!confirm(t('confirmRegenerate', k.name))) return;
          const r = await api('POST', '/admin/api-keys/' + k.id + '/regenerate');
          setSecret([{ ...r.data, name: k.name }]);
        })}>${t('regenerate')}</button>
        <button class="small danger" data-testid="key-delete" onClick=${act(async () => { if (confirm(t('confirmDelete', k.name))) await api('DELETE', '/admin/api-keys/' + k.id); })}>${t('delete')}</button>
      </td></tr>`)}
      ${!rows.length && html`<tr><td colspan="8" class="muted">${t('noData')}</td></tr>`}
    </tbody></table></div>
    <p><button class="ghost" onClick=${() => setShowDeleted(!showDeleted)}>${t('deleted')} (${data.deleted.length}) ${showDeleted ? '▲' : '▼'}</button></p>
    ${showDeleted && html`<div class="table-wrap"><table class="list"><tbody>${data.deleted.map((k) => html`<tr>
      <td><b>${k.name}</b> <code class="muted">${k.maskedKey}</code></td><td>${fmtTime(k.deletedAt)}</td>
      <td class="row-actions"><button class="small" data-testid="key-restore" onClick=${act(() => api('POST', '/admin/api-keys/' + k.id + '/restore'))}>${t('restore')}</button></td></tr>`)}</tbody></table></div>`}
    ${form && html`<${KeyForm} item=${form.item} batch=${form.batch} accounts=${data.accounts} groups=${data.groups} onClose=${() => setForm(null)} onSaved=${saved} />`}
    ${secret && html`<${Secret} keys=${secret} onClose=${() => setSecret(null)} />`}
    ${trend && html`<${TrendDialog} title=${trend.name} base=${`/admin/api-keys/${trend.id}/usage-trend`} onClose=${() => setTrend(null)} />`}`;
}
