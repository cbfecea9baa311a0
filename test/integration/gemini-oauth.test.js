'use strict';
// Gemini (Google OAuth) accounts made and kept alive by the shared OAuth machinery: the admin
// PKCE flow at /admin/gemini-accounts against the mock Google token endpoint
// (test/mock/google_oauth.js: form bodies, client id and secret checked, no refresh_token on a
// refresh), the minted token used upstream at the mock Code Assist (test/mock/code_assist.js),
// the on-demand refresh single-flight across two relays, the maintenance refresh, a refresh
// answer without refresh_token, and a refused refresh (invalid_grant).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { stack, startMockUpstream, startRelay, login, api, createKey, dumpRedis, redisCmd, waitFor, httpRequest } = require('../lib/env');
const { GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET, GOOGLE_SCOPE } = require('../mock/google_oauth');

const A = '/admin/gemini-accounts';
const REDIRECT = 'https://codeassist.google.com/authcode';

let st;
let mock;
let ENV;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
  ENV = { GEMINI_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/google/authorize', GEMINI_OAUTH_TOKEN_URL: mock.url + '/oauth/google/token', GEMINI_CODE_ASSIST_URL: mock.url };
  st = await stack({ mock, relayEnv: ENV, account: false, key: { name: 'gem', permissions: ['gemini'] } });
});

after(async () => {
  if (st) await st.teardown();
});

function sharedEnv() {
  return { ...ENV, ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
}

async function getAccount(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', A, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function removeAccount(id) {
  const r = await api(st.relay, 'DELETE', `${A}/${id}`, { token: st.token });
  assert.equal(r.status, 200, r.text);
}

// generate-auth-url, with a Google-style code ("4/0A...") registered at the mock for its challenge.
async function startFlow(user) {
  const r = await api(st.relay, 'POST', `${A}/generate-auth-url`, { token: st.token, body: {} });
  assert.equal(r.status, 200, r.text);
  const { authUrl, sessionId } = r.json.data;
  const u = new URL(authUrl);
  const code = '4/0Ab' + crypto.randomBytes(16).toString('hex');
  mock.googleOAuth.expectCode(code, u.searchParams.get('code_challenge'), user);
  return { u, sessionId, code, state: u.searchParams.get('state') };
}

async function exchangeAccount(name, extra = {}, user = 'guser') {
  const f = await startFlow(user);
  const callbackUrl = `${REDIRECT}?state=${f.state}&code=${encodeURIComponent(f.code)}&scope=${encodeURIComponent(GOOGLE_SCOPE)}`;
  const r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body: { sessionId: f.sessionId, callbackUrl, name, ...extra } });
  assert.equal(r.status, 200, r.text);
  return { acc: r.json.data, tokens: mock.googleOAuth.issued().at(-1) };
}

function envelope(project = 'client-project', model = 'gemini-2.5-pro') {
  return { model, project, user_prompt_id: crypto.randomUUID(), request: { contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }], session_id: crypto.randomUUID() } };
}

