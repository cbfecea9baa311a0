'use strict';
// Admin API: authentication, API-key CRUD, console-account CRUD, secrets never shown or stored in clear.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, api, login, createKey, createConsoleAccount, messageBody, randomHex, randomAlnum, MOCK_ACCOUNT_KEY } = require('../lib/env');

let st;
const createdKeys = []; // plaintext keys seen in this file, for the at-rest scan

before(async () => {
  st = await stack();
  createdKeys.push(st.key.apiKey);
});

after(async () => {
  if (st) await st.teardown();
});

// ---------------------------------------------------------------- admin auth

test('login with a wrong password or user → 401', async () => {
  const a = await api(st.relay, 'POST', '/web/auth/login', { body: { username: st.relay.adminUser, password: st.relay.adminPassword + 'x' } });
  assert.equal(a.status, 401, a.text);
  const b = await api(st.relay, 'POST', '/web/auth/login', { body: { username: 'nobody', password: st.relay.adminPassword } });
  assert.equal(b.status, 401, b.text);
  const c = await api(st.relay, 'POST', '/web/auth/login', { body: { username: st.relay.adminUser, password: '' } });
  assert.ok(c.status === 400 || c.status === 401, `empty password: ${c.status}`);
  for (const r of [a, b, c]) assert.ok(!r.text.includes(st.relay.adminPassword), 'password not echoed');
});

test('login returns {success, token, expiresIn, username}', async () => {
  const r = await api(st.relay, 'POST', '/web/auth/login', { body: { username: st.relay.adminUser, password: st.relay.adminPassword } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.equal(typeof r.json.token, 'string');
  assert.ok(r.json.token.length >= 32);
  assert.ok(r.json.expiresIn !== undefined);
  assert.equal(r.json.username, st.relay.adminUser);
});

test('/admin/api-keys rejects missing, made-up and forged tokens', async () => {
  const none = await api(st.relay, 'GET', '/admin/api-keys');
  assert.equal(none.status, 401, `no token: ${none.text}`);
  const hex = await api(st.relay, 'GET', '/admin/api-keys', { token: randomHex(32) });
  assert.equal(hex.status, 401, `64-hex token: ${hex.text}`);
  const forged32 = randomAlnum(32);
  const f = await api(st.relay, 'GET', '/admin/api-keys', { token: forged32 });
  assert.equal(f.status, 401, `32-char token: ${f.text}`);
  const xAdmin = await api(st.relay, 'GET', '/admin/api-keys', { headers: { 'x-admin-token': randomHex(32) } });
  assert.equal(xAdmin.status, 401, `x-admin-token: ${xAdmin.text}`);
  // The original system let /web/auth/refresh write a session for any >=32-char token.
  const forged = randomAlnum(40);
  const ref = await api(st.relay, 'POST', '/web/auth/refresh', { token: forged });
  assert.ok(ref.status === 401 || ref.status === 404, `refresh with a forged token: ${ref.status} ${ref.text}`);
  const after = await api(st.relay, 'GET', '/admin/api-keys', { token: forged });
  assert.equal(after.status, 401, 'forged token still rejected after /web/auth/refresh');
  // a relay key is not an admin token
  const rk = await api(st.relay, 'GET', '/admin/api-keys', { token: st.key.apiKey });
  assert.equal(rk.status, 401, 'relay cr_ key is not an admin token');
});

test('after /web/auth/logout the token is rejected', async () => {
  const t = await login(st.relay);
  assert.equal((await api(st.relay, 'GET', '/admin/api-keys', { token: t })).status, 200);
  const lo = await api(st.relay, 'POST', '/web/auth/logout', { token: t });
  assert.equal(lo.status, 200, lo.text);
  assert.equal((await api(st.relay, 'GET', '/admin/api-keys', { token: t })).status, 401);
  // the other session is untouched
  assert.equal((await api(st.relay, 'GET', '/admin/api-keys', { token: st.token })).status, 200);
});

// ---------------------------------------------------------------- API keys

test('create key: plaintext cr_ + 64 hex shown once; list and get never show it', async () => {
  const k = await createKey(st.relay, st.token, { name: 'admin-test-key', description: 'first' });
  createdKeys.push(k.apiKey);
  assert.match(k.apiKey, /^cr_[0-9a-f]{64}$/);
  assert.equal(k.data.name, 'admin-test-key');

  const list = await api(st.relay, 'GET', '/admin/api-keys', { token: st.token });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.success, true);
  const d = list.json.data;
  assert.ok(Array.isArray(d.items));
  assert.ok(d.items.some((i) => i.id === k.id), 'new key listed');
  for (const f of ['page', 'pageSize', 'total', 'totalPages']) assert.equal(typeof d.pagination[f], 'number', `pagination.${f}`);
  assert.ok(d.pagination.total >= 2);
  for (const pk of createdKeys) assert.ok(!list.text.includes(pk), 'list must not contain a plaintext key');

  const one = await api(st.relay, 'GET', `/admin/api-keys/${k.id}`, { token: st.token });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.success, true);
  assert.equal(one.json.data.id, k.id);
  assert.equal(one.json.data.name, 'admin-test-key');
  for (const pk of createdKeys) assert.ok(!one.text.includes(pk), 'get must not contain a plaintext key');
});

