'use strict';
// API-key policy (issue 7): every field the admin API accepts, allowed and refused with the
// original's status and message in the Anthropic shape; cost from the price table (hand-computed);
// concurrency leases released on every exit; limits exact across two relays on one Redis;
// activation on first use only; key-holder endpoints; batch create and regenerate.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  stack,
  api,
  createKey,
  createConsoleAccount,
  messageBody,
  anthropicErrorProblem,
  waitFor,
  keyUsage,
  startRelay,
  redisCmd,
  httpRequest,
  sleep,
  runClaude,
  CLAUDE_BIN,
} = require('../lib/env');
const fs = require('node:fs');

let st;
before(async () => {
  st = await stack({ relayEnv: { CONCURRENCY_LEASE_SECONDS: '5', REQUEST_TIMEOUT: '1000', UPSTREAM_ERROR_TIMEOUT_TTL_SECONDS: '1' } });
});
after(async () => {
  if (st) await st.teardown();
});

const redis = (...args) => redisCmd(st.redis.port, ...args);

async function costOf(keyId) {
  const arr = await redis('HGETALL', `api_key_cost:${keyId}`);
  const o = {};
  for (let i = 0; i < arr.length; i += 2) o[arr[i]] = arr[i + 1];
  return o;
}

function send(key, body = messageBody(), { path = '/api/v1/messages', headers = {}, relay = st.relay } = {}) {
  return httpRequest(relay.url + path, {
    method: 'POST',
    headers: { 'anthropic-version': '2023-06-01', 'x-api-key': key.apiKey, ...headers },
    body,
  });
}

function assertRefused(r, status, type, message) {
  assert.equal(r.status, status, r.text);
  assert.equal(anthropicErrorProblem(r.json), null, `Anthropic shape: ${r.text}`);
  assert.equal(r.json.error.type, type, r.text);
  if (message instanceof RegExp) assert.match(r.json.error.message, message);
  else if (message) assert.equal(r.json.error.message, message);
}

async function newKey(fields) {
  return createKey(st.relay, st.token, { name: `k-${Math.random().toString(36).slice(2, 8)}`, ...fields });
}

async function released(keyId) {
  await waitFor(async () => Number(await redis('ZCARD', `concurrency:${keyId}`)) === 0, { timeout: 3000, what: 'lease released' });
}

test('permissions: claude allowed; a gemini-only key is refused on Messages routes', async () => {
  const ok = await newKey({ permissions: ['claude'] });
  assert.equal((await send(ok)).status, 200);
  const all = await newKey({ permissions: 'all' });
  assert.equal((await send(all)).status, 200);
  const gem = await newKey({ permissions: ['gemini'] });
  assertRefused(await send(gem), 403, 'permission_error', '此 API Key 无权访问 Claude 服务');
  const ct = await send(gem, messageBody(), { path: '/api/v1/messages/count_tokens' });
  assertRefused(ct, 403, 'permission_error', 'This API key does not have permission to access Claude');
});

test('client restriction: a claude_code key refuses the SDK (403) and accepts real Claude Code requests', async () => {
  const key = await newKey({ enableClientRestriction: true, allowedClients: ['claude_code'] });
  const sdk = await send(key, messageBody(), { headers: { 'user-agent': 'Anthropic/JS 1.12.0' } });
  assertRefused(sdk, 403, 'permission_error', 'Your client is not authorized to use this API key');
  assert.deepEqual(sdk.json.allowedClients, ['claude_code']);
  assert.equal(sdk.json.userAgent, 'Anthropic/JS 1.12.0');
  // claude-cli UA without Claude Code's system prompt and headers: the strict check refuses it
  const fake = await send(key, messageBody(), { headers: { 'user-agent': 'claude-cli/2.1.330 (external, sdk-cli)' } });
  assertRefused(fake, 403, 'permission_error', 'Your client is not authorized to use this API key');
  // count_tokens skips client restrictions, as the original
  assert.equal((await send(key, messageBody(), { path: '/api/v1/messages/count_tokens' })).status, 200);
  // off: the list is not enforced
  const off = await newKey({ enableClientRestriction: false, allowedClients: ['claude_code'] });
  assert.equal((await send(off, messageBody(), { headers: { 'user-agent': 'Anthropic/JS 1.12.0' } })).status, 200);
});

