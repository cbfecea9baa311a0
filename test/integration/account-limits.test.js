'use strict';
// Per-account limits (issue 8; crs-relay-spec 5.4 "Per-account concurrency" and "Daily quota"),
// for every account type (common schema fields):
//  - maxConcurrentTasks: at most N requests in flight on the account across all relays (leases in
//    concurrency:{accountId}); a full account is skipped and the next one takes the request; when
//    every candidate is full the client gets 503 overloaded_error naming the concurrency limit;
//    leases go back on every path (answer, client abort), /health counts return to 0.
//  - dailyQuota / quotaResetTime: the request whose cost reaches the quota stops the account until
//    the next reset, on every relay (notify); reset-status or a new quota clears the stop.
//  - the admin API refuses bad values naming the field; the Redis commands a limited account
//    costs per request are counted (INFO commandstats).
// Requests held in flight are long streams (the mock's slow chunks): a request is "in flight" once
// its headers arrived, so nothing here depends on timing.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { stack, api, createConsoleAccount, messageBody, waitFor, startRelay, login, redisCmd, httpRequest, ownRedisCommands, keyUsage, waitForUsage, assertReleased: released } = require('../lib/env');

const ACC = '/admin/claude-console-accounts';
let st;

before(async () => {
  st = await stack({ account: false });
});
after(async () => {
  if (st) await st.teardown();
});

const redis = (...args) => redisCmd(st.redis.port, ...args);

// Each account has its own upstream key, so the mock's records tell which one served a request.
async function account(name, extra = {}) {
  const a = await createConsoleAccount(st.relay, st.token, { name, apiUrl: st.mock.url, apiKey: `sk-ant-test-${name}-0123456789abcdef`, ...extra });
  a.upstreamKey = `sk-ant-test-${name}-0123456789abcdef`;
  return a;
}

async function remove(...accs) {
  for (const a of accs) await api(st.relay, 'DELETE', `${ACC}/${a.id}`, { token: st.token });
}

async function view(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', ACC, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function explain(relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', `/admin/scheduler/explain?keyId=${st.key.id}&model=claude-sonnet-4-5`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

const explained = async (id, relay, token) => (await explain(relay, token)).accounts.find((a) => a.id === id);
const served = (n) => st.mock.messageRequests().slice(n).map((r) => r.headers['x-api-key']);

function send(relay = st.relay, body = messageBody()) {
  return httpRequest(`${relay.url}/api/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' },
    body,
  });
}

// A long stream (the mock's slow chunks), in flight once its headers arrived; abort() is the client
// leaving. (A never-answering upstream would do too, but curl holds a second request to the same
// plain-http host until the first one's answer shows it is HTTP/1.1: CURLOPT_PIPEWAIT.)
// A body without text has no session: with a cached key it runs inline on the I/O thread, which
// must hand the Redis slot-taking over to a worker.
const SESSIONLESS = { messages: [{ role: 'user', content: [] }] };

function hold(relay = st.relay, extra = {}) {
  const seen = st.mock.messageRequests().length;
  const body = JSON.stringify({ ...messageBody('mock-slow-chunks-2000-50', extra), stream: true });
  return new Promise((resolve, reject) => {
    const req = http.request(`${relay.url}/api/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => {});
    req.on('response', (res) => {
      res.on('data', () => {});
      res.on('error', () => {});
      if (res.statusCode !== 200) return reject(new Error(`held request: HTTP ${res.statusCode}`));
      resolve({ upstreamKey: st.mock.messageRequests()[seen].headers['x-api-key'], abort: () => req.destroy() });
    });
    req.end(body);
  });
}

const assertReleased = (relay = st.relay) => released(relay);

async function leasesInRedis(id) {
  return Number(await redis('ZCARD', `concurrency:${id}`));
}

