'use strict';
// ChatGPT / Codex OAuth accounts (account type `openai`, /admin/openai-accounts) on the shared
// OAuth machinery: the PKCE flow against the mock's OpenAI token endpoint (form bodies, an
// id_token with the ChatGPT claims), the Codex backend upstream (bearer + chatgpt-account-id,
// store=false), on-demand refresh single-flight across two relays, the usage-limit and
// unauthorized reactions, and Codex CLI 0.169.0 (exec + exec resume --last) configured as the
// customer's guide says.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const OpenAI = require('openai');
const { stack, startMockUpstream, startRelay, login, api, createKey, dumpRedis, redisCmd, waitFor, waitForUsage, mkTmp, rmTmp, MOCK_TEXT } = require('../lib/env');
const { codexHome: sharedCodexHome, codex: runCodex } = require('../lib/codex');
const { OAI_COUNTED } = require('../mock/upstream');

const CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';
const REDIRECT = 'http://localhost:1455/auth/callback';
const OA = '/admin/openai-accounts';

let st;
let mock;
let ENV;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
  ENV = { OPENAI_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/openai/authorize', OPENAI_OAUTH_TOKEN_URL: mock.url + '/oauth/openai/token', OPENAI_CODEX_API_URL: mock.url + '/backend-api/codex' };
  st = await stack({ mock, relayEnv: ENV, account: false, key: { name: 'oai', permissions: ['openai'] } });
});

after(async () => {
  if (st) await st.teardown();
});

function sdk(relay = st.relay, apiKey = st.key.apiKey) {
  return new OpenAI({ apiKey, baseURL: relay.url + '/openai/v1', maxRetries: 0 });
}

async function removeAccount(id) {
  const r = await api(st.relay, 'DELETE', `${OA}/${id}`, { token: st.token });
  assert.equal(r.status, 200, r.text);
}