test('client restriction: the Anthropic SDK with a claude_code-only key gets the original 403', async () => {
  const Anthropic = require('@anthropic-ai/sdk');
  const key = await newKey({ enableClientRestriction: true, allowedClients: ['claude_code'] });
  const client = new Anthropic({ apiKey: key.apiKey, baseURL: `${st.relay.url}/api`, maxRetries: 0 });
  await assert.rejects(
    client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 403 && /not authorized to use this API key/.test(e.message),
  );
});

test('client restriction: the Claude Code CLI passes a claude_code-only key', { skip: !fs.existsSync(CLAUDE_BIN) && 'claude CLI not installed' }, async () => {
  const key = await newKey({ enableClientRestriction: true, allowedClients: ['claude_code'] });
  const r = await runClaude({ baseUrl: `${st.relay.url}/api`, apiKey: key.apiKey, prompt: 'say hi', timeout: 90000 });
  assert.equal(r.code, 0, `claude exited ${r.code}: ${r.stderr.slice(0, 2000)} ${r.stdout.slice(0, 2000)}`);
  assert.ok(r.json && !r.json.is_error, r.stdout.slice(0, 2000));
});

test('model restriction: the deny-list refuses its models (403) and hides them from /v1/models', async () => {
  const key = await newKey({ enableModelRestriction: true, restrictedModels: ['claude-opus-4-1-20250805'] });
  assertRefused(await send(key, messageBody('claude-opus-4-1-20250805')), 403, 'forbidden', '暂无该模型访问权限');
  assert.equal((await send(key, messageBody('claude-sonnet-4-5'))).status, 200);
  const models = await httpRequest(`${st.relay.url}/api/v1/models`, { headers: { 'x-api-key': key.apiKey } });
  assert.equal(models.status, 200);
  const ids = models.json.data.map((m) => m.id);
  assert.ok(!ids.includes('claude-opus-4-1-20250805'), ids.join(','));
  assert.ok(ids.includes('claude-sonnet-4-5-20250929'));
  // restriction off: the same list allows everything
  const off = await newKey({ enableModelRestriction: false, restrictedModels: ['claude-opus-4-1-20250805'] });
  assert.equal((await send(off, messageBody('claude-opus-4-1-20250805'))).status, 200);
});

test('expiry: a past expiresAt → 401, a future one → 200', async () => {
  const past = await newKey({ expiresAt: '2020-01-01T00:00:00Z' });
  const r = await send(past);
  assertRefused(r, 401, 'authentication_error', 'API key has expired');
  assert.equal(r.headers['x-should-retry'], 'false');
  const future = await newKey({ expiresAt: new Date(Date.now() + 86400000).toISOString() });
  assert.equal((await send(future)).status, 200);
});

test('activation mode: not activated by key-info; the first request activates it with the right expiresAt', async () => {
  const key = await newKey({ expirationMode: 'activation', activationDays: 2, activationUnit: 'hours' });
  assert.equal(key.data.isActivated, false);
  const info = await httpRequest(`${st.relay.url}/api/v1/key-info`, { headers: { 'x-api-key': key.apiKey } });
  assert.equal(info.status, 200, info.text);
  assert.equal(info.json.keyInfo.activationPending, true);
  assert.equal(info.json.keyInfo.expiresAt, null);
  let rec = (await api(st.relay, 'GET', `/admin/api-keys/${key.id}`, { token: st.token })).json.data;
  assert.equal(rec.isActivated, false, 'a stats lookup does not activate');
  const t0 = Date.now();
  assert.equal((await send(key)).status, 200);
  rec = (await api(st.relay, 'GET', `/admin/api-keys/${key.id}`, { token: st.token })).json.data;
  assert.equal(rec.isActivated, true);
  const exp = Date.parse(rec.expiresAt);
  assert.ok(Math.abs(exp - (t0 + 2 * 3600000)) < 5000, `expiresAt ${rec.expiresAt}`);
  assert.equal((await send(key)).status, 200, 'still usable');
  const bad = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', expirationMode: 'activation' } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /activationDays/);
});