function generate(relay = st.relay, key = st.key.apiKey, body = envelope()) {
  return httpRequest(`${relay.url}/gemini/v1internal:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
}

test('generate-auth-url: Google\'s PKCE URL (offline access, select_account, S256, state, redirect_uri, cloud-platform scope); the session in Redis with its verifier sealed', async () => {
  const { u, sessionId, state } = await startFlow();
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/google/authorize');
  const q = u.searchParams;
  assert.equal(q.get('access_type'), 'offline');
  assert.equal(q.get('prompt'), 'select_account');
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), GEMINI_CLI_CLIENT_ID);
  assert.equal(q.get('redirect_uri'), REDIRECT);
  assert.equal(q.get('scope'), GOOGLE_SCOPE);
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(state, /^[0-9a-f]{64}$/);
  assert.equal(q.get('client_secret'), null, 'the secret is for the token endpoint only');
  const h = await redisCmd(st.redis.port, 'HGETALL', `oauth:${sessionId}`);
  const rec = {};
  for (let i = 0; i < h.length; i += 2) rec[h[i]] = h[i + 1];
  assert.equal(rec.platform, 'gemini');
  assert.equal(rec.state, state);
  assert.match(rec.codeVerifier, /^s1:/, 'verifier sealed');
  // An OpenAI session is not finished here.
  const o = await api(st.relay, 'POST', '/admin/openai-accounts/generate-auth-url', { token: st.token, body: {} });
  const r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body: { sessionId: o.json.data.sessionId, authorizationCode: '4/0Ab0123456789abcdef', name: 'x' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /sessionId/);
});

test('exchange-code with a pasted code: form token call with client id AND secret; the account made from the same body incl. projectId; no token in any admin answer or Redis; Code Assist gets the token and the project', async () => {
  const f = await startFlow('gpaste');
  mock.googleOAuth.reset();
  const body = { sessionId: f.sessionId, authorizationCode: f.code, name: 'gemini-pasted', projectId: 'my-gcp-project', priority: 10, rateLimitDuration: 30 };
  // A bad account field is refused before the code is spent.
  let r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body: { ...body, rateLimitDuration: 'soon' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /rateLimitDuration/);
  assert.equal(mock.googleOAuth.calls().length, 0);
  r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body });
  assert.equal(r.status, 200, r.text);
  const acc = r.json.data;
  const tokens = mock.googleOAuth.issued().at(-1);
  try {
    const call = mock.googleOAuth.calls().at(-1);
    assert.equal(call.grant_type, 'authorization_code');
    assert.match(call.contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(call.body.client_id, GEMINI_CLI_CLIENT_ID);
    assert.equal(call.body.client_secret, GEMINI_CLI_CLIENT_SECRET);
    assert.equal(call.body.redirect_uri, REDIRECT);
    assert.equal(call.body.code, f.code, 'the code with its slash');
    assert.match(call.body.code_verifier, /^[0-9a-f]{128}$/);
    assert.equal(call.body.state, undefined);
    assert.equal(acc.platform, 'gemini');
    assert.equal(acc.name, 'gemini-pasted');
    assert.equal(acc.projectId, 'my-gcp-project');
    assert.equal(acc.priority, 10);
    assert.equal(acc.rateLimitDuration, 30);
    assert.equal(acc.scopes, GOOGLE_SCOPE);
    assert.equal(acc.hasAccessToken, true);
    assert.equal(acc.hasRefreshToken, true);
    assert.ok(Math.abs(acc.expiresAt - (Date.now() + 3599e3)) < 5000, `expiresAt ${acc.expiresAt}`);
    assert.ok(acc.lastRefreshAt);
    const view = JSON.stringify([r.json, await api(st.relay, 'GET', A, { token: st.token })]);
    for (const s of [tokens.access_token, tokens.refresh_token, tokens.id_token]) assert.ok(!view.includes(s), 'no token in an admin answer');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(dump.includes(`gemini_account:${acc.id}`));
    for (const s of [tokens.access_token, tokens.refresh_token, tokens.id_token, f.code]) assert.ok(!dump.includes(s), 'tokens sealed at rest');
    // The code is spent: a second exchange of the same session fails.
    r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body });
    assert.ok(r.status >= 400, r.text);
    mock.codeAssist.allowProject('gpaste', 'my-gcp-project');
    mock.reset();
    const g = await generate();
    assert.equal(g.status, 200, g.text);
    const up = mock.codeAssistRequests('generateContent');
    assert.equal(up.length, 1);
    assert.equal(up[0].headers.authorization, `Bearer ${tokens.access_token}`);
    assert.equal(up[0].body.project, 'my-gcp-project');
  } finally {
    await removeAccount(acc.id);
  }
});

test('exchange-code with the callback URL: the percent-encoded code and its state; another state is refused', async () => {
  const f = await startFlow();
  const bad = `${REDIRECT}?state=${'0'.repeat(64)}&code=${encodeURIComponent(f.code)}`;
  let r = await api(st.relay, 'POST', `${A}/exchange-code`, { token: st.token, body: { sessionId: f.sessionId, callbackUrl: bad, name: 'x' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /state/);
  const { acc, tokens } = await exchangeAccount('gemini-callback');
  try {
    assert.equal(acc.hasRefreshToken, true);
    assert.equal(mock.googleOAuth.calls().at(-1).body.code.startsWith('4/0Ab'), true, 'decoded before the token call');
    mock.reset();
    assert.equal((await generate(st.relay, st.key.apiKey, envelope('proj-guser'))).status, 200);
    assert.equal(mock.codeAssistRequests('generateContent')[0].headers.authorization, `Bearer ${tokens.access_token}`);
  } finally {
    await removeAccount(acc.id);
  }
});

test('refresh on demand: a token expiring within Google\'s 5-minute lead makes requests on two relays wait for one token call; every request carries the new token', async () => {
  const b = await startRelay({ redisPort: st.redis.port, env: sharedEnv() }); // its start-up run sees no account
  mock.googleOAuth.expiresIn = 240; // inside the 5-minute lead (a 1-minute lead would send it as is)
  const { acc, tokens: old } = await exchangeAccount('gemini-demand', { projectId: 'proj-guser' });
  mock.googleOAuth.expiresIn = 3599;
  mock.googleOAuth.delayMs = 1200;
  mock.googleOAuth.reset();
  try {
    await waitFor(async () => (await getAccount(acc.id, b, await login(b))) !== undefined, { what: 'b knows the account' });
    mock.reset();
    const replies = await Promise.all([st.relay, st.relay, st.relay, b, b, b].map((r) => generate(r)));
    for (const g of replies) assert.equal(g.status, 200, g.text);
    const calls = mock.googleOAuth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1, JSON.stringify(calls.map((x) => x.at)));
    assert.match(calls[0].contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    assert.equal(calls[0].body.client_id, GEMINI_CLI_CLIENT_ID);
    assert.equal(calls[0].body.client_secret, GEMINI_CLI_CLIENT_SECRET);
    assert.equal(calls[0].body.scope, undefined);
    const fresh = mock.googleOAuth.issued().at(-1);
    assert.notEqual(fresh.access_token, old.access_token);
    assert.deepEqual(mock.codeAssistRequests('generateContent').map((x) => x.headers.authorization), Array(6).fill(`Bearer ${fresh.access_token}`), 'no request went out with the old token');
    assert.equal(await redisCmd(st.redis.port, 'EXISTS', `token_refresh_lock:gemini:${acc.id}`), 0, 'lock released');
    const v = await getAccount(acc.id);
    assert.ok(v.expiresAt > Date.now() + 3000e3, `expiresAt ${v.expiresAt}`);
    assert.equal(v.hasRefreshToken, true, 'Google sent no refresh_token: the stored one stays');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(!dump.includes(fresh.access_token), 'new token sealed');
  } finally {
    mock.googleOAuth.delayMs = 0;
    await b.stop();
    await removeAccount(acc.id);
  }
});

test('a refresh answer without refresh_token keeps the stored one; a refused refresh (invalid_grant) marks the account unauthorized and requests skip it', async () => {
  const { acc, tokens: old } = await exchangeAccount('gemini-keep', { projectId: 'proj-guser' });
  const key = await createKey(st.relay, st.token, { name: 'gem-bound', permissions: ['gemini'], geminiAccountId: acc.id });
  try {
    mock.googleOAuth.reset();
    let r = await api(st.relay, 'POST', `${A}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    r = await api(st.relay, 'POST', `${A}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    const calls = mock.googleOAuth.calls();
    assert.equal(calls.length, 2);
    for (const c of calls) assert.equal(c.body.refresh_token, old.refresh_token, 'the stored refresh token was kept');
    assert.equal(r.json.data.hasRefreshToken, true);
    assert.equal(r.json.data.projectId, 'proj-guser', 'the account fields are kept');
    const fresh = mock.googleOAuth.issued().at(-1);
    mock.reset();
    assert.equal((await generate(st.relay, key.apiKey)).status, 200);
    assert.equal(mock.codeAssistRequests('generateContent')[0].headers.authorization, `Bearer ${fresh.access_token}`);
    mock.googleOAuth.failRefresh = true;
    r = await api(st.relay, 'POST', `${A}/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 502, r.text);
    assert.match(r.text, /invalid_grant/);
    await waitFor(async () => (await getAccount(acc.id)).status === 'unauthorized', { what: 'marked' });
    assert.match((await getAccount(acc.id)).statusReason, /token refresh failed/);
    mock.reset();
    const g = await generate(st.relay, key.apiKey);
    assert.equal(g.status, 503, g.text);
    assert.equal(mock.codeAssistRequests('generateContent').length, 0, 'an unauthorized account is not used');
  } finally {
    mock.googleOAuth.failRefresh = false;
    await removeAccount(acc.id);
  }
});

