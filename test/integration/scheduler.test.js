'use strict';
// The scheduler (issue 8): selection order (priority, then least recently used), a key bound to a
// dedicated account or to an account group (/admin/account-groups), sticky sessions
// (sticky_session:{hash}) that rebind once when their account fails, and
// /admin/scheduler/explain.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, api, createConsoleAccount, createKey, messageBody, RespClient, waitFor, startRelay, login, httpRequest } = require('../lib/env');

let st;
before(async () => {
  st = await stack({
    account: false,
    key: false,
    relayEnv: { UPSTREAM_ERROR_RATE_LIMIT_TTL_SECONDS: '60', CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES: '2', RATE_LIMIT_CLEANUP_INTERVAL: '0' },
  });
});
after(async () => {
  if (st) await st.teardown();
});

async function redis(...args) {
  const c = await new RespClient(st.redis.port).connect();
  try {
    return await c.cmd(...args);
  } finally {
    c.close();
  }
}

const created = [];
async function account(tag, extra = {}) {
  const a = await createConsoleAccount(st.relay, st.token, { name: tag, apiUrl: `${st.mock.url}/b/${tag}`, ...extra });
  created.push(a.id);
  return a;
}
async function removeAll() {
  while (created.length) await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${created.pop()}`, { token: st.token });
}
const newKey = (fields = {}) => createKey(st.relay, st.token, { name: `k-${Math.random().toString(36).slice(2, 8)}`, ...fields });
const send = (key, body = messageBody()) => st.send(body, { key: key.apiKey });
// The behave tags of the upstream requests since mark (an index into the recorded list).
const since = (mark) => st.mock.requests().slice(mark).map((r) => r.behave);
const mark = () => st.mock.requests().length;

test('selection order: best priority first, then the least recently used', async () => {
  try {
    await account('sel-a', { priority: 10 });
    await account('sel-b', { priority: 20 });
    await account('sel-c', { priority: 10 });
    const key = await newKey();
    const m = mark();
    for (let i = 0; i < 4; i++) assert.equal((await send(key)).status, 200);
    const seen = since(m);
    assert.equal(seen.filter((b) => b === 'sel-b').length, 0, 'priority 20 is not used while priority 10 answers');
    assert.equal(seen.filter((b) => b === 'sel-a').length, 2, seen.join());
    assert.equal(seen.filter((b) => b === 'sel-c').length, 2, seen.join());
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `LRU alternates: ${seen.join()}`);
  } finally {
    await removeAll();
  }
});

test('a dedicated account: the key uses only it, even at a worse priority', async () => {
  try {
    await account('ded-pool', { priority: 1 });
    const d = await account('ded-own', { priority: 90 });
    const key = await newKey({ claudeConsoleAccountId: d.id });
    const m = mark();
    for (let i = 0; i < 3; i++) assert.equal((await send(key)).status, 200);
    assert.deepEqual(since(m), ['ded-own', 'ded-own', 'ded-own']);
  } finally {
    await removeAll();
  }
});

test('account groups: CRUD, a bound key uses only the members, a bound group cannot be deleted', async () => {
  const G = '/admin/account-groups';
  try {
    await account('grp-out', { priority: 1 });
    const m1 = await account('grp-in1', { priority: 50 });
    const m2 = await account('grp-in2', { priority: 50 });
    const bad = await api(st.relay, 'POST', G, { token: st.token, body: { name: 'g', platform: 'droid' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /platform/);
    const unk = await api(st.relay, 'POST', G, { token: st.token, body: { name: 'g', platform: 'claude', weight: 3 } });
    assert.equal(unk.status, 400);
    assert.match(unk.json.error, /weight/);
    const c = await api(st.relay, 'POST', G, { token: st.token, body: { name: 'team', platform: 'claude', description: 'd' } });
    assert.equal(c.status, 200, c.text);
    const gid = c.json.data.id;
    assert.equal(c.json.data.platform, 'claude');
    assert.equal(await redis('SISMEMBER', 'account_groups', gid), 1);
    for (const m of [m1, m2]) {
      const r = await api(st.relay, 'POST', `${G}/${gid}/members`, { token: st.token, body: { accountId: m.id } });
      assert.equal(r.status, 200, r.text);
    }
    const arr = await api(st.relay, 'POST', `${G}/${gid}/members`, { token: st.token, body: [m1.id] });
    assert.equal(arr.status, 400);
    const extra = await api(st.relay, 'POST', `${G}/${gid}/members`, { token: st.token, body: { accountId: m1.id, priority: 1 } });
    assert.equal(extra.status, 400);
    assert.match(extra.json.error, /priority/);
    const noacc = await api(st.relay, 'POST', `${G}/${gid}/members`, { token: st.token, body: { accountId: '00000000-0000-4000-8000-000000000000' } });
    assert.equal(noacc.status, 400);
    assert.deepEqual((await redis('SMEMBERS', `account_group_members:${gid}`)).sort(), [m1.id, m2.id].sort());
    const list = await api(st.relay, 'GET', `${G}?platform=claude`, { token: st.token });
    assert.equal(list.json.data.find((g) => g.id === gid).memberCount, 2);
    const members = await api(st.relay, 'GET', `${G}/${gid}/members`, { token: st.token });
    assert.deepEqual(members.json.data.map((a) => a.id).sort(), [m1.id, m2.id].sort());
    const up = await api(st.relay, 'PUT', `${G}/${gid}`, { token: st.token, body: { name: 'team2' } });
    assert.equal(up.json.data.name, 'team2');
    const plat = await api(st.relay, 'PUT', `${G}/${gid}`, { token: st.token, body: { platform: 'openai' } });
    assert.equal(plat.status, 400);

    const nog = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', claudeConsoleAccountId: 'group:00000000-0000-4000-8000-000000000000' } });
    assert.equal(nog.status, 400);
    assert.match(nog.json.error, /claudeConsoleAccountId/);
    const key = await newKey({ claudeConsoleAccountId: `group:${gid}` });
    const m = mark();
    for (let i = 0; i < 4; i++) assert.equal((await send(key)).status, 200);
    const seen = since(m);
    assert.ok(seen.every((b) => b === 'grp-in1' || b === 'grp-in2'), seen.join());
    assert.equal(new Set(seen).size, 2, 'both members share the load');

    const rm = await api(st.relay, 'DELETE', `${G}/${gid}/members/${m1.id}`, { token: st.token });
    assert.equal(rm.status, 200);
    const m3 = mark();
    for (let i = 0; i < 2; i++) assert.equal((await send(key)).status, 200);
    assert.deepEqual(since(m3), ['grp-in2', 'grp-in2'], 'a removed member is no longer used');

    const del = await api(st.relay, 'DELETE', `${G}/${gid}`, { token: st.token });
    assert.equal(del.status, 400, del.text);
    assert.match(del.json.error, /API key/);
    await api(st.relay, 'PUT', `/admin/api-keys/${key.id}`, { token: st.token, body: { claudeConsoleAccountId: '' } });
    await api(st.relay, 'DELETE', `${G}/${gid}/members/${m2.id}`, { token: st.token });
    const del2 = await api(st.relay, 'DELETE', `${G}/${gid}`, { token: st.token });
    assert.equal(del2.status, 200, del2.text);
    assert.equal(await redis('EXISTS', `account_group:${gid}`), 0);
    assert.equal((await api(st.relay, 'GET', `${G}/${gid}`, { token: st.token })).status, 404);
  } finally {
    await removeAll();
  }
});

const tagOf = (id, accs) => accs.find((a) => a.id === id).tag;

test('sticky sessions: a metadata.user_id session stays on one account; a 429 rebinds it once', async () => {
  try {
    const accs = [];
    for (const tag of ['st-a', 'st-b', 'st-c']) accs.push({ tag, ...(await account(tag)) });
    const key = await newKey();
    const sid = require('node:crypto').randomUUID();
    const userId = JSON.stringify({ device_id: 'a'.repeat(64), account_uuid: '', session_id: sid });
    const body = messageBody('claude-sonnet-4-5', { metadata: { user_id: userId } });
    let m = mark();
    for (let i = 0; i < 3; i++) assert.equal((await send(key, body)).status, 200);
    let seen = since(m);
    assert.equal(new Set(seen).size, 1, `one account for the session: ${seen.join()}`);
    const bound = await redis('GET', `sticky_session:${sid}`);
    assert.equal(tagOf(bound, accs), seen[0]);
    const ttl = Number(await redis('TTL', `sticky_session:${sid}`));
    assert.ok(ttl > 3500 && ttl <= 3600, `TTL ${ttl}`);

    // Without the session the same key is spread by LRU.
    m = mark();
    for (let i = 0; i < 3; i++) assert.equal((await send(key, messageBody('claude-sonnet-4-5', { messages: [{ role: 'user', content: `q${i}-${sid}` }] }))).status, 200);
    assert.ok(new Set(since(m)).size > 1, 'distinct prompts are different sessions');

    const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${bound}`, { token: st.token, body: { apiUrl: `${st.mock.url}/b/error-429` } });
    assert.equal(up.status, 200, up.text);
    m = mark();
    assert.equal((await send(key, body)).status, 200);
    seen = since(m);
    assert.equal(seen.length, 2, seen.join());
    assert.equal(seen[0], 'error-429');
    const moved = await redis('GET', `sticky_session:${sid}`);
    assert.notEqual(moved, bound);
    assert.equal(tagOf(moved, accs), seen[1]);
    m = mark();
    for (let i = 0; i < 3; i++) assert.equal((await send(key, body)).status, 200);
    assert.deepEqual(since(m), [seen[1], seen[1], seen[1]], 'the session continues on its new account');
    const lines = st.relay.logs().split('\n').filter((l) => l.includes(`sticky session ${sid.slice(0, 8)} rebound`));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.ok(lines[0].includes(bound) && lines[0].includes(moved), lines[0]);

    // A binding to an account that cannot take requests is dropped at once.
    await api(st.relay, 'PUT', `/admin/claude-console-accounts/${moved}/toggle-schedulable`, { token: st.token });
    m = mark();
    assert.equal((await send(key, body)).status, 200);
    seen = since(m);
    assert.equal(seen.length, 1);
    assert.notEqual(seen[0], tagOf(moved, accs));
    assert.equal(tagOf(await redis('GET', `sticky_session:${sid}`), accs), seen[0]);
  } finally {
    await removeAll();
  }
});