test('rate window: requests, tokens and cost per window → 429 with the original messages', async () => {
  const reqs = await newKey({ rateLimitWindow: 1, rateLimitRequests: 2 });
  assert.equal((await send(reqs)).status, 200);
  assert.equal((await send(reqs)).status, 200);
  const r = await send(reqs);
  assertRefused(r, 429, 'rate_limit_error', /^已达到请求次数限制 \(2 次\)，将在 1 分钟后重置$/);
  assert.equal(r.json.currentRequests, 2);
  assert.equal(r.json.requestLimit, 2);
  assert.ok(Date.parse(r.json.resetAt) > Date.now());

  const toks = await newKey({ rateLimitWindow: 1, tokenLimit: 30 });
  assert.equal((await send(toks)).status, 200); // 36 tokens: crosses the limit, still served
  await waitFor(async () => (await keyUsage(st.redis.port, toks.id)).requests === 1, { what: 'usage' });
  const t = await send(toks);
  assertRefused(t, 429, 'rate_limit_error', /Token 使用限制 \(30 tokens\)/);
  assert.equal(t.json.currentTokens, 36);

  const cost = await newKey({ rateLimitWindow: 1, rateLimitCost: 0.0001 });
  assert.equal((await send(cost)).status, 200);
  await waitFor(async () => (await keyUsage(st.redis.port, cost.id)).requests === 1, { what: 'usage' });
  assertRefused(await send(cost), 429, 'rate_limit_error', /费用限制/);
});

test('cost caps: daily, total and weekly (Claude family) → 402 insufficient_quota', async () => {
  const cases = [
    ['dailyCostLimit', 'daily_cost_limit_exceeded', true],
    ['totalCostLimit', 'total_cost_limit_exceeded', false],
    ['weeklyOpusCostLimit', 'weekly_opus_cost_limit_exceeded', true],
  ];
  for (const [field, code, hasReset] of cases) {
    const key = await newKey({ [field]: 0.0001 });
    assert.equal((await send(key)).status, 200, field);
    await waitFor(async () => (await keyUsage(st.redis.port, key.id)).requests === 1, { what: `${field} usage` });
    const r = await send(key);
    assertRefused(r, 402, 'insufficient_quota');
    assert.equal(r.json.error.code, code);
    assert.equal(r.json.costLimit, 0.0001);
    assert.ok(r.json.currentCost >= 0.000265, JSON.stringify(r.json));
    if (hasReset) assert.ok(Date.parse(r.json.resetAt) > Date.now(), r.text);
  }
  // the weekly cap counts Claude-family models only
  const wk = await newKey({ weeklyOpusCostLimit: 0.0001, weeklyResetDay: 3, weeklyResetHour: 5 });
  assert.equal((await send(wk, messageBody('gemini-2.5-pro'))).status, 200);
  await waitFor(async () => (await keyUsage(st.redis.port, wk.id)).requests === 1, { what: 'usage' });
  assert.equal((await send(wk, messageBody('gemini-2.5-pro'))).status, 200, 'not a Claude model');
});