test('refresh by maintenance: a relay\'s start-up run renews a token due within TOKEN_REFRESH_LEAD_SECONDS; the other relay uses the new token', async () => {
  mock.googleOAuth.expiresIn = 500; // inside the 600 s maintenance lead, outside the 5-minute demand lead
  const { acc, tokens: old } = await exchangeAccount('gemini-maint', { projectId: 'proj-guser' });
  mock.googleOAuth.expiresIn = 3599;
  mock.googleOAuth.reset();
  mock.reset();
  assert.equal((await generate()).status, 200);
  assert.equal(mock.codeAssistRequests('generateContent')[0].headers.authorization, `Bearer ${old.access_token}`, 'not due on demand: sent as is');
  assert.equal(mock.googleOAuth.calls().length, 0);
  const c = await startRelay({ redisPort: st.redis.port, env: sharedEnv() });
  try {
    await waitFor(async () => (await getAccount(acc.id)).expiresAt > Date.now() + 3000e3, { timeout: 15000, what: 'refreshed expiresAt' });
    const calls = mock.googleOAuth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    const fresh = mock.googleOAuth.issued().at(-1);
    await waitFor(async () => {
      mock.reset();
      assert.equal((await generate()).status, 200);
      return mock.codeAssistRequests('generateContent')[0].headers.authorization === `Bearer ${fresh.access_token}`;
    }, { timeout: 5000, what: 'the first relay uses the new token' });
    assert.equal(await redisCmd(st.redis.port, 'EXISTS', `token_refresh_lock:gemini:${acc.id}`), 0, 'lock released');
  } finally {
    await c.stop();
    await removeAccount(acc.id);
  }
});

