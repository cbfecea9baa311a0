'use strict';
// Failover and account health (relay core v2): an account that fails before the first byte is
// marked in Redis with the right state and until-time, the request goes to the next account
// (usage counted once), the failed account gets nothing while it cools and comes back when the
// time passes; all-failing pools give the last upstream error after MAX_UPSTREAM_ATTEMPTS; a
// failure after the first byte is an in-stream error; two relays on one Redis agree; every state
// change is an account_events entry; nothing is leaked on any path.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  stack,
  api,
  createConsoleAccount,
  closedPort,
  messageBody,
  anthropicErrorProblem,
  waitFor,
  keyUsage,
  startRelay,
  login,
  redisCmd,
  httpRequest,
  sleep,
  assertReleased: released,
} = require('../lib/env');

const TTL = 3; // seconds: every cooldown in this file
const ENV = {
  RATE_LIMIT_CLEANUP_INTERVAL: '0', // recovery events at once (the default sweep is every 5 min)
  REQUEST_TIMEOUT: '1000',
  UPSTREAM_ERROR_RATE_LIMIT_TTL_SECONDS: String(TTL),
  UPSTREAM_ERROR_OVERLOAD_TTL_SECONDS: String(TTL),
  UPSTREAM_ERROR_503_TTL_SECONDS: String(TTL),
  UPSTREAM_ERROR_5XX_TTL_SECONDS: String(TTL),
  UPSTREAM_ERROR_TIMEOUT_TTL_SECONDS: String(TTL),
};

let st;
before(async () => {
  st = await stack({ relayEnv: ENV });
});
after(async () => {
  if (st) await st.teardown();
});

const redis = (...args) => redisCmd(st.redis.port, ...args);