test('cost: hand-computed for four models (5m and 1h cache writes), a long-context tier, unpriced flagged', async () => {
  // mock usage: 11 input, 13 output, 7 cache writes (3 × 5m, 4 × 1h), 5 cache reads
  const cases = [
    ['claude-sonnet-4-5', 265], // 33 + 195 + 11.25 + 24 + 1.5 = 264.75 µ$ → 265
    ['claude-opus-4-1-20250805', 1324], // 165 + 975 + 56.25 + 120 + 7.5 = 1323.75
    ['claude-haiku-4-5', 88], // 11 + 65 + 3.75 + 8 + 0.5 = 88.25
    ['claude-3-5-haiku-20241022', 88], // 8.8 + 52 + 3 + 24 + 0.4 = 88.2
  ];
  for (const [model, micro] of cases) {
    const key = await newKey({});
    assert.equal((await send(key, messageBody(model))).status, 200);
    await waitFor(async () => (await costOf(key.id)).totalMicro !== undefined, { what: `${model} cost` });
    assert.equal(Number((await costOf(key.id)).totalMicro), micro, model);
    assert.equal(Number((await costOf(key.id)).unpricedRequests), 0);
  }
  // long context: gemini-2.5-pro above 200k prompt tokens: 250000 × 2.5 + 13 × 15 = 625195 µ$
  const acc = await createConsoleAccount(st.relay, st.token, { name: 'usage-250k', apiUrl: `${st.mock.url}/b/usage-250000`, priority: 1 });
  try {
    const key = await newKey({});
    assert.equal((await send(key, messageBody('gemini-2.5-pro'))).status, 200);
    await waitFor(async () => (await costOf(key.id)).totalMicro !== undefined, { what: 'long cost' });
    assert.equal(Number((await costOf(key.id)).totalMicro), 625195);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${acc.id}`, { token: st.token });
  }
  // a model the table lacks: flagged, priced at the fallback (3/15 $ per MTok), never $0
  const key = await newKey({});
  assert.equal((await send(key, messageBody('mock-unknown-model-x'))).status, 200);
  await waitFor(async () => (await costOf(key.id)).totalMicro !== undefined, { what: 'unpriced cost' });
  const c = await costOf(key.id);
  assert.equal(Number(c.unpricedRequests), 1);
  assert.equal(Number(c.totalMicro), 265);
  assert.match(st.relay.logs(), /cost=0\.000265 unpriced=1/);
});

test('concurrency: over the limit → 429; the slot is released on finish, abort, upstream drop and timeout', async () => {
  const key = await newKey({ concurrencyLimit: 1 });
  const slow = st.stream(messageBody('mock-slow-chunks-5-100'), { key: key.apiKey });
  await waitFor(async () => Number(await redis('ZCARD', `concurrency:${key.id}`)) === 1, { what: 'slot taken' });
  const r = await send(key);
  assertRefused(r, 429, 'rate_limit_error', 'Too many concurrent requests. Limit: 1 concurrent requests');
  assert.equal(r.json.error.code, 'concurrency_limit_exceeded');
  assert.equal(r.headers['retry-after'], '1');
  assert.equal((await slow).status, 200);
  await released(key.id);
  // client abort mid-stream
  const ab = httpRequest(`${st.relay.url}/api/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' },
    body: { ...messageBody('mock-slow-chunks-20-100'), stream: true },
    timeout: 300,
  });
  await assert.rejects(ab);
  await released(key.id);
  // upstream drops mid-stream
  const drop = await st.stream(messageBody('mock-drop-after-3'), { key: key.apiKey });
  assert.equal(drop.events.at(-1).event, 'error');
  await released(key.id);
  // upstream timeout (REQUEST_TIMEOUT=1000); the account cools for 1 s
  const to = await send(key, messageBody('mock-slow-first-byte-3000'));
  assert.ok(to.status >= 500, to.text);
  await released(key.id);
  await waitFor(async () => (await httpRequest(`${st.relay.url}/health`)).json.components.upstream.unavailable === 0, { timeout: 4000, what: 'account back' });
  assert.equal((await send(key)).status, 200);
  await released(key.id);
});