test('update key: name, description, isActive, expiresAt', async () => {
  const k = await createKey(st.relay, st.token, { name: 'to-update' });
  createdKeys.push(k.apiKey);
  const exp = new Date(Date.now() + 7 * 86400_000);
  exp.setMilliseconds(0);
  const u = await api(st.relay, 'PUT', `/admin/api-keys/${k.id}`, {
    token: st.token,
    body: { name: 'updated-name', description: 'updated description ✓', isActive: false, expiresAt: exp.toISOString() },
  });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.success, true);
  const g = await api(st.relay, 'GET', `/admin/api-keys/${k.id}`, { token: st.token });
  assert.equal(g.status, 200);
  const d = g.json.data;
  assert.equal(d.name, 'updated-name');
  assert.equal(d.description, 'updated description ✓');
  assert.equal(String(d.isActive), 'false');
  assert.equal(Date.parse(d.expiresAt), exp.getTime(), `expiresAt ${d.expiresAt}`);
  // inactive key is refused
  const r = await st.send(messageBody(), { key: k.apiKey });
  assert.equal(r.status, 401);
  // re-activate, clear expiry
  const u2 = await api(st.relay, 'PUT', `/admin/api-keys/${k.id}`, { token: st.token, body: { isActive: true, expiresAt: null } });
  assert.equal(u2.status, 200, u2.text);
  const r2 = await st.send(messageBody(), { key: k.apiKey });
  assert.equal(r2.status, 200, r2.text.slice(0, 300));
  // an offset is accepted and stored as UTC; an impossible date is a 400
  const u3 = await api(st.relay, 'PUT', `/admin/api-keys/${k.id}`, { token: st.token, body: { expiresAt: '2031-03-01T08:00:00+08:00' } });
  assert.equal(u3.status, 200, u3.text);
  const g3 = await api(st.relay, 'GET', `/admin/api-keys/${k.id}`, { token: st.token });
  assert.equal(g3.json.data.expiresAt, '2031-03-01T00:00:00.000Z');
  const u4 = await api(st.relay, 'PUT', `/admin/api-keys/${k.id}`, { token: st.token, body: { expiresAt: '2031-02-30T00:00:00Z' } });
  assert.equal(u4.status, 400, u4.text);
  await api(st.relay, 'PUT', `/admin/api-keys/${k.id}`, { token: st.token, body: { expiresAt: null } });
  // unknown id
  const nf = await api(st.relay, 'PUT', `/admin/api-keys/${randomHex(16)}`, { token: st.token, body: { name: 'x' } });
  assert.equal(nf.status, 404, nf.text);
  // invalid name
  const bad = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: '' } });
  assert.equal(bad.status, 400, bad.text);
});

test('delete key: the key is rejected with 401 afterwards', async () => {
  const k = await createKey(st.relay, st.token, { name: 'to-delete' });
  createdKeys.push(k.apiKey);
  assert.equal((await st.send(messageBody(), { key: k.apiKey })).status, 200);
  const del = await api(st.relay, 'DELETE', `/admin/api-keys/${k.id}`, { token: st.token });
  assert.equal(del.status, 200, del.text);
  const r = await st.send(messageBody(), { key: k.apiKey });
  assert.equal(r.status, 401);
  assert.equal(r.headers['x-should-retry'], 'false');
  const list = await api(st.relay, 'GET', '/admin/api-keys', { token: st.token });
  assert.ok(!list.json.data.items.some((i) => i.id === k.id), 'deleted key no longer listed');
});

// ---------------------------------------------------------------- console accounts