async function getAccount(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', OA, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

// generate-auth-url, with the code registered at the mock for the URL's challenge.
async function startFlow(claims) {
  const r = await api(st.relay, 'POST', `${OA}/generate-auth-url`, { token: st.token, body: {} });
  assert.equal(r.status, 200, r.text);
  const { authUrl, sessionId } = r.json.data;
  const u = new URL(authUrl);
  const code = 'ac_' + crypto.randomBytes(12).toString('hex');
  mock.openaiOAuth.expectCode(code, u.searchParams.get('code_challenge'), claims);
  return { u, sessionId, code, state: u.searchParams.get('state') };
}

async function exchangeAccount(name, extra = {}, claims = {}) {
  const f = await startFlow(claims);
  const callbackUrl = `${REDIRECT}?code=${f.code}&scope=openid&state=${f.state}`;
  const r = await api(st.relay, 'POST', `${OA}/exchange-code`, { token: st.token, body: { sessionId: f.sessionId, callbackUrl, name, ...extra } });
  assert.equal(r.status, 200, r.text);
  return { acc: r.json.data, tokens: mock.openaiOAuth.issued().at(-1) };
}

function sharedEnv() {
  return { ...ENV, ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
}

test('generate-auth-url: the Codex PKCE URL (hex verifier, S256), the session in Redis with its verifier sealed', async () => {
  const { u, sessionId, state } = await startFlow();
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/openai/authorize');
  const q = u.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), CLIENT_ID);
  assert.equal(q.get('redirect_uri'), REDIRECT);
  assert.equal(q.get('scope'), 'openid profile email offline_access');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(state, /^[0-9a-f]{64}$/);
  assert.equal(q.get('id_token_add_organizations'), 'true');
  assert.equal(q.get('codex_cli_simplified_flow'), 'true');
  const h = await redisCmd(st.redis.port, 'HGETALL', `oauth:${sessionId}`);
  const rec = {};
  for (let i = 0; i < h.length; i += 2) rec[h[i]] = h[i + 1];
  assert.equal(rec.platform, 'openai');
  assert.equal(rec.state, state);
  assert.match(rec.codeVerifier, /^s1:/, 'verifier sealed');
  const ttl = await redisCmd(st.redis.port, 'TTL', `oauth:${sessionId}`);
  assert.ok(ttl > 590 && ttl <= 600, `ttl ${ttl}`);
  // A Claude session is not finished by the OpenAI exchange (nor the reverse), and openai has no setup-token flow.
  const c = await api(st.relay, 'POST', '/admin/claude-accounts/generate-auth-url', { token: st.token, body: {} });
  const r = await api(st.relay, 'POST', `${OA}/exchange-code`, { token: st.token, body: { sessionId: c.json.data.sessionId, authorizationCode: 'ac_0123456789abcdef', name: 'x' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /sessionId/);
  const setup = await api(st.relay, 'POST', `${OA}/generate-setup-token-url`, { token: st.token, body: {} });
  assert.ok([404, 405].includes(setup.status), setup.text);
});

test('exchange-code: form token call, the account created with its id_token claims; tokens sealed, never shown; the Codex backend called with bearer, chatgpt-account-id and store=false', async () => {
  const { acc, tokens } = await exchangeAccount('chatgpt-1', { priority: 10 }, { chatgpt_account_id: 'acct-one', chatgpt_plan_type: 'pro', email: 'one@example.com' });
  try {
    const call = mock.openaiOAuth.calls().at(-1);
    assert.equal(call.grant_type, 'authorization_code');
    assert.match(call.contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(call.body.client_id, CLIENT_ID);
    assert.equal(call.body.redirect_uri, REDIRECT);
    assert.match(call.body.code_verifier, /^[0-9a-f]{128}$/);
    assert.equal(call.body.state, undefined);
    assert.equal(acc.platform, 'openai');
    assert.equal(acc.accountId, 'acct-one');
    assert.equal(acc.planType, 'pro');
    assert.equal(acc.email, 'one@example.com');
    assert.match(acc.chatgptUserId, /^user-/);
    assert.equal(acc.hasAccessToken, true);
    assert.equal(acc.hasRefreshToken, true);
    assert.ok(Math.abs(acc.expiresAt - (Date.now() + 3600e3)) < 5000, `expiresAt ${acc.expiresAt}`);
    const view = JSON.stringify(await api(st.relay, 'GET', OA, { token: st.token }));
    for (const s of [tokens.access_token, tokens.refresh_token, tokens.id_token]) assert.ok(!view.includes(s), 'no token in an admin answer');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(dump.includes(`openai_account:${acc.id}`));
    for (const s of [tokens.access_token, tokens.refresh_token, tokens.id_token]) assert.ok(!dump.includes(s), 'tokens sealed at rest');
    // Relay-set fields are refused by name.
    for (const field of ['accountId', 'planType', 'lastRefreshAt']) {
      const r = await api(st.relay, 'PUT', `${OA}/${acc.id}`, { token: st.token, body: { [field]: 'x' } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(field));
    }
    mock.reset();
    const res = await sdk().responses.create({ model: 'gpt-5', input: 'Say hello.' }, { headers: { 'openai-beta': 'responses=experimental', version: '0.169.0', session_id: 'sess-1', 'x-secret-client-header': 'no' } });
    assert.equal(res.output_text, MOCK_TEXT);
    const up = mock.codexRequests();
    assert.equal(up.length, 1);
    assert.equal(up[0].path, '/backend-api/codex/responses');
    assert.equal(up[0].headers.authorization, `Bearer ${tokens.access_token}`);
    assert.equal(up[0].headers['chatgpt-account-id'], 'acct-one');
    assert.equal(up[0].headers['openai-beta'], 'responses=experimental');
    assert.equal(up[0].headers.version, '0.169.0');
    assert.equal(up[0].headers.session_id, 'sess-1');
    assert.equal(up[0].headers['x-secret-client-header'], undefined, 'only the spec\'s client headers');
    assert.equal(up[0].headers.accept, 'application/json');
    assert.equal(up[0].body.store, false);
    assert.ok(!JSON.stringify(up[0]).includes(st.key.apiKey), 'the relay key never reaches upstream');
    // The x-codex-primary-* headers are the account's usage window in the admin view.
    const v = await getAccount(acc.id);
    assert.equal(v.sessionWindow.status, '42% used');
    assert.ok(Math.abs(Date.parse(v.sessionWindow.resetsAt) - (Date.now() + 3600e3)) < 10000, v.sessionWindow.resetsAt);
  } finally {
    await removeAccount(acc.id);
  }
});

test('usage and cost counted once per request (JSON, stream and compact); a key bound by openaiAccountId uses that ChatGPT account', async () => {
  const { acc: a } = await exchangeAccount('chatgpt-a', { priority: 10 });
  const { acc: b, tokens: tb } = await exchangeAccount('chatgpt-b', { priority: 90 });
  const key = await createKey(st.relay, st.token, { name: 'bound', permissions: ['openai'], openaiAccountId: b.id });
  try {
    mock.reset();
    await sdk(st.relay, key.apiKey).responses.create({ model: 'gpt-5', input: 'one' });
    assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...OAI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), '111');
    const stream = await sdk(st.relay, key.apiKey).responses.create({ model: 'gpt-5', input: 'two', stream: true });
    let text = '';
    for await (const ev of stream) if (ev.type === 'response.output_text.delta') text += ev.delta;
    assert.equal(text, MOCK_TEXT);
    const r = await fetch(st.relay.url + '/openai/v1/responses/compact', { method: 'POST', headers: { authorization: `Bearer ${key.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-5', input: 'three', store: true }) });
    assert.equal(r.status, 200, await r.text());
    const u = await waitForUsage(st.redis.port, key.id, 3);
    assert.equal(u.requests, 3);
    assert.equal(u.inputTokens, 3 * OAI_COUNTED.inputTokens);
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), '333');
    const up = mock.codexRequests();
    assert.equal(up.length, 3);
    for (const q of up) assert.equal(q.headers.authorization, `Bearer ${tb.access_token}`, 'the bound account, not the preferred one');
    assert.equal(up[1].headers.accept, 'text/event-stream');
    assert.equal(up[2].path, '/backend-api/codex/responses/compact');
    assert.equal('store' in up[2].body, false, 'compact: store removed');
    // An id naming no account is refused; the original's "responses:<id>" names an openai-responses one.
    const k2 = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'no-such', openaiAccountId: crypto.randomUUID() } });
    assert.equal(k2.status, 400, k2.text);
    assert.match(k2.text, /openaiAccountId/);
    const ra = await api(st.relay, 'POST', '/admin/openai-responses-accounts', { token: st.token, body: { name: 'api-key-acc', baseApi: mock.url, apiKey: 'sk-resp-0001', priority: 99 } });
    assert.equal(ra.status, 200, ra.text);
    try {
      const k3 = await createKey(st.relay, st.token, { name: 'responses-bound', permissions: ['openai'], openaiAccountId: `responses:${ra.json.data.id}` });
      mock.reset();
      await sdk(st.relay, k3.apiKey).responses.create({ model: 'gpt-5', input: 'four' });
      assert.equal(mock.codexRequests().length, 0);
      assert.equal(mock.responsesRequests()[0].headers.authorization, 'Bearer sk-resp-0001');
    } finally {
      await api(st.relay, 'DELETE', `/admin/openai-responses-accounts/${ra.json.data.id}`, { token: st.token });
    }
  } finally {
    await removeAccount(a.id);
    await removeAccount(b.id);
  }
});

test('429 usage_limit_reached marks the account until the reset and the request fails over; 401 and 402 mark it unauthorized', async () => {
  const { acc: a } = await exchangeAccount('chatgpt-limited', { priority: 1 }, { chatgpt_account_id: 'acct-limited' });
  const { acc: b, tokens: tb } = await exchangeAccount('chatgpt-spare', { priority: 50 });
  const { acc: c } = await exchangeAccount('chatgpt-401', { priority: 2 }, { chatgpt_account_id: 'acct-401' });
  let d = null;
  mock.openaiOAuth.behave.set('acct-limited', 'ratelimit-1800');
  mock.openaiOAuth.behave.set('acct-401', 'error-401');
  mock.openaiOAuth.behave.set('acct-402', 'error-402');
  const sentTo = () => mock.codexRequests().map((q) => (q.headers.authorization === `Bearer ${tb.access_token}` ? 'spare' : q.headers['chatgpt-account-id']));
  try {
    mock.reset();
    let res = await sdk().responses.create({ model: 'gpt-5', input: 'Say hello.' });
    assert.equal(res.output_text, MOCK_TEXT);
    assert.deepEqual(sentTo(), ['acct-limited', 'acct-401', 'spare'], 'failed over to the spare account');
    const va = await getAccount(a.id);
    assert.equal(va.status, 'rate_limited');
    assert.ok(Math.abs(Date.parse(va.statusUntil) - (Date.now() + 1800e3)) < 10000, va.statusUntil);
    assert.equal((await getAccount(c.id)).status, 'unauthorized');
    // 402 (payment required): unauthorized too; the marked accounts are skipped at once.
    d = (await exchangeAccount('chatgpt-402', { priority: 3 }, { chatgpt_account_id: 'acct-402' })).acc;
    mock.reset();
    res = await sdk().responses.create({ model: 'gpt-5', input: 'A new question.' });
    assert.equal(res.output_text, MOCK_TEXT);
    assert.deepEqual(sentTo(), ['acct-402', 'spare']);
    const vd = await getAccount(d.id);
    assert.equal(vd.status, 'unauthorized');
    assert.match(vd.statusReason, /402/);
    mock.reset();
    await sdk().responses.create({ model: 'gpt-5', input: 'Again.' });
    assert.equal(mock.codexRequests().length, 1);
    assert.equal(mock.codexRequests()[0].headers.authorization, `Bearer ${tb.access_token}`);
  } finally {
    mock.openaiOAuth.behave.clear();
    for (const x of [a, b, c, d]) if (x) await removeAccount(x.id);
  }
});

test('a usage_limit_reached error in a committed stream marks the account until its reset; the next request goes elsewhere', async () => {
  const { acc: a } = await exchangeAccount('chatgpt-midstream', { priority: 1 }, { chatgpt_account_id: 'acct-mid' });
  const { acc: b, tokens: tb } = await exchangeAccount('chatgpt-after', { priority: 50 });
  mock.openaiOAuth.behave.set('acct-mid', 'midstream-limit-900');
  try {
    mock.reset();
    const r = await fetch(st.relay.url + '/openai/v1/responses', { method: 'POST', headers: { authorization: `Bearer ${st.key.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-5', input: 'hi', stream: true }) });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /usage_limit_reached/, 'the client sees the error as it came');
    await waitFor(async () => (await getAccount(a.id)).status === 'rate_limited', { what: 'marked after the stream' });
    const v = await getAccount(a.id);
    assert.ok(Math.abs(Date.parse(v.statusUntil) - (Date.now() + 900e3)) < 10000, v.statusUntil);
    assert.match(v.statusReason, /usage_limit_reached/);
    mock.reset();
    const res = await sdk().responses.create({ model: 'gpt-5', input: 'A new question.' });
    assert.equal(res.output_text, MOCK_TEXT);
    assert.deepEqual(mock.codexRequests().map((q) => q.headers.authorization), [`Bearer ${tb.access_token}`]);
  } finally {
    mock.openaiOAuth.behave.clear();
    await removeAccount(a.id);
    await removeAccount(b.id);
  }
});

test('refresh on demand: requests on two relays wait for one form token call and all use the new token', async () => {
  const b = await startRelay({ redisPort: st.redis.port, env: sharedEnv() });
  mock.openaiOAuth.expiresIn = 30; // within the on-demand minute; the next maintenance run is 15 min away
  const { acc, tokens: old } = await exchangeAccount('chatgpt-demand');
  mock.openaiOAuth.expiresIn = 3600;
  mock.openaiOAuth.delayMs = 1200;
  mock.openaiOAuth.reset();
  try {
    await waitFor(async () => (await getAccount(acc.id, b, await login(b))) !== undefined, { what: 'b knows the account' });
    mock.reset();
    const replies = await Promise.all([st.relay, st.relay, st.relay, b, b, b].map((r) => sdk(r).responses.create({ model: 'gpt-5', input: 'hi' })));
    for (const m of replies) assert.equal(m.output_text, MOCK_TEXT);
    const calls = mock.openaiOAuth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1, JSON.stringify(calls.map((x) => x.at)));
    assert.match(calls[0].contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    assert.equal(calls[0].body.client_id, CLIENT_ID);
    assert.equal(calls[0].body.scope, 'openid profile email');
    const fresh = mock.openaiOAuth.issued().at(-1);
    assert.deepEqual(mock.codexRequests().map((x) => x.headers.authorization), Array(6).fill(`Bearer ${fresh.access_token}`), 'no request went out with the old token');
    assert.equal(await redisCmd(st.redis.port, 'EXISTS', `token_refresh_lock:openai:${acc.id}`), 0, 'lock released');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(!dump.includes(fresh.access_token) && !dump.includes(fresh.refresh_token), 'new tokens sealed');
  } finally {
    mock.openaiOAuth.delayMs = 0;
    await b.stop();
    await removeAccount(acc.id);
  }
});

test('a refresh answer without a refresh token keeps the stored one; a refused refresh marks the account unauthorized', async () => {
  const { acc, tokens: old } = await exchangeAccount('chatgpt-keep', {}, { chatgpt_account_id: 'acct-keep', chatgpt_plan_type: 'team' });
  try {
    mock.openaiOAuth.omitRefresh = true;
    let r = await api(st.relay, 'POST', `${OA}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.accountId, 'acct-keep', 'claims kept when the answer has no id_token');
    assert.equal(r.json.data.planType, 'team');
    mock.openaiOAuth.omitRefresh = false;
    mock.openaiOAuth.reset();
    r = await api(st.relay, 'POST', `${OA}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(mock.openaiOAuth.calls()[0].body.refresh_token, old.refresh_token, 'the stored refresh token was kept');
    mock.openaiOAuth.failRefresh = true;
    r = await api(st.relay, 'POST', `${OA}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 502, r.text);
    assert.match(r.text, /invalid_grant/);
    await waitFor(async () => (await getAccount(acc.id)).status === 'unauthorized', { what: 'marked' });
  } finally {
    mock.openaiOAuth.omitRefresh = false;
    mock.openaiOAuth.failRefresh = false;
    await removeAccount(acc.id);
  }
});

// ---------------------------------------------------------------- Codex CLI

// ~/.codex/config.toml as the customer's guide (seed 004) writes it, with this relay as the
// host, plus the three switches that keep Codex offline (client-wire-facts.md).
function codexHome(baseUrl) {
  return sharedCodexHome(baseUrl, {
    prefix: 'codex-oauth-home-',
    top: ['model = "gpt-5-codex"', 'model_reasoning_effort = "high"', 'disable_response_storage = true', 'preferred_auth_method = "apikey"'],
    provider: ['requires_openai_auth = true'],
  });
}

const codex = (h, key, args, timeout = 90000) => runCodex(h, key, args, timeout);

test('Codex CLI 0.169.0 on a ChatGPT account: exec, then exec resume --last - both turns on that account, usage once each', { timeout: 240000 }, async () => {
  const { acc, tokens } = await exchangeAccount('chatgpt-codex', {}, { chatgpt_account_id: 'acct-codex' });
  const key = await createKey(st.relay, st.token, { name: 'codex', permissions: ['openai'], enableClientRestriction: true, allowedClients: ['codex_cli'] });
  const h = codexHome(st.relay.url + '/openai');
  try {
    mock.reset();
    const one = await codex(h, key.apiKey, ['Say hello.']);
    assert.equal(one.code, 0, one.stderr.slice(-3000));
    assert.ok(one.stdout.includes(MOCK_TEXT), `stdout: ${one.stdout}`);
    const two = await codex(h, key.apiKey, ['resume', '--last', 'Again.']);
    assert.equal(two.code, 0, two.stderr.slice(-3000));
    assert.ok(two.stdout.includes(MOCK_TEXT), `stdout: ${two.stdout}`);
    const up = mock.codexRequests();
    assert.equal(up.length, 2, JSON.stringify(up.map((r) => r.path)));
    for (const q of up) {
      assert.equal(q.path, '/backend-api/codex/responses');
      assert.equal(q.headers.authorization, `Bearer ${tokens.access_token}`);
      assert.equal(q.headers['chatgpt-account-id'], 'acct-codex');
      assert.equal(q.headers.accept, 'text/event-stream');
      assert.equal(q.body.store, false);
      assert.ok(!JSON.stringify(q).includes(key.apiKey), 'the relay key never reaches upstream');
    }
    assert.ok(up[0].headers.session_id, 'the session id forwarded as session_id');
    assert.equal(up[0].headers.session_id, up[1].headers.session_id, 'resume: the same session');
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2);
  } finally {
    rmTmp(h.home);
    await removeAccount(acc.id);
  }
});