test('least recently used across instances: the last use is written with the accounting and read at every reload', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  try {
    const x = await account('lru-x', { priority: 7 });
    const y = await account('lru-y', { priority: 7 });
    const key = await newKey();
    const token2 = await login(relay2);
    await waitFor(async () => (await api(relay2, 'GET', '/admin/claude-console-accounts', { token: token2 })).json.data.some((a) => a.id === y.id), { what: 'relay2 sees both' });
    let m = mark();
    assert.equal((await send(key)).status, 200); // relay 1 uses one of them
    const first = since(m)[0];
    const usedId = first === 'lru-x' ? x.id : y.id;
    await waitFor(async () => (await redis('HGET', 'account_last_used', usedId)) !== null, { what: 'the last use written with the accounting' });
    // Any admin write makes every instance reload its snapshot (and the last uses with it).
    await api(st.relay, 'PUT', `/admin/claude-console-accounts/${usedId}`, { token: st.token, body: { description: 'touched' } });
    await waitFor(async () => {
      const v = (await api(relay2, 'GET', '/admin/claude-console-accounts', { token: token2 })).json.data.find((a) => a.id === usedId);
      return v && v.lastUsedAt !== null;
    }, { what: 'relay2 learnt the last use' });
    m = mark();
    const r = await httpRequest(`${relay2.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' }, body: messageBody() });
    assert.equal(r.status, 200, r.text);
    assert.notEqual(since(m)[0], first, 'relay2 takes the one relay 1 did not use');
  } finally {
    await relay2.stop();
    await removeAll();
  }
});

// The sticky cache (STICKY_SESSION_CACHE_SECONDS): a relay keeps the bindings it read or wrote in
// memory, so a session's request costs no GET; another instance's rebinding reaches it as
// "sticky <hash> <instance>" on relay:notify. Here the test plays that other instance.
test('sticky cache: a cached binding is used without Redis until another instance announces its rebinding', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: { ...shared, STICKY_SESSION_CACHE_SECONDS: '3600' } });
  try {
    const accs = [];
    for (const tag of ['sc-a', 'sc-b']) accs.push({ tag, ...(await account(tag)) });
    const key = await newKey();
    const token2 = await login(relay2);
    await waitFor(async () => (await api(relay2, 'GET', '/admin/claude-console-accounts', { token: token2 })).json.data.filter((a) => accs.some((x) => x.id === a.id)).length === 2, { what: 'relay2 sees both' });
    const sid = require('node:crypto').randomUUID();
    const userId = JSON.stringify({ device_id: 'c'.repeat(64), account_uuid: '', session_id: sid });
    const body = messageBody('claude-sonnet-4-5', { metadata: { user_id: userId } });
    const send2 = async () => {
      const m = mark();
      const r = await httpRequest(`${relay2.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' }, body });
      assert.equal(r.status, 200, r.text);
      return since(m)[0];
    };
    const first = await send2();
    const bound = await redis('GET', `sticky_session:${sid}`);
    assert.equal(tagOf(bound, accs), first);
    const other = accs.find((a) => a.id !== bound);
    // Rebound in Redis without a notice: the relay keeps its cached binding (it did not read Redis).
    await redis('SET', `sticky_session:${sid}`, other.id, 'EX', '3600');
    assert.equal(await send2(), first, 'the cached binding is used');
    assert.equal(await send2(), first);
    // The notice makes it forget the session and read the new binding at its next use.
    await redis('PUBLISH', 'relay:notify', `sticky ${sid} another-instance`);
    await waitFor(async () => (await send2()) === other.tag, { what: 'the announced binding is used' });
    assert.equal(await send2(), other.tag, 'and kept');
    assert.equal(await redis('GET', `sticky_session:${sid}`), other.id, 'no rebinding back');
  } finally {
    await relay2.stop();
    await removeAll();
  }
});