test('concurrency: a relay killed with -9 frees its slot by expiry within the lease time', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET, CONCURRENCY_LEASE_SECONDS: '5' };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared, bin: process.env.RELAY_BIN_RELEASE });
  const key = await newKey({ concurrencyLimit: 1 });
  const doomed = httpRequest(`${relay2.url}/api/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' },
    body: messageBody('mock-hang'),
    timeout: 20000,
  }).catch(() => null);
  await waitFor(async () => Number(await redis('ZCARD', `concurrency:${key.id}`)) === 1, { what: 'slot taken on relay2' });
  relay2.proc.kill('SIGKILL');
  await doomed;
  await relay2.stop();
  assertRefused(await send(key), 429, 'rate_limit_error');
  const t0 = Date.now();
  await waitFor(async () => (await send(key)).status === 200, { timeout: 8000, interval: 250, what: 'slot freed by expiry' });
  assert.ok(Date.now() - t0 < 7000);
});

test('two relays on one Redis, concurrent bursts: per-window requests and concurrency never exceed', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  try {
    const win = await newKey({ rateLimitWindow: 5, rateLimitRequests: 7 });
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => send(win, messageBody(), { relay: i % 2 ? relay2 : st.relay })));
    assert.equal(burst.filter((r) => r.status === 200).length, 7, burst.map((r) => r.status).join(','));
    assert.equal(burst.filter((r) => r.status === 429).length, 13);
    await waitFor(async () => (await keyUsage(st.redis.port, win.id)).requests === 7, { what: 'usage of 7' });

    const conc = await newKey({ concurrencyLimit: 3 });
    let peak = 0;
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        peak = Math.max(peak, Number(await redis('ZCARD', `concurrency:${conc.id}`)));
        await sleep(20);
      }
    })();
    const many = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        sseLikeSlow(conc, i % 2 ? relay2 : st.relay),
      ),
    );
    stop = true;
    await watch;
    const ok = many.filter((s) => s === 200).length;
    assert.ok(ok >= 3 && ok <= 12, many.join(','));
    assert.ok(peak <= 3, `peak concurrency ${peak}`);
    assert.equal(many.filter((s) => s !== 200 && s !== 429).length, 0, many.join(','));
    await released(conc.id);
  } finally {
    await relay2.stop();
  }
});

async function sseLikeSlow(key, relay) {
  const r = await send(key, messageBody('mock-slow-chunks-3-100'), { relay });
  return r.status;
}

test('two relays on one Redis: a daily cost cap holds across them, totals exact', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  try {
    const key = await newKey({ dailyCostLimit: 0.001 }); // 265 µ$ a request: the 4th crosses it
    const statuses = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await send(key, messageBody(), { relay: i % 2 ? relay2 : st.relay })).status);
      await waitFor(async () => (await keyUsage(st.redis.port, key.id)).requests === statuses.filter((x) => x === 200).length, { what: 'accounted' });
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 402, 402, 402, 402]);
    assert.equal(Number((await costOf(key.id)).totalMicro), 4 * 265);
  } finally {
    await relay2.stop();
  }
});

test('dedicated account: a key bound to a Console account uses only it; bindings are validated', async () => {
  const B = await createConsoleAccount(st.relay, st.token, { name: 'dedicated', apiUrl: `${st.mock.url}/b/ok`, priority: 90 });
  try {
    const key = await newKey({ claudeConsoleAccountId: B.id });
    const before = st.mock.requests().filter((q) => q.behave === 'ok').length;
    for (let i = 0; i < 3; i++) assert.equal((await send(key)).status, 200);
    assert.equal(st.mock.requests().filter((q) => q.behave === 'ok').length - before, 3, 'all on the bound account');
    const bad = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', claudeConsoleAccountId: '00000000-0000-4000-8000-000000000000' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /claudeConsoleAccountId/);
    const none = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', claudeAccountId: B.id } });
    assert.equal(none.status, 400);
    assert.match(none.json.error, /claudeAccountId/);
    const grp = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', claudeConsoleAccountId: `group:${B.id}` } });
    assert.equal(grp.status, 400);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${B.id}`, { token: st.token });
  }
});

test('admin validation names the field for bad values', async () => {
  const bad = [
    [{ permissions: ['claude', 'foo'] }, 'permissions'],
    [{ allowedClients: ['vim'] }, 'allowedClients'],
    [{ weeklyResetDay: 8 }, 'weeklyResetDay'],
    [{ weeklyResetHour: 24 }, 'weeklyResetHour'],
    [{ concurrencyLimit: -1 }, 'concurrencyLimit'],
    [{ rateLimitWindow: 1.5 }, 'rateLimitWindow'],
    [{ dailyCostLimit: 'ten' }, 'dailyCostLimit'],
    [{ expirationMode: 'never' }, 'expirationMode'],
    [{ activationUnit: 'weeks' }, 'activationUnit'],
    [{ restrictedModels: 'claude' }, 'restrictedModels'],
    [{ tags: [1] }, 'tags'],
  ];
  for (const [fields, name] of bad) {
    const r = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', ...fields } });
    assert.equal(r.status, 400, JSON.stringify(fields));
    assert.ok(r.json.error.includes(name), `${JSON.stringify(fields)}: ${r.text}`);
  }
});