test('maxConcurrentTasks 1 on two accounts: two concurrent requests land on different accounts', async () => {
  const A = await account('cA', { priority: 1, maxConcurrentTasks: 1 });
  const B = await account('cB', { priority: 2, maxConcurrentTasks: 1 });
  try {
    const h = await hold();
    assert.equal(h.upstreamKey, A.upstreamKey, 'the first request takes the preferred account');
    assert.equal(await leasesInRedis(A.id), 1, 'its slot is a lease in concurrency:{accountId}');
    const ex = await explained(A.id);
    assert.equal(ex.eligible, false);
    assert.equal(ex.reason, 'over concurrency');
    assert.equal(ex.maxConcurrentTasks, 1);
    const n = st.mock.messageRequests().length;
    const r = await send();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(served(n), [B.upstreamKey], 'the second request went to the other account');
    h.abort();
    await assertReleased();
    await waitFor(async () => (await leasesInRedis(A.id)) === 0 && (await leasesInRedis(B.id)) === 0, { timeout: 5000, what: 'leases returned in Redis' });
  } finally {
    await remove(A, B);
  }
});

test('maxConcurrentTasks 1 on the only account: the second request gets 503 at once, leases return to 0', async () => {
  const A = await account('solo', { maxConcurrentTasks: 1 });
  try {
    const h = await hold(st.relay, SESSIONLESS);
    assert.equal(await leasesInRedis(A.id), 1, 'the inline path took the shared slot too');
    const n = st.mock.messageRequests().length;
    const r = await send(st.relay, messageBody('claude-sonnet-4-5', SESSIONLESS));
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'overloaded_error');
    assert.match(r.json.error.message, /reached their concurrency limit/);
    assert.equal(st.mock.messageRequests().length, n, 'nothing was sent upstream');
    assert.equal((await view(A.id)).status, 'active', 'a full account is not marked');
    h.abort(); // the client leaves: its lease goes back
    await assertReleased();
    await waitFor(async () => (await leasesInRedis(A.id)) === 0, { timeout: 5000, what: 'lease returned in Redis' });
    const again = await send();
    assert.equal(again.status, 200, again.text);
  } finally {
    await remove(A);
  }
  await assertReleased();
});

test('a sticky session bound to a full account rebinds to the account that takes it', async () => {
  const A = await account('sA', { priority: 1, maxConcurrentTasks: 1 });
  const B = await account('sB', { priority: 2 });
  try {
    const sid = require('node:crypto').randomUUID();
    const userId = JSON.stringify({ device_id: 'b'.repeat(64), account_uuid: '', session_id: sid });
    const body = messageBody('claude-sonnet-4-5', { metadata: { user_id: userId } });
    assert.equal((await send(st.relay, body)).status, 200);
    assert.equal(await redis('GET', `sticky_session:${sid}`), A.id, 'the session is bound to A');
    const h = await hold(); // another session fills A
    assert.equal(h.upstreamKey, A.upstreamKey);
    const n = st.mock.messageRequests().length;
    assert.equal((await send(st.relay, body)).status, 200);
    assert.deepEqual(served(n), [B.upstreamKey]);
    assert.equal(await redis('GET', `sticky_session:${sid}`), B.id, 'rebound to B');
    h.abort();
    await assertReleased();
  } finally {
    await remove(A, B);
  }
});

test('two relays on one Redis: the limit holds across them, a full account fails over', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  const A = await account('x1', { priority: 1, maxConcurrentTasks: 1 });
  let B;
  try {
    const token2 = await login(relay2);
    await waitFor(async () => (await explained(A.id, relay2, token2)) !== undefined, { what: 'relay2 sees A' });
    const h = await hold(st.relay);
    // relay2 has nothing in flight on A: only the shared lease can refuse it
    assert.equal((await explained(A.id, relay2, token2)).eligible, true);
    const n = st.mock.messageRequests().length;
    const r = await send(relay2);
    assert.equal(r.status, 503, r.text);
    assert.match(r.json.error.message, /concurrency limit/);
    assert.equal(st.mock.messageRequests().length, n);
    B = await account('x2', { priority: 2 });
    await waitFor(async () => (await explained(B.id, relay2, token2)) !== undefined, { what: 'relay2 sees B' });
    const r2 = await send(relay2);
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(served(n), [B.upstreamKey], 'A refused by its shared limit, B took the request');
    h.abort();
    await assertReleased(st.relay);
    await assertReleased(relay2);
    await waitFor(async () => (await leasesInRedis(A.id)) === 0, { timeout: 5000, what: 'lease returned in Redis' });
  } finally {
    await remove(A, ...(B ? [B] : []));
    await relay2.stop();
    const rep = relay2.sanitizerReport();
    assert.equal(rep, null, rep || '');
  }
});