test('sticky cache: a binding due for renewal is read from Redis and renewed, never served from memory', async () => {
  // Renewal threshold = TTL: every reuse is due, so none may come from the cache.
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: { ...shared, STICKY_SESSION_TTL_HOURS: '1', STICKY_SESSION_RENEWAL_THRESHOLD_MINUTES: '60' } });
  try {
    const a = await account('ren-a');
    const key = await newKey();
    const token2 = await login(relay2);
    await waitFor(async () => (await api(relay2, 'GET', '/admin/claude-console-accounts', { token: token2 })).json.data.some((x) => x.id === a.id), { what: 'relay2 sees it' });
    const sid = require('node:crypto').randomUUID();
    const userId = JSON.stringify({ device_id: 'd'.repeat(64), account_uuid: '', session_id: sid });
    const body = messageBody('claude-sonnet-4-5', { metadata: { user_id: userId } });
    const send2 = () => httpRequest(`${relay2.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' }, body });
    assert.equal((await send2()).status, 200);
    assert.equal(await redis('GET', `sticky_session:${sid}`), a.id);
    await redis('EXPIRE', `sticky_session:${sid}`, '100'); // as if most of the hour had passed
    assert.equal((await send2()).status, 200);
    const ttl = Number(await redis('TTL', `sticky_session:${sid}`));
    assert.ok(ttl > 3500, `renewed to the full TTL at its reuse: ${ttl}`);
  } finally {
    await relay2.stop();
    await removeAll();
  }
});

test('explain: every account eligible or skipped with its reason, and the pick', async () => {
  try {
    const ok = await account('ex-ok', { priority: 60 });
    const broken = await account('ex-broken', { priority: 60 });
    const paused = await account('ex-paused', { priority: 60 });
    const unsched = await account('ex-unsched', { priority: 60, schedulable: false });
    const cool = await createConsoleAccount(st.relay, st.token, { name: 'ex-cool', apiUrl: `${st.mock.url}/b/error-429`, priority: 1 });
    created.push(cool.id);
    const unauth = await createConsoleAccount(st.relay, st.token, { name: 'ex-unauth', apiUrl: `${st.mock.url}/b/error-401`, priority: 2 });
    created.push(unauth.id);
    const key = await newKey();
    // one request: 429 (cooling), 401 (unauthorized), then a healthy account answers
    assert.equal((await send(key)).status, 200);
    await redis('HSET', `claude_console_account:${broken.id}`, 'apiKey', 's1:0:not-a-sealed-blob');
    const t = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${paused.id}/toggle`, { token: st.token }); // refreshes the snapshot
    assert.equal(t.status, 200);

    const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}&model=claude-sonnet-4-5`, { token: st.token });
    assert.equal(ex.status, 200, ex.text);
    const by = Object.fromEntries(ex.json.data.accounts.map((a) => [a.id, a]));
    assert.equal(by[ok.id].eligible, true);
    assert.equal(by[paused.id].reason, 'paused');
    assert.equal(by[unsched.id].reason, 'not schedulable');
    assert.equal(by[broken.id].reason, 'credential unavailable');
    assert.equal(by[cool.id].reason, 'cooling');
    assert.equal(by[cool.id].status, 'rate_limited');
    assert.ok(Date.parse(by[cool.id].until) > Date.now(), by[cool.id].until);
    assert.equal(by[unauth.id].reason, 'unauthorized');
    for (const id of [paused.id, unsched.id, broken.id, cool.id, unauth.id]) assert.equal(by[id].eligible, false);
    assert.equal(ex.json.data.picked.id, ok.id);
    assert.equal(ex.json.data.model, 'claude-sonnet-4-5');

    const ded = await newKey({ claudeConsoleAccountId: unsched.id });
    const ex2 = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${ded.id}`, { token: st.token });
    const by2 = Object.fromEntries(ex2.json.data.accounts.map((a) => [a.id, a]));
    assert.equal(by2[ok.id].reason, 'not the dedicated account');
    assert.equal(by2[unsched.id].reason, 'not schedulable');
    assert.equal(ex2.json.data.picked, null);

    const g = await api(st.relay, 'POST', '/admin/account-groups', { token: st.token, body: { name: 'ex', platform: 'claude' } });
    const gid = g.json.data.id;
    await api(st.relay, 'POST', `/admin/account-groups/${gid}/members`, { token: st.token, body: { accountId: ok.id } });
    const gk = await newKey({ claudeConsoleAccountId: `group:${gid}` });
    const ex3 = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${gk.id}`, { token: st.token });
    const by3 = Object.fromEntries(ex3.json.data.accounts.map((a) => [a.id, a]));
    assert.equal(by3[paused.id].reason, 'not in the bound group');
    assert.equal(by3[ok.id].eligible, true);
    assert.equal(ex3.json.data.picked.id, ok.id);

    assert.equal((await api(st.relay, 'GET', '/admin/scheduler/explain?keyId=00000000-0000-4000-8000-000000000000', { token: st.token })).status, 404);
    assert.equal((await api(st.relay, 'GET', '/admin/scheduler/explain?keyId=nope', { token: st.token })).status, 404);
    assert.equal((await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}`)).status, 401);
  } finally {
    await removeAll();
  }
});