test('an account made without projectId gets its project from the relay\'s own loadCodeAssist (once, at the exchange): its first content call already names it', async () => {
  mock.reset();
  const { acc, tokens } = await exchangeAccount('gemini-side', {}, 'gside');
  try {
    await waitFor(async () => (await getAccount(acc.id)).tempProjectId === 'proj-gside', { what: 'tempProjectId from the side call' });
    const load = mock.codeAssistRequests('loadCodeAssist');
    assert.equal(load.length, 1);
    assert.equal(load[0].headers.authorization, `Bearer ${tokens.access_token}`);
    assert.equal(load[0].body.metadata.pluginType, 'GEMINI');
    mock.reset();
    const g = await generate(st.relay, st.key.apiKey, envelope('client-project'));
    assert.equal(g.status, 200, g.text);
    assert.equal(mock.codeAssistRequests('generateContent')[0].body.project, 'proj-gside', 'not the client\'s project');
    assert.equal(mock.codeAssistRequests('loadCodeAssist').length, 0, 'no side call per request');
  } finally {
    await removeAccount(acc.id);
  }
  // A user Code Assist has not onboarded yet: no project in the answer, none stored.
  mock.reset();
  const { acc: n } = await exchangeAccount('gemini-noproj', {}, 'noprojuser');
  try {
    await waitFor(async () => mock.codeAssistRequests('loadCodeAssist').length === 1, { what: 'the side call' });
    assert.equal((await getAccount(n.id)).tempProjectId, '');
  } finally {
    await removeAccount(n.id);
  }
});