test('dailyQuota: the request that reaches it stops the account on every relay; reset-status and a new quota clear it', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  const A = await account('qA', { priority: 1, dailyQuota: 0.000001, quotaResetTime: '00:00' });
  const B = await account('qB', { priority: 2 });
  try {
    const token2 = await login(relay2);
    await waitFor(async () => (await explained(A.id, relay2, token2)) !== undefined, { what: 'relay2 sees A' });
    let n = st.mock.messageRequests().length;
    assert.equal((await send()).status, 200);
    assert.deepEqual(served(n), [A.upstreamKey]);
    // one priced request (> 1 micro-USD) reaches the quota
    await waitFor(async () => (await explained(A.id)).reason === 'daily quota reached', { timeout: 5000, what: 'A stopped here' });
    const ex = await explained(A.id);
    assert.ok(Date.parse(ex.until) > Date.now(), `until in the future: ${ex.until}`);
    await waitFor(async () => (await explained(A.id, relay2, token2)).reason === 'daily quota reached', { timeout: 5000, what: 'relay2 stopped A too' });
    const v = await view(A.id);
    assert.equal(v.quotaStoppedUntil, ex.until);
    assert.ok(v.quotaStoppedAt);
    assert.equal(v.dailyQuota, 0.000001);
    const evs = await redis('XRANGE', 'account_events', '-', '+');
    assert.ok(
      evs.some(([, kv]) => kv.includes(A.id) && kv.includes('quota_exceeded')),
      'an account_events entry for the stop',
    );
    n = st.mock.messageRequests().length;
    assert.equal((await send(relay2)).status, 200);
    assert.equal((await send()).status, 200);
    assert.deepEqual(served(n), [B.upstreamKey, B.upstreamKey], 'both relays send to B meanwhile');

    // reset-status clears the stop (and the day's count) everywhere
    const rs = await api(st.relay, 'POST', `${ACC}/${A.id}/reset-status`, { token: st.token });
    assert.equal(rs.status, 200, rs.text);
    assert.equal(rs.json.data.quotaStoppedUntil, null);
    assert.equal((await explained(A.id)).eligible, true);
    await waitFor(async () => (await explained(A.id, relay2, token2)).eligible === true, { timeout: 5000, what: 'relay2 sees the reset' });
    n = st.mock.messageRequests().length;
    assert.equal((await send()).status, 200);
    assert.deepEqual(served(n), [A.upstreamKey], 'A serves again');
    await waitFor(async () => (await explained(A.id)).reason === 'daily quota reached', { timeout: 5000, what: 'A stopped again' });

    // a new quota clears the stop; the next request is judged against it
    const up = await api(st.relay, 'PUT', `${ACC}/${A.id}`, { token: st.token, body: { dailyQuota: 100 } });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.data.quotaStoppedUntil, null);
    assert.equal((await explained(A.id)).eligible, true);
    await waitFor(async () => (await explained(A.id, relay2, token2)).eligible === true, { timeout: 5000, what: 'relay2 sees the new quota' });
    const base = (await keyUsage(st.redis.port, st.key.id)).requests || 0;
    assert.equal((await send()).status, 200);
    await waitForUsage(st.redis.port, st.key.id, base + 1, 5000);
    assert.equal((await explained(A.id)).eligible, true, 'far below the new quota');

    // the only account over its quota: 503
    await api(st.relay, 'PUT', `${ACC}/${A.id}`, { token: st.token, body: { dailyQuota: 0.000001 } });
    assert.equal((await send()).status, 200);
    await waitFor(async () => (await explained(A.id)).reason === 'daily quota reached', { timeout: 5000, what: 'A stopped once more' });
    await remove(B);
    const r = await send();
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.type, 'overloaded_error');
    await assertReleased();
  } finally {
    await remove(A, B);
    await relay2.stop();
    const rep = relay2.sanitizerReport();
    assert.equal(rep, null, rep || '');
  }
});