const accountView = async (id) => (await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token })).json.data.find((a) => a.id === id);
const byId = (ex) => Object.fromEntries(ex.json.data.accounts.map((a) => [a.id, a]));
const explain = (key, model) =>
  api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}${model ? `&model=${encodeURIComponent(model)}` : ''}`, { token: st.token });

test('supportedModels: a list and a mapping; the upstream sees the mapped model, byte for byte otherwise', async () => {
  try {
    const list = await account('mdl-list', { supportedModels: ['claude-list-a', 'claude-list-b'] });
    // on the plain mock URL: the mock answers with the model it was sent, as Anthropic does
    const map = await account('mdl-map', { apiUrl: st.mock.url, supportedModels: { 'claude-client-x': 'upstream-model-y' } });
    assert.deepEqual((await accountView(map.id)).supportedModels, { 'claude-client-x': 'upstream-model-y' }, 'the admin view gives JSON, not a string');
    assert.equal(await redis('HGET', `claude_console_account:${map.id}`, 'supportedModels'), '{"claude-client-x":"upstream-model-y"}');
    assert.deepEqual(list.data.supportedModels, ['claude-list-a', 'claude-list-b']);

    // The mapping: exact, then any case; only "model" changes on the way up.
    const mapKey = await newKey({ claudeConsoleAccountId: map.id });
    for (const asked of ['claude-client-x', 'Claude-Client-X']) {
      const body = messageBody(asked, { metadata: { note: 'model "claude-client-x" stays here' }, temperature: 0.5 });
      const m = mark();
      const r = await send(mapKey, body);
      assert.equal(r.status, 200, r.text);
      const up = st.mock.requests().slice(m);
      assert.equal(up.length, 1);
      assert.equal(up[0].body.model, 'upstream-model-y');
      assert.deepEqual(up[0].body, { ...body, model: 'upstream-model-y' });
      assert.equal(up[0].bodyBytes, Buffer.byteLength(JSON.stringify(body)) - asked.length + 'upstream-model-y'.length);
    }
    // a stream too (what Claude Code sends)
    const sm = mark();
    const s1 = await st.stream(messageBody('claude-client-x'), { key: mapKey.apiKey });
    assert.equal(s1.status, 200);
    assert.equal(s1.events.at(-1).event, 'message_stop');
    assert.equal(st.mock.requests()[sm].body.model, 'upstream-model-y');
    assert.equal(st.mock.requests()[sm].body.stream, true);
    // usage is counted under the model the upstream used
    await waitFor(async () => (await redis('KEYS', `usage:daily:*:${mapKey.id}:*`)).length > 0, { what: 'daily usage written' });
    const daily = await redis('KEYS', `usage:daily:*:${mapKey.id}:*`);
    assert.ok(daily.every((k) => k.endsWith(':upstream-model-y')), daily.join());

    // The list: exact names, the model unchanged.
    const listKey = await newKey({ claudeConsoleAccountId: list.id });
    let m = mark();
    assert.equal((await send(listKey, messageBody('claude-list-b'))).status, 200);
    assert.equal(st.mock.requests()[m].body.model, 'claude-list-b');

    // A model no account of the key supports: a clear 404 naming it, and no upstream call.
    m = mark();
    for (const [key, model] of [[listKey, 'Claude-List-A'], [mapKey, 'claude-list-a']]) {
      const r = await send(key, messageBody(model));
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'not_found_error');
      assert.ok(r.json.error.message.includes(model), r.json.error.message);
    }
    const pool = await newKey();
    const r = await send(pool, messageBody('claude-nobody-has'));
    assert.equal(r.status, 404, r.text);
    assert.match(r.json.error.message, /claude-nobody-has/);
    assert.equal(st.mock.requests().length, m, 'nothing went upstream');

    // Explain: "model not supported" for the accounts that do not serve it, the upstream name for a mapping.
    const ex = await explain(pool, 'claude-client-x');
    assert.equal(ex.status, 200, ex.text);
    const by = byId(ex);
    assert.equal(by[list.id].eligible, false);
    assert.equal(by[list.id].reason, 'model not supported');
    assert.equal(by[map.id].eligible, true);
    assert.equal(by[map.id].upstreamModel, 'upstream-model-y');
    assert.equal(ex.json.data.picked.id, map.id);
    // ...while a supported model on an account that cannot take it now stays a 503
    await api(st.relay, 'PUT', `/admin/claude-console-accounts/${list.id}/toggle-schedulable`, { token: st.token });
    const busy = await send(listKey, messageBody('claude-list-a'));
    assert.equal(busy.status, 503, busy.text);
    assert.equal(busy.json.error.type, 'overloaded_error');
    const ex2 = byId(await explain(pool, 'claude-list-a'));
    assert.equal(ex2[map.id].reason, 'model not supported');
    assert.equal(ex2[list.id].reason, 'not schedulable', 'checked in order: schedulable before the model');
    const ex3 = byId(await explain(pool));
    assert.equal(ex3[map.id].eligible, true, 'no model named: nothing to check');

    // Emptied (null or []): every model again.
    const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${map.id}`, { token: st.token, body: { supportedModels: null } });
    assert.equal(up.status, 200, up.text);
    assert.deepEqual(up.json.data.supportedModels, []);
    m = mark();
    assert.equal((await send(mapKey, messageBody('claude-anything'))).status, 200);
    assert.equal(st.mock.requests()[m].body.model, 'claude-anything');
  } finally {
    await removeAll();
  }
});

