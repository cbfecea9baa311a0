'use strict';
// Issue 12 (API half): the statistics behind the admin UI and key-holder self-service.
// Traffic with the Anthropic SDK through the relay (two keys, each bound to its own account, two
// models), then every statistics route checked to the token and the micro-dollar, in a non-zero
// TIMEZONE_OFFSET; the request log's bound and fields; retention TTLs; self-service by the key
// itself (401 for a wrong key, nothing by id, throttled); /openai and /gemini usage and key-info;
// the statistics flush's Redis cost, apart from the one accounting round trip per request.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');
const { stack, startRelay, api, createKey, createConsoleAccount, httpRequest, redisCmd, redisCommandCalls, waitFor, sleep, MOCK_ACCOUNT_KEY } = require('../lib/env');

const TZ = -5; // hours: local dates and hours differ from UTC ones for part of every day
const LOG_MAX = 4;
const RETENTION_DAYS = 10;
const SONNET = 'claude-sonnet-4-5';
const HAIKU = 'claude-haiku-4-5';
// The mock's usage: 11 input, 13 output, 7 cache writes (3 for 5 m, 4 for 1 h), 5 cache reads.
const PER = { inputTokens: 11, outputTokens: 13, cacheCreateTokens: 7, cacheReadTokens: 5, ephemeral5mTokens: 3, ephemeral1hTokens: 4, allTokens: 36 };
const COST = { [SONNET]: 265, [HAIKU]: 88 }; // micro-USD, as keypolicy.test.js hand-computes them

let st, acc2, key1, key2;
let labels; // local day / hour / month when the traffic ran

function local(ms = Date.now()) {
  const iso = new Date(ms + TZ * 3600e3).toISOString();
  return { day: iso.slice(0, 10), hour: `${iso.slice(0, 10)}T${iso.slice(11, 13)}`, month: iso.slice(0, 7) };
}

function expect(requests, micro) {
  const o = { requests };
  for (const [k, v] of Object.entries(PER)) o[k] = v * requests;
  o.cost = micro / 1e6;
  return o;
}

function pick(o) {
  const r = {};
  for (const k of ['requests', ...Object.keys(PER), 'cost']) r[k] = o[k];
  return r;
}

const admin = (p) => api(st.relay, 'GET', p, { token: st.token });
const self = (p, body) => api(st.relay, 'POST', `/apiStats/api/${p}`, { body });