async function account(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', '/admin/claude-console-accounts', { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

// A failing account A with priority 1 (picked first) beside the stack's healthy account B.
async function failing(behave, extra = {}) {
  const apiUrl = behave === 'refused' ? `http://127.0.0.1:${await closedPort()}` : `${st.mock.url}/b/${behave}`;
  return createConsoleAccount(st.relay, st.token, { name: `A-${behave}`, apiUrl, priority: 1, ...extra });
}

async function remove(acc) {
  await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${acc.id}`, { token: st.token });
}

const hits = (behave) => st.mock.requests().filter((r) => r.behave === behave).length;

const assertReleased = (relay = st.relay) => released(relay);

async function events(id) {
  const arr = await redis('XRANGE', 'account_events', '-', '+');
  return arr
    .map(([, kv]) => {
      const o = {};
      for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
      return o;
    })
    .filter((e) => e.account === id);
}

const CAUSES = [
  { behave: 'refused', state: 'temp_error', cooling: true },
  { behave: 'ratelimit-600', state: 'rate_limited', cooling: true, until: 600 },
  { behave: 'error-529', state: 'overloaded', cooling: true },
  { behave: 'error-500', state: 'temp_error', cooling: true },
  { behave: 'error-401', state: 'unauthorized', cooling: false },
  { behave: 'error-403', state: 'blocked', cooling: false },
  { behave: 'slow-first-byte-3000', state: 'temp_error', cooling: true },
];

for (const c of CAUSES) {
  test(`failover: A ${c.behave} → client 200 from B (non-stream and stream), A ${c.state}`, async () => {
    const A = await failing(c.behave);
    try {
      const before0 = (await keyUsage(st.redis.port, st.key.id)).requests || 0;
      const t0 = Date.now();
      const r = await st.send(messageBody());
      assert.equal(r.status, 200, r.text);
      const acc = await account(A.id);
      assert.equal(acc.status, c.state, JSON.stringify(acc));
      assert.ok(acc.statusReason.length > 0, 'statusReason says why');
      if (c.cooling) {
        const until = Date.parse(acc.statusUntil);
        const want = t0 + (c.until || TTL) * 1000;
        assert.ok(Math.abs(until - want) < 2500, `statusUntil ${acc.statusUntil} ~ ${new Date(want).toISOString()}`);
      } else {
        assert.equal(acc.statusUntil, null);
      }
      // A is skipped while it cools: a stream request goes straight to B.
      const seen = c.behave === 'refused' ? 0 : hits(c.behave);
      const s = await st.stream(messageBody());
      assert.equal(s.status, 200);
      assert.equal(s.events.at(-1).event, 'message_stop');
      if (c.behave !== 'refused') assert.equal(hits(c.behave), seen, 'A got no request while unavailable');
      // usage counted once per client request
      await waitFor(async () => (await keyUsage(st.redis.port, st.key.id)).requests === before0 + 2, { what: 'usage of 2 requests' });
      await sleep(200);
      assert.equal((await keyUsage(st.redis.port, st.key.id)).requests, before0 + 2, 'counted exactly once each');
      const ev = await events(A.id);
      assert.equal(ev.length, 1, JSON.stringify(ev));
      assert.equal(ev[0].from, 'active');
      assert.equal(ev[0].to, c.state);
      assert.ok(/attempts=[0-9a-f]{8}:\d+:\d+ms,[0-9a-f]{8}:200:\d+ms/.test(st.relay.logs()), 'attempts on the access line');
      // A stream whose first attempt fails: after an admin reset A is tried again, fails, and the
      // stream is served by B from its first byte.
      await api(st.relay, 'POST', `/admin/claude-console-accounts/${A.id}/reset-status`, { token: st.token });
      const s2 = await st.stream(messageBody());
      assert.equal(s2.status, 200);
      assert.equal(s2.events[0].event, 'message_start');
      assert.equal(s2.events.at(-1).event, 'message_stop');
      assert.equal((await account(A.id)).status, c.state);
      assert.equal((await events(A.id)).length, 3, 'mark, reset, mark');
      await assertReleased();
    } finally {
      await remove(A);
    }
  });
}

test('a cooled-down account recovers when the time passes (event appended once)', async () => {
  const A = await failing('error-500');
  try {
    assert.equal((await st.send(messageBody())).status, 200);
    assert.equal((await account(A.id)).status, 'temp_error');
    await waitFor(async () => (await account(A.id)).status === 'active', { timeout: (TTL + 3) * 1000, what: 'A active again' });
    await waitFor(async () => (await events(A.id)).length === 2, { timeout: 3000, what: 'recovery event' });
    const ev = await events(A.id);
    assert.equal(ev[1].to, 'active');
    assert.equal(ev[1].from, 'temp_error');
    const n = hits('error-500');
    assert.equal((await st.send(messageBody())).status, 200);
    assert.equal(hits('error-500'), n + 1, 'A is tried again after it recovered');
  } finally {
    await remove(A);
  }
});

test('reset-status clears an unauthorized account and appends an event', async () => {
  const A = await failing('error-401');
  try {
    assert.equal((await st.send(messageBody())).status, 200);
    assert.equal((await account(A.id)).status, 'unauthorized');
    const r = await api(st.relay, 'POST', `/admin/claude-console-accounts/${A.id}/reset-status`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.status, 'active');
    assert.equal((await account(A.id)).status, 'active');
    const ev = await events(A.id);
    assert.deepEqual(
      ev.map((e) => [e.from, e.to]),
      [
        ['active', 'unauthorized'],
        ['unauthorized', 'active'],
      ],
    );
    assert.match(ev[1].reason, /reset by admin/);
  } finally {
    await remove(A);
  }
});

test('all accounts failing: bounded attempts, the last upstream error in Anthropic shape', async () => {
  await api(st.relay, 'PUT', `/admin/claude-console-accounts/${st.account.id}/toggle-schedulable`, { token: st.token });
  const bad = [];
  try {
    for (let i = 0; i < 4; i++) bad.push(await failing('error-500', { name: `bad-${i}` }));
    const n = hits('error-500');
    const r = await st.send(messageBody());
    assert.equal(r.status, 500, r.text);
    assert.equal(anthropicErrorProblem(r.json), null, r.text);
    assert.equal(r.json.error.message, 'mock error 500');
    assert.equal(r.headers['x-should-retry'], 'true');
    assert.equal(hits('error-500') - n, 3, 'MAX_UPSTREAM_ATTEMPTS (3) attempts');
    await assertReleased();
    // the one account not tried yet takes the next request alone; then every account cools
    assert.equal((await st.send(messageBody())).status, 500);
    assert.equal(hits('error-500') - n, 4, 'cooling accounts got nothing');
    const r2 = await st.send(messageBody());
    assert.equal(r2.status, 503, r2.text);
    assert.equal(anthropicErrorProblem(r2.json), null, r2.text);
    assert.equal(r2.json.error.type, 'overloaded_error');
    assert.equal(hits('error-500') - n, 4, 'nothing sent while every account cools');
  } finally {
    for (const a of bad) await remove(a);
    await api(st.relay, 'PUT', `/admin/claude-console-accounts/${st.account.id}/toggle-schedulable`, { token: st.token });
  }
});

test('a stream that breaks after its first byte ends with event: error, no second attempt', async () => {
  const A = await failing('drop-after-3');
  try {
    const n = st.mock.messageRequests().length;
    const s = await st.stream(messageBody());
    assert.equal(s.status, 200);
    const names = s.events.map((e) => e.event);
    assert.equal(names.at(-1), 'error', names.join(','));
    assert.ok(!names.includes('message_stop'), 'no fake message_stop');
    assert.equal(st.mock.messageRequests().length - n, 1, 'no retry after commit');
    await assertReleased();
  } finally {
    await remove(A);
  }
});

test('client errors are not retried: 400 passes through from the first account', async () => {
  const A = await failing('error-400');
  try {
    const n = hits('error-400');
    const r = await st.send(messageBody());
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(hits('error-400') - n, 1);
    assert.equal((await account(A.id)).status, 'active');
  } finally {
    await remove(A);
  }
});

test('client that disconnects during an attempt releases everything', async () => {
  const A = await createConsoleAccount(st.relay, st.token, { name: 'A-hang', apiUrl: `${st.mock.url}/b/hang`, priority: 1 });
  try {
    const r = httpRequest(`${st.relay.url}/api/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' },
      body: messageBody(),
      timeout: 300,
    });
    await assert.rejects(r);
    await assertReleased();
  } finally {
    await remove(A);
  }
});