test('key-holder endpoints: key-info, usage and me, authenticated by the key', async () => {
  const key = await newKey({ dailyCostLimit: 5, concurrencyLimit: 2 });
  assert.equal((await send(key)).status, 200);
  await waitFor(async () => (await keyUsage(st.redis.port, key.id)).requests === 1, { what: 'usage' });
  for (const p of ['/api/v1/key-info', '/v1/key-info', '/claude/v1/key-info']) {
    const r = await httpRequest(st.relay.url + p, { headers: { authorization: `Bearer ${key.apiKey}` } });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.equal(r.json.keyInfo.id, key.id);
    assert.equal(r.json.keyInfo.usage.total.requests, 1);
    assert.equal(r.json.keyInfo.usage.cost.total, 0.000265);
    assert.equal(r.json.keyInfo.limits.dailyCost, 5);
  }
  const u = await httpRequest(`${st.relay.url}/api/v1/usage`, { headers: { 'x-api-key': key.apiKey } });
  assert.equal(u.json.usage.total.allTokens, 36);
  assert.equal(u.json.limits.concurrency, 2);
  const me = await httpRequest(`${st.relay.url}/api/v1/me`, { headers: { 'x-api-key': key.apiKey } });
  assert.equal(me.json.id, `user_${key.id}`);
  const no = await httpRequest(`${st.relay.url}/api/v1/key-info`);
  assert.equal(no.status, 401);
});

test('batch create and regenerate: new secrets, same id and statistics', async () => {
  const r = await api(st.relay, 'POST', '/admin/api-keys/batch', { token: st.token, body: { baseName: 'team', count: 3, dailyCostLimit: 2 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.length, 3);
  assert.deepEqual(r.json.data.map((k) => k.name), ['team_1', 'team_2', 'team_3']);
  assert.deepEqual(r.json.summary, { requested: 3, created: 3, failed: 0 });
  const k = { id: r.json.data[0].id, apiKey: r.json.data[0].apiKey };
  assert.match(k.apiKey, /^cr_[0-9a-f]{64}$/);
  assert.equal((await send(k)).status, 200);
  await waitFor(async () => (await keyUsage(st.redis.port, k.id)).requests === 1, { what: 'usage' });
  const g = await api(st.relay, 'POST', `/admin/api-keys/${k.id}/regenerate`, { token: st.token });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.data.id, k.id);
  assert.notEqual(g.json.data.apiKey, k.apiKey);
  assert.equal((await send(k)).status, 401, 'the old secret stops working at once');
  assert.equal((await send({ apiKey: g.json.data.apiKey })).status, 200);
  await waitFor(async () => (await keyUsage(st.redis.port, k.id)).requests === 2, { what: 'same statistics' });
  const bad = await api(st.relay, 'POST', '/admin/api-keys/batch', { token: st.token, body: { baseName: 'x', count: 1 } });
  assert.equal(bad.status, 400);
  const badField = await api(st.relay, 'POST', '/admin/api-keys/batch', { token: st.token, body: { baseName: 'x', count: 2, frob: 1 } });
  assert.equal(badField.status, 400);
  assert.equal(badField.json.error, 'unsupported field: frob');
});

test('an admin edit takes effect at once (the key cache is invalidated), also on another relay', async () => {
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  const relay2 = await startRelay({ redisPort: st.redis.port, env: shared });
  try {
    const key = await newKey({});
    assert.equal((await send(key)).status, 200);
    assert.equal((await send(key, messageBody(), { relay: relay2 })).status, 200);
    await api(st.relay, 'PUT', `/admin/api-keys/${key.id}`, { token: st.token, body: { isActive: false } });
    assert.equal((await send(key)).status, 401);
    await waitFor(async () => (await send(key, messageBody(), { relay: relay2 })).status === 401, { timeout: 2000, what: 'relay2 sees the edit' });
  } finally {
    await relay2.stop();
  }
});