before(async () => {
  st = await stack({ env: { TIMEZONE_OFFSET: String(TZ), REQUEST_LOG_MAX: String(LOG_MAX), TOKEN_USAGE_RETENTION: String(RETENTION_DAYS), LOGIN_MAX_FAILURES: '3' }, key: false });
  acc2 = await createConsoleAccount(st.relay, st.token, { name: 'mock-2', apiUrl: st.mock.url, apiKey: MOCK_ACCOUNT_KEY });
  key1 = await createKey(st.relay, st.token, { name: 'k-one', claudeConsoleAccountId: st.account.id, dailyCostLimit: 1 });
  key2 = await createKey(st.relay, st.token, { name: 'k-two', claudeConsoleAccountId: acc2.id });
  const c1 = new Anthropic({ apiKey: key1.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
  const c2 = new Anthropic({ apiKey: key2.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
  const msg = (model) => ({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] });
  const before0 = local();
  for (let i = 0; i < 3; i++) await c1.messages.create(msg(SONNET));
  const s = c1.messages.stream(msg(HAIKU));
  await s.finalMessage();
  for (let i = 0; i < 2; i++) await c2.messages.create(msg(HAIKU));
  // a failed request: in key 1's log (status 400, no tokens), in no counter
  await assert.rejects(c1.messages.create(msg('mock-error-400')), (e) => e.status === 400);
  const after0 = local();
  labels = before0.hour === after0.hour ? after0 : null; // an hour boundary in between: skip bucket labels
  await waitFor(async () => {
    const r = await admin('/admin/dashboard');
    return r.status === 200 && r.json.data.today.requests === 6;
  }, { timeout: 15000, interval: 200, what: 'statistics flushed' });
});

after(async () => {
  if (st) await st.teardown();
});

test('admin statistics routes refuse without a session', async () => {
  for (const p of ['/admin/dashboard', '/admin/usage-trend', '/admin/api-keys-usage-trend', '/admin/account-usage-trend', '/admin/model-stats', '/admin/usage-costs', '/admin/cost-ranking', `/admin/request-log?keyId=${key1.id}`, `/admin/api-keys/${key1.id}/usage-trend`, `/admin/accounts/${acc2.id}/usage-records`]) {
    const r = await api(st.relay, 'GET', p);
    assert.equal(r.status, 401, p);
    assert.ok(!r.text.includes('requests'), p);
  }
});

test('dashboard: keys and accounts by state, today / month / total, rpm, Redis health', async () => {
  const r = await admin('/admin/dashboard');
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.overview.totalApiKeys, 2);
  assert.equal(d.overview.activeApiKeys, 2);
  assert.equal(d.overview.disabledApiKeys, 0);
  assert.equal(d.overview.expiredApiKeys, 0);
  assert.equal(d.overview.totalAccounts, 2, JSON.stringify(d.overview));
  assert.equal(d.overview.normalAccounts, 2);
  assert.equal(d.overview.accountsByPlatform['claude-console'].total, 2);
  const all = expect(6, 3 * COST[SONNET] + 3 * COST[HAIKU]);
  assert.deepEqual(pick(d.today), all);
  assert.deepEqual(pick(d.month), all);
  assert.deepEqual(pick(d.total), all);
  assert.equal(d.overview.totalRequestsUsed, 6);
  assert.equal(d.overview.totalAllTokensUsed, 6 * 36);
  assert.equal(d.recentActivity.requestsToday, 6);
  assert.equal(d.realtimeMetrics.windowMinutes, 5);
  assert.equal(d.realtimeMetrics.rpm, 6 / 5);
  assert.equal(d.realtimeMetrics.tpm, (6 * 36) / 5);
  assert.equal(d.systemHealth.redisConnected, true);
  assert.ok(d.systemHealth.uptime >= 0);
  assert.equal(d.systemTimezone, TZ * 60);
  if (labels) assert.equal(d.date, labels.day);
});

test('usage trend by day and by hour (TIMEZONE_OFFSET), overall, per key and per account', async () => {
  const day = await admin('/admin/usage-trend?granularity=day&days=3');
  assert.equal(day.status, 200, day.text);
  assert.equal(day.json.granularity, 'day');
  assert.equal(day.json.data.length, 3);
  const today = day.json.data[2];
  assert.deepEqual(pick(today), expect(6, 3 * COST[SONNET] + 3 * COST[HAIKU]));
  assert.equal(day.json.data[0].requests + day.json.data[1].requests, 0);
  const hour = await admin('/admin/usage-trend?granularity=hour&days=1');
  assert.equal(hour.json.data.length, 24);
  const last = hour.json.data[23];
  assert.equal(last.requests, 6);
  if (labels) {
    assert.equal(today.date, labels.day);
    assert.equal(last.hour, labels.hour);
  }
  const k1 = await admin(`/admin/api-keys/${key1.id}/usage-trend?days=1`);
  assert.deepEqual(pick(k1.json.data[0]), expect(4, 3 * COST[SONNET] + COST[HAIKU]));
  const k2 = await admin(`/admin/usage-trend?keyId=${key2.id}&granularity=hour&days=1`);
  assert.deepEqual(pick(k2.json.data[23]), expect(2, 2 * COST[HAIKU]));
  const a2 = await admin(`/admin/accounts/${acc2.id}/usage-trend?days=2`);
  assert.deepEqual(pick(a2.json.data[1]), expect(2, 2 * COST[HAIKU]));
  const a1 = await admin(`/admin/usage-trend?accountId=${st.account.id}&days=1`);
  assert.deepEqual(pick(a1.json.data[0]), expect(4, 3 * COST[SONNET] + COST[HAIKU]));
});

test('per-key and per-account series: the top ones by cost, each bucket', async () => {
  const keys = await admin('/admin/api-keys-usage-trend?granularity=day&days=2');
  assert.equal(keys.status, 200, keys.text);
  assert.deepEqual(keys.json.topApiKeys, [key1.id, key2.id]);
  assert.equal(keys.json.totalApiKeys, 2);
  assert.equal(keys.json.data.length, 2);
  const today = keys.json.data[1];
  assert.deepEqual({ ...today[key1.id] }, { requests: 4, allTokens: 144, cost: (3 * COST[SONNET] + COST[HAIKU]) / 1e6, formattedCost: '$0.000883' });
  assert.equal(today[key2.id].requests, 2);
  assert.equal(keys.json.data[0][key1.id].requests, 0);
  const one = await admin('/admin/api-keys-usage-trend?limit=1');
  assert.deepEqual(one.json.topApiKeys, [key1.id]);
  assert.equal(one.json.data[6][key2.id], undefined);
  const accs = await admin('/admin/account-usage-trend?granularity=hour&days=1');
  assert.equal(accs.status, 200, accs.text);
  assert.deepEqual(accs.json.topAccounts, [st.account.id, acc2.id]);
  assert.equal(accs.json.data.length, 24);
  assert.equal(accs.json.data[23][acc2.id].cost, (2 * COST[HAIKU]) / 1e6);
  if (labels) assert.equal(accs.json.data[23].hour, labels.hour);
  const bad = await admin('/admin/account-usage-trend?limit=0');
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /^limit:/);
});

test('model stats daily / monthly / total, overall and per key, sorted by cost', async () => {
  for (const period of ['daily', 'monthly', 'total']) {
    const r = await admin(`/admin/model-stats?period=${period}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.map((m) => m.model), [SONNET, HAIKU], period);
    assert.deepEqual(pick(r.json.data[0]), expect(3, 3 * COST[SONNET]));
    assert.deepEqual(pick(r.json.data[1]), expect(3, 3 * COST[HAIKU]));
  }
  const k = await admin(`/admin/model-stats?period=monthly&keyId=${key1.id}`);
  assert.deepEqual(k.json.data.map((m) => [m.model, m.requests]), [[SONNET, 3], [HAIKU, 1]]);
  if (labels) assert.equal(k.json.data[0].period, labels.month);
  const old = await admin(`/admin/model-stats?period=daily&date=2001-01-01`);
  assert.deepEqual(old.json.data, []);
});

// The day n days from day (YYYY-MM-DD), by the calendar.
const shift = (day, n) => new Date(Date.parse(day + 'T00:00:00Z') + n * 86400e3).toISOString().slice(0, 10);

test('startDate / endDate (TIMEZONE_OFFSET dates): the traffic is inside a range with its day, outside one without', async (t) => {
  if (!labels || local().day !== labels.day) return t.skip('the traffic ran across an hour or the day has turned since');
  const T = labels.day, range = (a, b) => `startDate=${a}&endDate=${b}`;
  const all = expect(6, 3 * COST[SONNET] + 3 * COST[HAIKU]);
  const day = await admin(`/admin/usage-trend?${range(shift(T, -2), T)}`);
  assert.equal(day.status, 200, day.text);
  assert.deepEqual(day.json.data.map((b) => [b.date, b.requests]), [[shift(T, -2), 0], [shift(T, -1), 0], [T, 6]]);
  assert.deepEqual(pick(day.json.data[2]), all);
  const before = await admin(`/admin/usage-trend?${range(shift(T, -3), shift(T, -1))}`);
  assert.deepEqual(before.json.data.map((b) => [b.date, b.requests]), [[shift(T, -3), 0], [shift(T, -2), 0], [shift(T, -1), 0]]);
  // by hour: every hour of the dates, the traffic in its own hour
  const hour = await admin(`/admin/usage-trend?granularity=hour&${range(T, T)}`);
  assert.equal(hour.json.granularity, 'hour');
  assert.equal(hour.json.data.length, 24);
  assert.equal(hour.json.data[0].hour, `${T}T00`);
  assert.equal(hour.json.data[23].hour, `${T}T23`);
  assert.deepEqual(hour.json.data.filter((b) => b.requests).map((b) => [b.hour, b.requests]), [[labels.hour, 6]]);
  const hourBefore = await admin(`/admin/usage-trend?granularity=hour&${range(shift(T, -1), shift(T, -1))}`);
  assert.equal(hourBefore.json.data.reduce((a, b) => a + b.requests, 0), 0);
  // one key's, one account's
  const k1 = await admin(`/admin/api-keys/${key1.id}/usage-trend?${range(T, T)}`);
  assert.deepEqual(k1.json.data.map(pick), [expect(4, 3 * COST[SONNET] + COST[HAIKU])]);
  const a2 = await admin(`/admin/accounts/${acc2.id}/usage-trend?${range(shift(T, -1), T)}`);
  assert.deepEqual(a2.json.data.map((b) => b.requests), [0, 2]);
  // models over the range, and over days as the last n days
  const m = await admin(`/admin/model-stats?${range(shift(T, -1), T)}`);
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(m.json.data.map((x) => [x.model, x.period, x.requests, x.cost]), [
    [SONNET, `${shift(T, -1)}/${T}`, 3, (3 * COST[SONNET]) / 1e6], [HAIKU, `${shift(T, -1)}/${T}`, 3, (3 * COST[HAIKU]) / 1e6]]);
  assert.deepEqual((await admin(`/admin/model-stats?${range(shift(T, -2), shift(T, -1))}`)).json.data, []);
  const last3 = await admin('/admin/model-stats?days=3');
  assert.deepEqual(last3.json.data.map((x) => [x.model, x.period, x.requests]), [[SONNET, `${shift(T, -2)}/${T}`, 3], [HAIKU, `${shift(T, -2)}/${T}`, 3]]);
  const mk = await admin(`/admin/model-stats?keyId=${key1.id}&${range(T, T)}`);
  assert.deepEqual(mk.json.data.map((x) => [x.model, x.period, x.requests]), [[SONNET, T, 3], [HAIKU, T, 1]]);
  // the per-key series rank over the range's days
  const ks = await admin(`/admin/api-keys-usage-trend?${range(shift(T, -1), T)}`);
  assert.deepEqual(ks.json.topApiKeys, [key1.id, key2.id]);
  assert.deepEqual(ks.json.data.map((b) => [b.date, b[key1.id].requests, b[key2.id].requests]), [[shift(T, -1), 0, 0], [T, 4, 2]]);
  const none = await admin(`/admin/account-usage-trend?${range(shift(T, -2), shift(T, -1))}`);
  assert.deepEqual([none.json.topAccounts, none.json.totalAccounts, none.json.data.length], [[], 0, 2]);
});

test('startDate / endDate reads are bounded: one bucket read per day, no SCAN', async (t) => {
  if (!labels || local().day !== labels.day) return t.skip('the day has turned since the traffic');
  const T = labels.day;
  // The least of three tries: a maintenance read in between can only add commands.
  const cost = async (p) => {
    let best = null;
    for (let i = 0; i < 3; i++) {
      const a = (await redisCommandCalls(st.redis.port)).per;
      assert.equal((await admin(p)).status, 200, p);
      const b = (await redisCommandCalls(st.redis.port)).per;
      const d = {};
      for (const c of ['hmget', 'srandmember', 'scan', 'keys']) d[c] = (b[c] || 0) - (a[c] || 0);
      if (!best || d.hmget + d.srandmember < best.hmget + best.srandmember) best = d;
    }
    return best;
  };
  assert.deepEqual(await cost(`/admin/usage-trend?startDate=${shift(T, -4)}&endDate=${T}`), { hmget: 5, srandmember: 0, scan: 0, keys: 0 });
  assert.deepEqual(await cost(`/admin/usage-trend?granularity=hour&startDate=${shift(T, -1)}&endDate=${T}`), { hmget: 48, srandmember: 0, scan: 0, keys: 0 });
  // models: the 5 days' index sets, then the 2 models' 5 buckets each
  assert.deepEqual(await cost(`/admin/model-stats?startDate=${shift(T, -4)}&endDate=${T}`), { hmget: 10, srandmember: 5, scan: 0, keys: 0 });
});

test('usage costs today / 7days / monthly / all and the cost ranking of keys', async () => {
  for (const period of ['today', '7days', 'monthly', 'all']) {
    const r = await admin(`/admin/usage-costs?period=${period}`);
    assert.equal(r.status, 200, r.text);
    const d = r.json.data;
    assert.equal(d.period, period);
    assert.equal(d.totalCosts.totalCost, (3 * COST[SONNET] + 3 * COST[HAIKU]) / 1e6);
    assert.equal(d.totalCosts.requests, 6);
    assert.deepEqual(d.modelCosts.map((m) => [m.model, m.requests, m.costs.total]), [
      [SONNET, 3, (3 * COST[SONNET]) / 1e6],
      [HAIKU, 3, (3 * COST[HAIKU]) / 1e6],
    ]);
    const rank = await admin(`/admin/cost-ranking?period=${period}`);
    assert.equal(rank.status, 200, rank.text);
    assert.deepEqual(rank.json.data.keys.map((k) => [k.keyId, k.name, k.requests, k.cost]), [
      [key1.id, 'k-one', 4, (3 * COST[SONNET] + COST[HAIKU]) / 1e6],
      [key2.id, 'k-two', 2, (2 * COST[HAIKU]) / 1e6],
    ]);
  }
  const one = await admin('/admin/cost-ranking?limit=1');
  assert.deepEqual(one.json.data.keys.map((k) => k.keyId), [key1.id]);
});

test('statistics agree with the exact per-key accounting', async () => {
  for (const [k, n, micro] of [[key1, 4, 3 * COST[SONNET] + COST[HAIKU]], [key2, 2, 2 * COST[HAIKU]]]) {
    const cost = await redisCmd(st.redis.port, 'HGET', `api_key_cost:${k.id}`, 'totalMicro');
    assert.equal(Number(cost), micro);
    const req = await redisCmd(st.redis.port, 'HGET', `api_key_usage:${k.id}`, 'requests');
    assert.equal(Number(req), n);
  }
});

test('request log: bounded per key and per account, newest first, every field', async () => {
  const r = await admin(`/admin/request-log?keyId=${key1.id}`);
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.max, LOG_MAX);
  assert.equal(d.records.length, LOG_MAX); // 5 requests made, the oldest one dropped
  const [failed, stream] = d.records;
  assert.equal(failed.status, 400, JSON.stringify(failed));
  assert.equal(failed.allTokens, 0);
  assert.equal(failed.cost, 0);
  assert.equal(failed.model, 'mock-error-400');
  assert.equal(stream.model, HAIKU);
  assert.equal(stream.stream, true);
  assert.equal(stream.status, 200);
  assert.equal(stream.keyId, key1.id);
  assert.equal(stream.accountId, st.account.id);
  assert.equal(stream.attempts, 1);
  assert.equal(stream.cost, COST[HAIKU] / 1e6);
  assert.equal(stream.formattedCost, '$0.000088');
  for (const [k, v] of Object.entries(PER)) assert.equal(stream[k], v, k);
  assert.ok(stream.durationMs >= 0 && stream.ttftMs >= 0 && stream.ttftMs <= stream.durationMs, JSON.stringify(stream));
  assert.ok(Date.parse(stream.timestamp) > Date.now() - 600e3);
  const sonnet = d.records.slice(2);
  assert.deepEqual(sonnet.map((x) => [x.model, x.stream]), [[SONNET, false], [SONNET, false]]);
  const byModel = await admin(`/admin/request-log?keyId=${key1.id}&model=${HAIKU}`);
  assert.equal(byModel.json.data.records.length, 1);
  const acc = await admin(`/admin/accounts/${acc2.id}/usage-records?limit=1`);
  assert.equal(acc.json.data.records.length, 1);
  assert.equal(acc.json.data.records[0].keyId, key2.id);
  const accAll = await admin(`/admin/request-log?accountId=${acc2.id}`);
  assert.equal(accAll.json.data.records.length, 2);
  const keyPath = await admin(`/admin/api-keys/${key2.id}/usage-records`);
  assert.equal(keyPath.json.data.records.length, 2);
  assert.equal(await redisCmd(st.redis.port, 'LLEN', `usage:records:${key1.id}`), LOG_MAX);
  // every key's log: the newest LOG_MAX of the 7 requests
  const all = await admin('/admin/request-log');
  assert.deepEqual(all.json.data.records.map((x) => [x.keyId, x.model]), [[key1.id, 'mock-error-400'], [key2.id, HAIKU], [key2.id, HAIKU], [key1.id, HAIKU]]);
});

// [path, the parameter its 400 names] for the date ranges (RETENTION_DAYS kept, hours 7 days).
function dateCases() {
  const T = local().day, r = (a, b) => `startDate=${a}&endDate=${b}`;
  return [
    [`/admin/usage-trend?${r('2026-13-01', T)}`, 'startDate'],
    [`/admin/usage-trend?${r('2026-02-30', T)}`, 'startDate'],
    [`/admin/usage-trend?${r(T, T.replace(/-/g, '/'))}`, 'endDate'],
    [`/admin/usage-trend?${r(T, shift(T, -1))}`, 'endDate'], // end before start
    [`/admin/usage-trend?${r(T, shift(T, 1))}`, 'endDate'], // after today
    [`/admin/usage-trend?startDate=${T}`, 'endDate'],
    [`/admin/usage-trend?endDate=${T}`, 'startDate'],
    [`/admin/usage-trend?days=3&${r(T, T)}`, 'days'],
    [`/admin/usage-trend?${r(shift(T, -RETENTION_DAYS), T)}`, 'endDate'], // longer than kept
    [`/admin/usage-trend?${r(shift(T, -RETENTION_DAYS), shift(T, -RETENTION_DAYS))}`, 'startDate'], // not kept
    [`/admin/usage-trend?granularity=hour&${r(shift(T, -7), T)}`, 'endDate'], // 8 days of hours
    [`/admin/usage-trend?granularity=hour&${r(shift(T, -7), shift(T, -7))}`, 'startDate'],
    [`/admin/api-keys/${key1.id}/usage-trend?${r(T, shift(T, -2))}`, 'endDate'],
    [`/admin/model-stats?period=monthly&${r(T, T)}`, 'period'],
    [`/admin/model-stats?date=${T}&${r(T, T)}`, 'date'],
    [`/admin/model-stats?days=${RETENTION_DAYS + 1}`, 'days'],
    [`/admin/model-stats?days=2&startDate=${T}`, 'days'],
    [`/admin/api-keys-usage-trend?${r(shift(T, -RETENTION_DAYS), T)}`, 'endDate'],
  ];
}

test('parameters are validated with a 400 naming the parameter', async () => {
  const cases = [
    ['/admin/usage-trend?granularity=week', 'granularity'],
    ['/admin/usage-trend?days=0', 'days'],
    [`/admin/usage-trend?days=${RETENTION_DAYS + 1}`, 'days'],
    ['/admin/usage-trend?granularity=hour&days=8', 'days'],
    ['/admin/usage-trend?keyId=nope', 'keyId'],
    [`/admin/usage-trend?keyId=${key1.id}&accountId=${acc2.id}`, 'keyId'],
    ['/admin/model-stats?period=weekly', 'period'],
    ['/admin/model-stats?period=daily&date=2026-1-1', 'date'],
    ['/admin/model-stats?period=monthly&month=202612', 'month'],
    [`/admin/model-stats?period=total&keyId=${key1.id}`, 'period'],
    ['/admin/usage-costs?period=year', 'period'],
    ['/admin/cost-ranking?limit=101', 'limit'],
    [`/admin/request-log?keyId=${key1.id}&accountId=${acc2.id}`, 'keyId'],
    [`/admin/request-log?keyId=${key1.id}&limit=${LOG_MAX + 1}`, 'limit'],
    [`/admin/request-log?keyId=${key1.id}&limit=x`, 'limit'],
    ['/admin/api-keys/not-an-id/usage-trend', 'keyId'],
    // startDate / endDate
    ...dateCases(),
  ];
  for (const [p, name] of cases) {
    const r = await admin(p);
    assert.equal(r.status, 400, `${p}: ${r.text}`);
    assert.ok(r.json.message.startsWith(`${name}:`), `${p}: ${r.text}`);
  }
  const both = await admin(`/admin/usage-trend?days=3&startDate=${local().day}&endDate=${local().day}`);
  assert.match(both.json.message, /^days: .*startDate and endDate/, 'days and the dates: both named');
});

test('retention TTLs on the buckets, index sets and logs', async () => {
  const ttl = (k) => redisCmd(st.redis.port, 'TTL', k);
  const day = RETENTION_DAYS * 86400;
  const near = async (k, want) => {
    const t = await ttl(k);
    assert.ok(t > want - 120 && t <= want, `${k}: TTL ${t}, want about ${want}`);
  };
  const l = labels || local();
  await near(`usage:key:${key1.id}:${l.day}`, day);
  await near(`usage:daily:${l.day}:${key1.id}:${SONNET}`, day);
  await near(`usage:account:${acc2.id}:${l.day}`, day);
  await near(`usage:global:${l.day}`, day);
  await near(`usage:key:${key1.id}:${l.hour}`, 7 * 86400);
  await near(`usage:model:${HAIKU}:${l.hour}`, 7 * 86400);
  await near(`usage:global:${l.month}`, 365 * 86400);
  await near(`usage:monthly:${l.month}:${key1.id}:${SONNET}`, 365 * 86400);
  await near(`usage:index:${l.day}:models`, day);
  await near(`usage:records:${key1.id}`, day);
  await near(`usage:account_records:${acc2.id}`, day);
  const minute = Math.floor(Date.now() / 60000);
  const mt = Math.max(await ttl(`usage:minute:${minute}`), await ttl(`usage:minute:${minute - 1}`));
  assert.ok(mt > 0 && mt <= 3600, `minute bucket TTL ${mt}`);
  assert.equal(await ttl('usage:global:total'), -1);
  assert.equal(await ttl(`usage:model:${SONNET}:total`), -1);
});

test('self-service with the key itself: usage, limits, what remains, models; nothing by id', async () => {
  const r = await self('user-stats', { apiKey: key1.apiKey });
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.id, key1.id);
  assert.equal(d.name, 'k-one');
  const micro = 3 * COST[SONNET] + COST[HAIKU];
  assert.deepEqual(pick(d.usage.total), expect(4, micro));
  assert.deepEqual(pick(d.usage.today), expect(4, micro));
  assert.deepEqual(pick(d.usage.month), expect(4, micro));
  assert.equal(d.limits.dailyCostLimit, 1);
  assert.equal(d.limits.currentDailyCost, micro / 1e6);
  assert.equal(d.limits.remainingDailyCost, (1e6 - micro) / 1e6);
  assert.equal(d.limits.currentTotalCost, micro / 1e6);
  assert.equal(d.limits.remainingTotalCost, null);
  assert.ok(!r.text.includes(key1.apiKey));
  const m = await self('user-model-stats', { apiKey: key1.apiKey, period: 'daily' });
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(m.json.data.map((x) => [x.model, x.requests, x.cost]), [[SONNET, 3, (3 * COST[SONNET]) / 1e6], [HAIKU, 1, COST[HAIKU] / 1e6]]);
  const id = await self('get-key-id', { apiKey: key2.apiKey });
  assert.equal(id.json.data.id, key2.id);
  // by id alone: refused by name, no statistics
  const byId = await self('user-stats', { apiId: key1.id });
  assert.equal(byId.status, 400);
  assert.match(byId.json.message, /^apiId:/);
  assert.ok(!byId.text.includes('usage'));
  const badPeriod = await self('user-model-stats', { apiKey: key1.apiKey, period: 'yearly' });
  assert.equal(badPeriod.status, 400);
  assert.match(badPeriod.json.message, /^period:/);
});

test('/openai and /gemini usage and key-info: numbers, and errors in each family\'s shape', async () => {
  const get = (p, key) => httpRequest(st.relay.url + p, { headers: key ? { 'x-api-key': key } : {} });
  for (const fam of ['openai', 'gemini']) {
    const u = await get(`/${fam}/usage`, key1.apiKey);
    assert.equal(u.status, 200, u.text);
    assert.deepEqual(u.json, { object: 'usage', total_tokens: 144, total_requests: 4, daily_tokens: 144, daily_requests: 4, monthly_tokens: 144, monthly_requests: 4 });
    const ki = await get(`/${fam}/key-info`, key2.apiKey);
    assert.equal(ki.status, 200, ki.text);
    assert.equal(ki.json.id, key2.id);
    assert.equal(ki.json.name, 'k-two');
    assert.equal(ki.json.tokens_used, 72);
    assert.equal(ki.json.tokens_remaining, null);
    assert.equal(ki.json.usage.total.requests, 2);
    assert.equal(ki.json.usage.daily.allTokens, 72);
  }
  const wrong = 'cr_' + '0'.repeat(64);
  const o = await get('/openai/usage', wrong);
  assert.equal(o.status, 401);
  assert.equal(typeof o.json.error.message, 'string');
  assert.equal(o.json.type, undefined); // not the Anthropic {"type":"error"} shape
  for (const key of [wrong, 'garbage-key', null]) {
    const g = await get('/gemini/key-info', key);
    assert.equal(g.status, 401, g.text);
    assert.equal(g.json.error.code, 401);
    assert.equal(g.json.error.status, 'UNAUTHENTICATED');
  }
});

test('the statistics flush costs Redis per flush, not per request; accounting stays one round trip', async () => {
  const health = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage;
  const h0 = await health();
  const calls0 = await redisCmd(st.redis.port, 'INFO', 'commandstats');
  const calls = (info, cmd) => Number((new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info) || [0, 0])[1]);
  const c1 = new Anthropic({ apiKey: key2.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
  const N = 10;
  for (let i = 0; i < N; i++) await c1.messages.create({ model: HAIKU, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  await waitFor(async () => (await admin(`/admin/api-keys/${key2.id}/usage-trend?days=1`)).json.data[0].requests === 2 + N, { timeout: 15000, interval: 200, what: 'flushed' });
  const h1 = await health();
  const calls1 = await redisCmd(st.redis.port, 'INFO', 'commandstats');
  const flushes = h1.statsFlushes - h0.statsFlushes;
  const perFlush = (h1.statsCommands - h0.statsCommands) / flushes;
  console.log(`stats_flush: flushes=${flushes} commands_per_flush=${perFlush.toFixed(1)} requests=${N}`);
  assert.ok(flushes >= 1 && flushes <= N, `flushes ${flushes}`);
  // one key, one account, one model: 18 buckets × 2 + 10 index members + 3 logs × 3 + the call,
  // plus a TTL for the buckets and members a flush creates
  assert.ok(perFlush <= 18 * 3 + 10 * 2 + 9 + 1, `commands per flush ${perFlush}`);
  // the per-request accounting is one script call each (EVALSHA); the flushes are EVAL calls
  assert.equal(calls(calls1, 'evalsha') - calls(calls0, 'evalsha'), N);
  assert.equal(calls(calls1, 'eval') - calls(calls0, 'eval'), flushes);
});

test('ENABLE_USAGE_STATISTICS=false: exact per-key totals, no statistics, no flush', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: { ...shared, TIMEZONE_OFFSET: String(TZ), ENABLE_USAGE_STATISTICS: 'false' } });
  try {
    const before0 = Number(await redisCmd(st.redis.port, 'HGET', `api_key_usage:${key2.id}`, 'requests'));
    const trend0 = (await admin(`/admin/api-keys/${key2.id}/usage-trend?days=1`)).json.data[0].requests;
    const c = new Anthropic({ apiKey: key2.apiKey, baseURL: relay2.url + '/api', maxRetries: 0 });
    for (let i = 0; i < 3; i++) await c.messages.create({ model: HAIKU, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    await waitFor(async () => Number(await redisCmd(st.redis.port, 'HGET', `api_key_usage:${key2.id}`, 'requests')) === before0 + 3, { timeout: 5000, what: 'per-key totals' });
    await sleep(2500); // past a flush interval
    const u = (await httpRequest(`${relay2.url}/health`)).json.components.usage;
    assert.equal(u.statsFlushes, 0);
    assert.equal(u.statsCommands, 0);
    assert.equal((await admin(`/admin/api-keys/${key2.id}/usage-trend?days=1`)).json.data[0].requests, trend0);
  } finally {
    await relay2.stop();
    const rep = relay2.sanitizerReport();
    assert.equal(rep, null, rep || '');
  }
});

test('an idle relay sends no statistics flush', async () => {
  const flushes = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage.statsFlushes;
  await sleep(2500); // anything still pending from the tests above is written
  const f0 = await flushes();
  const e0 = await redisCmd(st.redis.port, 'INFO', 'commandstats');
  await sleep(4500); // two flush intervals and more
  const e1 = await redisCmd(st.redis.port, 'INFO', 'commandstats');
  assert.equal(await flushes(), f0);
  const evals = (info) => Number((/cmdstat_eval:calls=(\d+)/.exec(info) || [0, 0])[1]);
  assert.equal(evals(e1), evals(e0));
});

test('self-service failures are throttled per address: a right key gets 429 too (no key oracle)', async () => {
  const wrong = 'cr_' + 'f'.repeat(64);
  let r;
  for (let i = 0; i < 3; i++) {
    r = await self('user-stats', { apiKey: wrong });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, 'Invalid API key');
  }
  r = await self('user-stats', { apiKey: wrong });
  assert.equal(r.status, 429, r.text);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  r = await self('user-stats', { apiKey: key1.apiKey });
  assert.equal(r.status, 429, 'a right key is throttled as well while the address is delayed');
});

test('a key deleted for good takes its lifetime statistics and request log with it', async () => {
  const k3 = await createKey(st.relay, st.token, { name: 'k-three' });
  const c3 = new Anthropic({ apiKey: k3.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
  await c3.messages.create({ model: HAIKU, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  const ranked = async () => (await admin('/admin/cost-ranking?period=all&limit=100')).json.data.keys.map((k) => k.keyId);
  await waitFor(async () => (await ranked()).includes(k3.id), { timeout: 15000, interval: 200, what: 'key 3 ranked' });
  assert.equal(await redisCmd(st.redis.port, 'EXISTS', `usage:records:${k3.id}`), 1);
  assert.equal((await api(st.relay, 'DELETE', `/admin/api-keys/${k3.id}`, { token: st.token })).status, 200);
  assert.equal((await api(st.relay, 'DELETE', `/admin/api-keys/${k3.id}/permanent`, { token: st.token })).status, 200);
  assert.ok(!(await ranked()).includes(k3.id));
  for (const k of [`usage:records:${k3.id}`, `usage:key:${k3.id}:total`]) assert.equal(await redisCmd(st.redis.port, 'EXISTS', k), 0, k);
  assert.equal(await redisCmd(st.redis.port, 'SISMEMBER', 'usage:index:total:keys', k3.id), 0);
});