test('admin API: limit fields accepted and typed, bad values refused naming the field', async () => {
  const A = await account('adm', { maxConcurrentTasks: 3, dailyQuota: 12.5, quotaResetTime: '08:30' });
  try {
    assert.equal(A.data.maxConcurrentTasks, 3);
    assert.equal(A.data.dailyQuota, 12.5);
    assert.equal(A.data.quotaResetTime, '08:30');
    assert.equal(A.data.quotaStoppedUntil, null);
    const plain = await account('adm2');
    assert.equal(plain.data.maxConcurrentTasks, 0);
    assert.equal(plain.data.dailyQuota, 0);
    assert.equal(plain.data.quotaResetTime, '00:00');
    await remove(plain);
    const cases = [
      [{ maxConcurrentTasks: -1 }, 'maxConcurrentTasks'],
      [{ maxConcurrentTasks: 1.5 }, 'maxConcurrentTasks'],
      [{ maxConcurrentTasks: '2' }, 'maxConcurrentTasks'],
      [{ dailyQuota: -1 }, 'dailyQuota'],
      [{ dailyQuota: 'lots' }, 'dailyQuota'],
      [{ dailyQuota: 1.0000001 }, 'dailyQuota'],
      [{ dailyQuota: 2000000 }, 'dailyQuota'],
      [{ quotaResetTime: '24:00' }, 'quotaResetTime'],
      [{ quotaResetTime: '8:30' }, 'quotaResetTime'],
      [{ quotaResetTime: 830 }, 'quotaResetTime'],
      [{ quotaStoppedUntil: 0 }, 'quotaStoppedUntil'],
      [{ quotaStoppedAt: '' }, 'quotaStoppedAt'],
    ];
    for (const [body, field] of cases) {
      const r = await api(st.relay, 'PUT', `${ACC}/${A.id}`, { token: st.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.ok(r.json.error.startsWith(field), `${JSON.stringify(body)}: ${r.json.error}`);
    }
    const ok = await api(st.relay, 'PUT', `${ACC}/${A.id}`, { token: st.token, body: { dailyQuota: '0.25', maxConcurrentTasks: 0 } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.data.dailyQuota, 0.25);
    assert.equal(await redis('HGET', `claude_console_account:${A.id}`, 'dailyQuota'), '0.25');
  } finally {
    await remove(A);
  }
});

// Redis commands of N sequential requests, by command, less this process's own (its usage polls).
async function commandsOf(N) {
  const base = (await keyUsage(st.redis.port, st.key.id)).requests || 0;
  const before0 = await st.redis.commandCalls();
  const own0 = { ...ownRedisCommands };
  for (let i = 0; i < N; i++) assert.equal((await send()).status, 200);
  await waitForUsage(st.redis.port, st.key.id, base + N, 5000); // the group-committed accounting landed
  await assertReleased();
  const after0 = await st.redis.commandCalls();
  const per = {};
  for (const [k, v] of Object.entries(after0.per)) {
    const d = v - (before0.per[k] || 0) - ((ownRedisCommands[k] || 0) - (own0[k] || 0));
    if (d) per[k] = d;
  }
  return per;
}

// One request, its accounting landed (scripts loaded, the quota day's counter created).
async function warmUp() {
  const base = (await keyUsage(st.redis.port, st.key.id)).requests || 0;
  assert.equal((await send()).status, 200);
  await waitForUsage(st.redis.port, st.key.id, base + 1, 5000);
}

test('Redis commands: a limited account costs a lease script + ZREM + INCRBY per request, an unlimited one nothing extra (printed)', async () => {
  const N = 10;
  const A = await account('cost', { maxConcurrentTasks: 5, dailyQuota: 1000 });
  try {
    await warmUp();
    const lim = await commandsOf(N);
    await api(st.relay, 'PUT', `${ACC}/${A.id}`, { token: st.token, body: { maxConcurrentTasks: 0, dailyQuota: 0 } });
    await warmUp();
    const plain = await commandsOf(N);
    console.log(`account_limits_commands: limited=${JSON.stringify(lim)} plain=${JSON.stringify(plain)}`);
    for (const c of ['zremrangebyscore', 'zcard', 'zadd', 'pexpire', 'zrem', 'incrby']) {
      assert.equal(lim[c] || 0, N, `${c} once per limited request`);
      assert.equal(plain[c] || 0, 0, `no ${c} for an account without limits`);
    }
    assert.equal((lim.evalsha || 0) - (plain.evalsha || 0), N, 'one more script call (the lease) per limited request');
  } finally {
    await remove(A);
  }
});