test('admin: a bad supportedModels is refused with 400 naming the field', async () => {
  const base = { name: 'bad-models', apiUrl: st.mock.url, apiKey: 'sk-ant-x' };
  const long = 'm'.repeat(201);
  const many = Array.from({ length: 501 }, (_, i) => `m${i}`);
  for (const supportedModels of ['claude-a', 42, true, [1], ['ok', null], [''], { a: 2 }, { a: ['b'] }, [long], many, { k: long }]) {
    const r = await api(st.relay, 'POST', '/admin/claude-console-accounts', { token: st.token, body: { ...base, supportedModels } });
    assert.equal(r.status, 400, `${JSON.stringify(supportedModels).slice(0, 60)}: ${r.text}`);
    assert.match(r.json.error, /^supportedModels /, r.text);
  }
  const rl = await api(st.relay, 'POST', '/admin/claude-console-accounts', { token: st.token, body: { ...base, rateLimitDuration: -1 } });
  assert.equal(rl.status, 400);
  assert.match(rl.json.error, /^rateLimitDuration /);
  const list = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  assert.ok(!list.json.data.some((a) => a.name === 'bad-models'), 'nothing was created');
});

test('a timed block: a 400 naming a disabled account blocks it for CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES', async () => {
  try {
    const bad = await account('error-400-this-organization-has-been-disabled', { priority: 1 });
    const good = await account('blk-good', { priority: 50 });
    const key = await newKey();
    const t0 = Date.now();
    const m = mark();
    const r = await send(key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(since(m), ['error-400-this-organization-has-been-disabled', 'blk-good']);
    const acc = await accountView(bad.id);
    assert.equal(acc.status, 'blocked');
    assert.match(acc.statusReason, /organization has been disabled/);
    const until = Date.parse(acc.statusUntil);
    assert.ok(Math.abs(until - (t0 + 120000)) < 5000, `statusUntil ${acc.statusUntil}`);
    const mk = JSON.parse(await redis('GET', `temp_unavailable:claude-console:${bad.id}`));
    assert.equal(mk.status, 'blocked');
    assert.equal(await redis('HGET', `claude_console_account:${bad.id}`, 'status'), 'active', 'a timed block is not the permanent mark');
    const ex = byId(await explain(key, 'claude-sonnet-4-5'));
    assert.equal(ex[bad.id].reason, 'blocked');
    assert.ok(Date.parse(ex[bad.id].until) > Date.now());
    assert.equal(ex[good.id].eligible, true);

    // Its end passes (moved into the past, as another instance would announce it): it recovers
    // by itself, with one recovery event, and takes requests again.
    const k = `temp_unavailable:claude-console:${bad.id}`;
    await redis('SET', k, JSON.stringify({ ...mk, until: Date.now() - 1000 }), 'PX', '60000');
    await redis('PUBLISH', 'relay:notify', `account ${bad.id} another-instance`);
    await waitFor(async () => (await accountView(bad.id)).status === 'active', { timeout: 5000, what: 'the block ends' });
    await waitFor(async () => (await redis('EXISTS', k)) === 0, { timeout: 5000, what: 'the mark removed' });
    const evs = (await redis('XRANGE', 'account_events', '-', '+')).map(([, kv]) => kv).filter((kv) => kv[kv.indexOf('account') + 1] === bad.id);
    assert.deepEqual(evs.map((kv) => kv[kv.indexOf('to') + 1]), ['blocked', 'active']);
    const m2 = mark();
    assert.equal((await send(key)).status, 200);
    assert.equal(since(m2)[0], 'error-400-this-organization-has-been-disabled', 'tried again');
  } finally {
    await removeAll();
  }
});
