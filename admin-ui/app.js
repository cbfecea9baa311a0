// claude-relay admin page: plain JS over the admin API (/web/auth/*, /admin/*).
'use strict';
const $ = (s) => document.querySelector(s);
let token = sessionStorage.getItem('relayAdminToken');

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path.startsWith('/admin')) { logout(); }
  if (!res.ok) throw new Error(data.message || data.error || ('HTTP ' + res.status));
  return data;
}

function cell(text) { const td = document.createElement('td'); td.textContent = text; return td; }
function button(label, fn) {
  const b = document.createElement('button');
  b.textContent = label;
  b.addEventListener('click', () => fn().catch(showError));
  return b;
}
function showError(e) { $('#app-error').textContent = e.message; }

async function loadKeys() {
  const { data } = await api('GET', '/admin/api-keys?pageSize=100');
  const tbody = $('#keys');
  tbody.replaceChildren();
  for (const k of data.items) {
    const tr = document.createElement('tr');
    tr.append(cell(k.name), cell(k.maskedKey || ''), cell(k.isActive ? 'active' : 'disabled'),
      cell(String(k.usage ? k.usage.requests : 0)), cell(String(k.usage ? k.usage.allTokens : 0)),
      cell((k.createdAt || '').slice(0, 19).replace('T', ' ')));
    const actions = document.createElement('td');
    actions.append(
      button(k.isActive ? 'Disable' : 'Enable', async () => { await api('PUT', '/admin/api-keys/' + k.id, { isActive: !k.isActive }); await loadKeys(); }),
      button('Delete', async () => { if (confirm('Delete key ' + k.name + '?')) { await api('DELETE', '/admin/api-keys/' + k.id); await loadKeys(); } }));
    tr.append(actions);
    tbody.append(tr);
  }
}

async function loadAccounts() {
  const { data } = await api('GET', '/admin/claude-console-accounts');
  const tbody = $('#accounts');
  tbody.replaceChildren();
  for (const a of data) {
    const tr = document.createElement('tr');
    tr.append(cell(a.name), cell(a.apiUrl), cell(a.apiKeyPreview || ''), cell(String(a.priority)),
      cell(a.schedulable ? 'yes' : 'no'));
    const actions = document.createElement('td');
    actions.append(
      button(a.schedulable ? 'Pause' : 'Resume', async () => { await api('PUT', '/admin/claude-console-accounts/' + a.id + '/toggle-schedulable'); await loadAccounts(); }),
      button('Delete', async () => { if (confirm('Delete account ' + a.name + '?')) { await api('DELETE', '/admin/claude-console-accounts/' + a.id); await loadAccounts(); } }));
    tr.append(actions);
    tbody.append(tr);
  }
}

function showApp(username) {
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#logout').hidden = false;
  $('#who').textContent = username || '';
  loadKeys().catch(showError);
  loadAccounts().catch(showError);
}

function logout() {
  if (token) fetch('/web/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + token } }).catch(() => {});
  token = null;
  sessionStorage.removeItem('relayAdminToken');
  $('#app-view').hidden = true;
  $('#logout').hidden = true;
  $('#login-view').hidden = false;
  $('#who').textContent = '';
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api('POST', '/web/auth/login', { username: f.get('username'), password: f.get('password') });
    token = r.token;
    sessionStorage.setItem('relayAdminToken', token);
    $('#login-error').textContent = '';
    showApp(r.username);
  } catch (e) { $('#login-error').textContent = e.message; }
});

$('#key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api('POST', '/admin/api-keys', { name: f.get('name'), description: f.get('description') });
    const box = $('#new-key');
    box.hidden = false;
    box.textContent = 'New key (shown once, copy it now): ' + r.data.apiKey;
    ev.target.reset();
    await loadKeys();
  } catch (e) { showError(e); }
});

$('#account-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api('POST', '/admin/claude-console-accounts', {
      name: f.get('name'), apiUrl: f.get('apiUrl'), apiKey: f.get('apiKey'), priority: Number(f.get('priority')) });
    ev.target.reset();
    await loadAccounts();
  } catch (e) { showError(e); }
});

document.querySelectorAll('nav button').forEach((b) => b.addEventListener('click', () => {
  document.querySelectorAll('nav button').forEach((x) => x.classList.toggle('active', x === b));
  $('#tab-keys').hidden = b.dataset.tab !== 'keys';
  $('#tab-accounts').hidden = b.dataset.tab !== 'accounts';
}));
$('#logout').addEventListener('click', logout);

if (token) api('GET', '/web/auth/user').then((r) => showApp(r.user.username)).catch(logout);