test('two relays on one Redis: a cooldown set by one is honoured by the other', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: { ...ENV, ...shared } });
  try {
    const token2 = await login(relay2);
    const A = await failing('ratelimit-600');
    try {
      await waitFor(async () => (await account(A.id, relay2, token2)) !== undefined, { what: 'relay2 sees A' });
      assert.equal((await st.send(messageBody())).status, 200);
      await waitFor(async () => (await account(A.id, relay2, token2)).status === 'rate_limited', {
        timeout: 2000,
        what: 'relay2 sees A rate_limited',
      });
      const n = hits('ratelimit-600');
      const r = await httpRequest(`${relay2.url}/api/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' },
        body: messageBody(),
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(hits('ratelimit-600'), n, 'relay2 did not send to the cooling account');
      await api(st.relay, 'POST', `/admin/claude-console-accounts/${A.id}/reset-status`, { token: st.token });
      await waitFor(async () => (await account(A.id, relay2, token2)).status === 'active', { timeout: 2000, what: 'relay2 sees the reset' });
    } finally {
      await remove(A);
    }
    await assertReleased(relay2);
  } finally {
    await relay2.stop();
    const rep = relay2.sanitizerReport();
    assert.equal(rep, null, rep || '');
  }
});

test('a weekly Opus limit (the 429 names it) cools the account for Opus only, on every relay, until reset', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: { ...ENV, ...shared } });
  // Fresh bodies each time: a repeated prompt is one sticky session.
  const opus = () => messageBody('claude-opus-4-5');
  const sonnet = () => messageBody('claude-sonnet-4-5');
  const via2 = (body) => httpRequest(`${relay2.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' }, body });
  try {
    const token2 = await login(relay2);
    const A = await failing('ratelimit-claim-seven_day_opus-600');
    try {
      await waitFor(async () => (await account(A.id, relay2, token2)) !== undefined, { what: 'relay2 sees A' });
      assert.equal((await st.send(opus())).status, 200, 'failed over to B');
      assert.equal(hits('ratelimit-claim-seven_day_opus-600'), 1);
      let a = await account(A.id);
      assert.equal(a.status, 'active', 'the account itself is not cooling');
      assert.ok(Math.abs(Date.parse(a.modelLimits.opus) - (Date.now() + 600e3)) < 5000, JSON.stringify(a.modelLimits));
      assert.equal(Number(await redis('EXISTS', `rate_limit_state:${A.id}:opus`)), 1);
      // A answers normally again: Sonnet goes to A (priority 1), Opus still avoids it.
      const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${A.id}`, { token: st.token, body: { apiUrl: `${st.mock.url}/b/fam-a` } });
      assert.equal(up.status, 200, up.text);
      assert.equal((await st.send(sonnet())).status, 200);
      assert.equal(hits('fam-a'), 1, 'sonnet served by A');
      assert.equal((await st.send(opus())).status, 200);
      assert.equal(hits('fam-a'), 1, 'opus not sent to A');
      await waitFor(async () => (await account(A.id, relay2, token2)).modelLimits.opus !== undefined, { timeout: 3000, what: 'relay2 sees the opus limit' });
      assert.equal((await via2(opus())).status, 200);
      assert.equal((await via2(sonnet())).status, 200);
      assert.equal(hits('fam-a'), 2, 'relay2: sonnet to A, opus elsewhere');
      const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${st.key.id}&model=claude-opus-4-5`, { token: st.token });
      const mine = ex.json.data.accounts.find((x) => x.id === A.id);
      assert.equal(mine.reason, 'model family rate limited', JSON.stringify(mine));
      // reset-status clears it everywhere.
      await api(st.relay, 'POST', `/admin/claude-console-accounts/${A.id}/reset-status`, { token: st.token });
      a = await account(A.id);
      assert.deepEqual(a.modelLimits, {});
      await waitFor(async () => Object.keys((await account(A.id, relay2, token2)).modelLimits).length === 0, { timeout: 3000, what: 'relay2 sees the reset' });
      assert.equal((await st.send(opus())).status, 200);
      assert.equal(hits('fam-a'), 3, 'opus back on A');
    } finally {
      await remove(A);
    }
    await assertReleased(relay2);
  } finally {
    await relay2.stop();
  }
});

const DISABLED = [
  'organization has been disabled',
  'account has been disabled',
  'account is disabled',
  'no account supporting',
  'account not found',
  'invalid account',
  'too many active sessions',
];

test('Console: a 400 naming a disabled account (each phrase) blocks it until a reset, the request fails over', async () => {
  for (const phrase of DISABLED) {
    const behave = `error-400-this-${phrase.replace(/ /g, '-')}`;
    const A = await failing(behave);
    try {
      const n = hits(behave);
      const r = await st.send(messageBody());
      assert.equal(r.status, 200, `${phrase}: ${r.text}`);
      assert.equal(hits(behave) - n, 1);
      const acc = await account(A.id);
      assert.equal(acc.status, 'blocked', phrase);
      assert.ok(acc.statusReason.includes(phrase), acc.statusReason);
      assert.equal(acc.statusUntil, null, 'CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES=0: until an admin reset');
      await waitFor(async () => (await redis('HGET', `claude_console_account:${A.id}`, 'status')) === 'blocked', { what: 'blocked in the record' });
      assert.equal((await st.send(messageBody())).status, 200);
      assert.equal(hits(behave) - n, 1, 'a blocked account gets nothing');
    } finally {
      await remove(A);
    }
  }
  await assertReleased();
});

test('Console rateLimitDuration: a 429 without a reset header cools for its minutes (default 60); 0 never marks', async () => {
  const behave = 'error-429-slow-down'; // no retry-after, no unified reset
  for (const [extra, minutes] of [[{}, 60], [{ rateLimitDuration: 7 }, 7]]) {
    const A = await failing(behave, extra);
    try {
      assert.equal(A.data.rateLimitDuration, minutes);
      const t0 = Date.now();
      assert.equal((await st.send(messageBody())).status, 200);
      const acc = await account(A.id);
      assert.equal(acc.status, 'rate_limited');
      const want = t0 + minutes * 60000;
      assert.ok(Math.abs(Date.parse(acc.statusUntil) - want) < 5000, `statusUntil ${acc.statusUntil} ~ ${new Date(want).toISOString()}`);
    } finally {
      await remove(A);
    }
  }
  // A reset header still wins (the mock's plain 429 sends retry-after: 7).
  const R = await failing('error-429', { rateLimitDuration: 30 });
  try {
    const t0 = Date.now();
    assert.equal((await st.send(messageBody())).status, 200);
    const until = Date.parse((await account(R.id)).statusUntil);
    assert.ok(Math.abs(until - (t0 + 7000)) < 2500, `statusUntil ${new Date(until).toISOString()}`);
  } finally {
    await remove(R);
  }
  const Z = await failing(behave, { rateLimitDuration: 0 });
  try {
    const n = hits(behave);
    for (let i = 0; i < 2; i++) assert.equal((await st.send(messageBody())).status, 200);
    assert.equal(hits(behave) - n, 2, 'never cooled: tried first each time, then the next account');
    assert.equal((await account(Z.id)).status, 'active');
    assert.equal((await events(Z.id)).length, 0, 'no state change recorded');
    const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${Z.id}`, { token: st.token, body: { rateLimitDuration: 2 } });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.data.rateLimitDuration, 2);
  } finally {
    await remove(Z);
  }
  await assertReleased();
});

test('Console count_tokens 404: remembered (countTokensUnavailable), later counts answer 0 without the upstream', async () => {
  const count = () => st.send(messageBody(), { path: '/api/v1/messages/count_tokens' });
  const A = await failing('error-404');
  try {
    const n = hits('error-404');
    const r1 = await count();
    assert.equal(r1.status, 404, 'the first answer passes through');
    await waitFor(async () => (await redis('HGET', `claude_console_account:${A.id}`, 'countTokensUnavailable')) === 'true', { what: 'the record learnt it' });
    const acc = await account(A.id);
    assert.equal(acc.countTokensUnavailable, true);
    assert.equal(acc.status, 'active', 'not a health mark');
    for (let i = 0; i < 2; i++) {
      const r = await count();
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { input_tokens: 0 });
    }
    assert.equal(hits('error-404') - n, 1, 'no upstream call after the first');
    const ro = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${A.id}`, { token: st.token, body: { countTokensUnavailable: false } });
    assert.equal(ro.status, 400);
    assert.equal(ro.json.error, 'countTokensUnavailable is read-only');
  } finally {
    await remove(A);
  }
  const r = await count();
  assert.deepEqual(r.json, { input_tokens: 42 }, 'the healthy account still counts upstream');
  await assertReleased();
});