test('console accounts: create, list, update, toggle-schedulable, delete; key never shown', async () => {
  const secret = 'sk-ant-api03-admin-test-secret-' + randomHex(8);
  const c = await createConsoleAccount(st.relay, st.token, { name: 'crud-account', apiUrl: st.mock.url, apiKey: secret, priority: 10 });
  assert.ok(!JSON.stringify(c.data).includes(secret), 'create response must not echo the account key');

  const list = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.success, true);
  assert.ok(Array.isArray(list.json.data));
  const mine = list.json.data.find((a) => a.id === c.id);
  assert.ok(mine, 'account listed');
  assert.equal(mine.name, 'crud-account');
  assert.ok(!list.text.includes(MOCK_ACCOUNT_KEY), 'list must not contain the account key');
  assert.ok(!list.text.includes(secret), 'list must not contain the account key');

  const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${c.id}`, { token: st.token, body: { name: 'crud-renamed', priority: 20 } });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.success, true);
  assert.ok(!up.text.includes(secret));
  const list2 = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  const mine2 = list2.json.data.find((a) => a.id === c.id);
  assert.equal(mine2.name, 'crud-renamed');
  assert.equal(Number(mine2.priority), 20);

  const tg = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${c.id}/toggle-schedulable`, { token: st.token });
  assert.equal(tg.status, 200, tg.text);
  assert.deepEqual({ success: tg.json.success, schedulable: tg.json.schedulable }, { success: true, schedulable: false });
  const tg2 = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${c.id}/toggle-schedulable`, { token: st.token });
  assert.equal(tg2.json.schedulable, true);

  const del = await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${c.id}`, { token: st.token });
  assert.equal(del.status, 200, del.text);
  const list3 = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  assert.ok(!list3.json.data.some((a) => a.id === c.id), 'deleted account no longer listed');

  const noauth = await api(st.relay, 'GET', '/admin/claude-console-accounts');
  assert.equal(noauth.status, 401);
});

test('updating an account key takes effect upstream', async () => {
  const secret2 = 'sk-ant-api03-rotated-' + randomHex(8);
  const c = await createConsoleAccount(st.relay, st.token, { name: 'rotate', apiUrl: st.mock.url, apiKey: 'sk-ant-api03-before-' + randomHex(8) });
  // make it the only schedulable account
  const list = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  const others = list.json.data.filter((a) => a.id !== c.id && String(a.schedulable) !== 'false');
  for (const a of others) await api(st.relay, 'PUT', `/admin/claude-console-accounts/${a.id}/toggle-schedulable`, { token: st.token });
  try {
    const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${c.id}`, { token: st.token, body: { apiKey: secret2 } });
    assert.equal(up.status, 200, up.text);
    st.mock.reset();
    const r = await st.send(messageBody());
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(st.mock.messageRequests()[0].headers['x-api-key'], secret2);
    const l2 = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
    assert.ok(!l2.text.includes(secret2));
  } finally {
    for (const a of others) await api(st.relay, 'PUT', `/admin/claude-console-accounts/${a.id}/toggle-schedulable`, { token: st.token });
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${c.id}`, { token: st.token });
  }
});

// ---------------------------------------------------------------- secrets at rest

test('Redis never stores the account key, relay keys or the admin password in clear', async () => {
  // make sure usage/log records exist too
  const r = await st.send(messageBody());
  assert.equal(r.status, 200);
  const s = await st.stream(messageBody());
  assert.equal(s.status, 200);
  await new Promise((res) => setTimeout(res, 500));
  const dump = await st.redis.dump();
  const keys = Object.keys(dump);
  assert.ok(keys.length > 0, 'redis has data');
  const secrets = [MOCK_ACCOUNT_KEY, 'mock-upstream-key-0001', st.relay.adminPassword, ...createdKeys, ...createdKeys.map((k) => k.slice(3))];
  const hits = [];
  for (const [k, v] of Object.entries(dump)) {
    const text = k + '\n' + JSON.stringify(v.value);
    for (const sec of secrets) if (text.includes(sec)) hits.push(`${k} (${v.type}) contains ${sec.slice(0, 12)}…`);
  }
  assert.deepEqual(hits, [], 'plaintext secrets found in Redis');
});

test('relay logs never contain the account key or a full relay key', async () => {
  const logs = st.relay.logs();
  assert.ok(!logs.includes(MOCK_ACCOUNT_KEY), 'account key in logs');
  for (const k of createdKeys) assert.ok(!logs.includes(k), 'relay key in logs');
  assert.ok(!logs.includes(st.relay.adminPassword), 'admin password in logs');
});