test('admin API refuses unknown and not-yet-enforced fields, naming them (maxConcurrentTasks and dailyQuota are enforced now: account-limits.test.js)', async () => {
  const cases = [
    ['POST', '/admin/api-keys', { name: 'k', serviceRates: { claude: 2 } }, 'serviceRates'],
    ['POST', '/admin/api-keys', { name: 'k', frobnicate: true }, 'frobnicate'],
    ['PUT', `/admin/api-keys/${st.key.id}`, { userId: 'u1' }, 'userId'],
    ['PUT', `/admin/claude-console-accounts/${st.account.id}`, { autoStopOnWarning: true }, 'autoStopOnWarning'],
  ];
  for (const [method, p, body, field] of cases) {
    const r = await api(st.relay, method, p, { token: st.token, body });
    assert.equal(r.status, 400, `${method} ${p} ${field}: ${r.text}`);
    assert.equal(r.json.error, `unsupported field: ${field}`, r.text);
  }
  // Enforced now (scheduler.test.js, the Console tests above): accepted.
  const ok = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${st.account.id}`, {
    token: st.token,
    body: { supportedModels: [], rateLimitDuration: 60 },
  });
  assert.equal(ok.status, 200, ok.text);
});

test('cost of one failover hop: time and Redis commands (printed)', async () => {
  const { redisCommandCalls, ownRedisCommands, waitForUsage } = require('../lib/env');
  const N = 5;
  const plain = [];
  const hop = [];
  let cmds = 0;
  for (let i = 0; i < N; i++) {
    let t = Date.now();
    assert.equal((await st.send(messageBody())).status, 200);
    plain.push(Date.now() - t);
    const A = await failing('error-500', { name: `cost-${i}` });
    try {
      const used = (await keyUsage(st.redis.port, st.key.id)).requests || 0;
      await sleep(100);
      const before0 = await redisCommandCalls(st.redis.port);
      const own0 = { ...ownRedisCommands };
      t = Date.now();
      assert.equal((await st.send(messageBody())).status, 200);
      hop.push(Date.now() - t);
      await waitForUsage(st.redis.port, st.key.id, used + 1, 3000);
      await waitFor(async () => (await events(A.id)).length === 1, { what: 'mark written' });
      const after0 = await redisCommandCalls(st.redis.port);
      let own = 0;
      for (const [k, v] of Object.entries(ownRedisCommands)) if (k !== 'info') own += v - (own0[k] || 0);
      cmds += after0.total - before0.total - own;
    } finally {
      await remove(A);
    }
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const perReq = cmds / N;
  console.log(`failover_hop: median request ${med(plain)} ms plain, ${med(hop)} ms with one failover; redis_commands_per_failover_request=${perReq.toFixed(1)}`);
  // accounting (6) + the mark (5) + the amortised statistics flush
  assert.ok(perReq <= 18, `${perReq} Redis commands for a request with one failover`);
});
