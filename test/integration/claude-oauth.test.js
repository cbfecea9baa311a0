'use strict';
// Claude subscription accounts (claude-official, /admin/claude-accounts): the provider's
// request shaping, the PKCE flow (generate-auth-url, exchange-code), and token refresh by the
// maintenance thread, single-flight across relays.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');
const { stack, startMockUpstream, startRelay, login, api, dumpRedis, RespClient, waitFor, sleep, runClaude, MOCK_TEXT } = require('../lib/env');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

let st;
let mock;
let ENV;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
  ENV = { CLAUDE_API_URL: mock.url, CLAUDE_OAUTH_TOKEN_URL: mock.url + '/v1/oauth/token', CLAUDE_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/authorize', CLAUDE_OAUTH_PROFILE_URL: mock.url + '/api/oauth/profile', CLAUDE_OAUTH_USAGE_URL: mock.url + '/api/oauth/usage' };
  st = await stack({ mock, relayEnv: ENV, account: false });
});

after(async () => {
  if (st) await st.teardown();
});

const PARAMS = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] };
const CC_BETAS = 'claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14';
const CC_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";

function sdk(relay = st.relay) {
  return new Anthropic({ apiKey: st.key.apiKey, baseURL: relay.url + '/api', maxRetries: 0 });
}

async function removeAccount(id) {
  const r = await api(st.relay, 'DELETE', `/admin/claude-accounts/${id}`, { token: st.token });
  assert.equal(r.status, 200, r.text);
}

test('an admin-made account: Bearer token, the OAuth beta merged into the client list, nothing secret shown or stored', async () => {
  const accessToken = 'sk-ant-oat01-' + 'a'.repeat(40) + 'TOK1';
  const refreshToken = 'sk-ant-ort01-' + 'b'.repeat(40) + 'REF1';
  let r = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'manual', accessToken, refreshToken, expiresAt: Date.now() + 3600e3 } });
  assert.equal(r.status, 200, r.text);
  const acc = r.json.data;
  assert.equal(acc.platform, 'claude-official');
  assert.equal(acc.hasAccessToken, true);
  assert.equal(acc.hasRefreshToken, true);
  assert.ok(!r.text.includes(accessToken) && !r.text.includes(refreshToken));
  try {
    // Fields only the relay sets are refused, naming the field.
    for (const field of ['organization', 'lastRefreshAt']) {
      r = await api(st.relay, 'PUT', `/admin/claude-accounts/${acc.id}`, { token: st.token, body: { [field]: 'x' } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(field));
    }
    mock.reset();
    const client = new Anthropic({
      apiKey: st.key.apiKey,
      baseURL: st.relay.url + '/api',
      maxRetries: 0,
      defaultHeaders: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14, oauth-2025-04-20,fine-grained-tool-streaming-2025-05-14' },
    });
    const msg = await client.messages.create(PARAMS);
    assert.equal(msg.content[0].text, MOCK_TEXT);
    const seen = mock.messageRequests();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers.authorization, `Bearer ${accessToken}`);
    assert.equal(seen[0].headers['x-api-key'], undefined);
    // Not Claude Code: Claude Code's betas first, then the client's, deduplicated.
    assert.equal(seen[0].headers['anthropic-beta'], `${CC_BETAS}`);
    assert.equal(seen[0].url, '/v1/messages?beta=true');
    mock.reset();
    await new Anthropic({ apiKey: st.key.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'context-1m-2025-08-07' } }).messages.create({ ...PARAMS, model: 'claude-haiku-4-5' });
    assert.equal(mock.messageRequests()[0].headers['anthropic-beta'], 'oauth-2025-04-20,interleaved-thinking-2025-05-14,context-1m-2025-08-07');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(dump.includes(`claude_account:${acc.id}`));
    assert.ok(!dump.includes(accessToken) && !dump.includes(refreshToken), 'tokens sealed at rest');
  } finally {
    await removeAccount(acc.id);
  }
});

test('request shaping: another client is dressed as Claude Code; real Claude Code (claude -p) goes as sent', { timeout: 120000 }, async () => {
  const { acc, tokens } = await exchangeAccount('oauth-shaping');
  try {
    mock.reset();
    await sdk().messages.create({ ...PARAMS, system: [{ type: 'text', text: 'Be terse.' }, { type: 'text', text: 'Answer in French.' }], temperature: 0.5 });
    let seen = mock.messageRequests()[0];
    assert.equal(seen.headers.authorization, `Bearer ${tokens.access_token}`);
    assert.equal(seen.body.system, CC_IDENTITY);
    assert.deepEqual(seen.body.messages.slice(0, 3), [
      { role: 'user', content: '[System Instructions - follow these strictly]\nBe terse.\n\nAnswer in French.' },
      { role: 'assistant', content: 'Understood. I will follow these instructions.' },
      PARAMS.messages[0],
    ]);
    assert.equal(seen.body.temperature, 0.5, 'the rest of the body kept');
    const uid = JSON.parse(seen.body.metadata.user_id);
    assert.match(uid.device_id, /^[0-9a-f]{64}$/);
    assert.match(uid.session_id, /^[0-9a-f-]{36}$/);
    assert.match(seen.headers['user-agent'], /^claude-cli\//);
    assert.equal(seen.headers['x-app'], 'cli');
    assert.equal(seen.headers['x-stainless-lang'], 'js');
    assert.equal(seen.headers['anthropic-beta'], CC_BETAS);
    // A client's own metadata.user_id is kept.
    mock.reset();
    const own = JSON.stringify({ device_id: 'd'.repeat(64), account_uuid: '', session_id: crypto.randomUUID() });
    await sdk().messages.create({ ...PARAMS, metadata: { user_id: own } });
    seen = mock.messageRequests()[0];
    assert.equal(seen.body.metadata.user_id, own);
    assert.equal(seen.body.system, CC_IDENTITY);
    assert.equal(seen.body.messages.length, 1, 'no system prompt: nothing moved');

    // The real Claude Code CLI: forwarded as it sent it, with the OAuth beta added.
    mock.reset();
    const r = await runClaude({ baseUrl: st.relay.url + '/api', apiKey: st.key.apiKey, prompt: 'say hi', timeout: 90000 });
    assert.equal(r.code, 0, `${r.stdout.slice(-1000)} ${r.stderr.slice(-1000)}`);
    assert.ok(String(r.json && r.json.result).includes(MOCK_TEXT));
    const streams = mock.messageRequests().filter((q) => q.body && q.body.stream === true);
    assert.ok(streams.length >= 1);
    const cc = streams[0];
    assert.equal(cc.headers.authorization, `Bearer ${tokens.access_token}`);
    assert.ok(Array.isArray(cc.body.system), 'its system blocks untouched');
    assert.ok(cc.body.system.some((b) => /Claude (Code|agent)/.test(b.text)));
    assert.match(cc.headers['user-agent'], /^claude-cli\/2\./, 'its own user-agent');
    const betas = cc.headers['anthropic-beta'].split(',');
    assert.ok(betas.includes('oauth-2025-04-20') && betas.includes('claude-code-20250219'), cc.headers['anthropic-beta']);
  } finally {
    await removeAccount(acc.id);
  }
});

async function redisCmd(...args) {
  const c = new RespClient(st.redis.port);
  await c.connect();
  try {
    return await c.cmd(...args);
  } finally {
    c.close();
  }
}

// generate-auth-url, with the code registered at the mock for the URL's challenge.
async function startFlow(relay = st.relay, token = st.token, path = 'generate-auth-url') {
  const r = await api(relay, 'POST', `/admin/claude-accounts/${path}`, { token, body: {} });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  const { authUrl, sessionId, instructions } = r.json.data;
  assert.ok(instructions && sessionId);
  const u = new URL(authUrl);
  const code = 'code' + crypto.randomBytes(12).toString('hex');
  mock.oauth.expectCode(code, u.searchParams.get('code_challenge'));
  return { u, sessionId, code, state: u.searchParams.get('state') };
}

test('generate-auth-url: S256 PKCE URL, the session in Redis for 600 s with the verifier sealed', async () => {
  const { u, sessionId, state } = await startFlow();
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/authorize');
  const q = u.searchParams;
  assert.equal(q.get('code'), 'true');
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), '9d1c250a-e61b-44d9-88ed-5944d1962f5e');
  assert.equal(q.get('redirect_uri'), 'https://platform.claude.com/oauth/code/callback');
  assert.equal(q.get('scope'), 'org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(state, /^[A-Za-z0-9_-]{43}$/);
  const ttl = await redisCmd('TTL', `oauth:${sessionId}`);
  assert.ok(ttl > 590 && ttl <= 600, `ttl ${ttl}`);
  const h = await redisCmd('HGETALL', `oauth:${sessionId}`);
  const rec = {};
  for (let i = 0; i < h.length; i += 2) rec[h[i]] = h[i + 1];
  assert.equal(rec.state, state);
  assert.equal(rec.codeChallenge, q.get('code_challenge'));
  assert.match(rec.codeVerifier, /^s1:/, 'verifier sealed');
  // Fields it cannot honour are refused, naming them.
  const bad = await api(st.relay, 'POST', '/admin/claude-accounts/generate-auth-url', { token: st.token, body: { foo: 1 } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /foo/);
  const noauth = await api(st.relay, 'POST', '/admin/claude-accounts/generate-auth-url', { body: {} });
  assert.equal(noauth.status, 401);
});

test('exchange-code: a pasted code#state and a callback URL create accounts; tokens sealed, never shown; the SDK served with the Bearer token', async () => {
  // 1: pasted code#state
  const f1 = await startFlow();
  let r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f1.sessionId, authorizationCode: `${f1.code}#${f1.state}`, name: 'oauth-pasted', priority: 10 } });
  assert.equal(r.status, 200, r.text);
  const a1 = r.json.data;
  const t1 = mock.oauth.issued().at(-1);
  assert.equal(a1.platform, 'claude-official');
  assert.equal(a1.name, 'oauth-pasted');
  assert.equal(a1.priority, 10);
  assert.equal(a1.scopes, 'user:inference user:profile');
  assert.equal(a1.organization, 'Mock Org');
  assert.ok(Math.abs(a1.expiresAt - (Date.now() + 3600e3)) < 5000, `expiresAt ${a1.expiresAt}`);
  assert.ok(!r.text.includes(t1.access_token) && !r.text.includes(t1.refresh_token), 'no token in the reply');
  const call = mock.oauth.calls().at(-1);
  assert.equal(call.grant_type, 'authorization_code');
  assert.equal(call.body.code, f1.code);
  assert.equal(call.body.state, f1.state);
  assert.equal(call.body.redirect_uri, 'https://platform.claude.com/oauth/code/callback');
  // The session is used up.
  assert.equal(await redisCmd('EXISTS', `oauth:${f1.sessionId}`), 0);
  r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f1.sessionId, authorizationCode: f1.code, name: 'again' } });
  assert.equal(r.status, 400);
  assert.match(r.text, /sessionId/);

  // 2: the full callback URL
  const f2 = await startFlow();
  const cb = `https://platform.claude.com/oauth/code/callback?code=${f2.code}&state=${f2.state}`;
  r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f2.sessionId, callbackUrl: cb, name: 'oauth-callback', priority: 90 } });
  assert.equal(r.status, 200, r.text);
  const a2 = r.json.data;
  const t2 = mock.oauth.issued().at(-1);
  try {
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    for (const t of [t1, t2]) assert.ok(!dump.includes(t.access_token) && !dump.includes(t.refresh_token), 'tokens sealed at rest');
    // The SDK through the relay: the preferred account (priority 10) is used.
    mock.reset();
    const msg = await sdk().messages.create(PARAMS);
    assert.equal(msg.content[0].text, MOCK_TEXT);
    const seen = mock.messageRequests()[0];
    assert.equal(seen.headers.authorization, `Bearer ${t1.access_token}`);
    assert.equal(seen.headers['anthropic-beta'], CC_BETAS);
  } finally {
    await removeAccount(a1.id);
    await removeAccount(a2.id);
  }
});

test('setup token: inference scope, one year, no refresh token; each flow exchanges only its own sessions', async () => {
  const f = await startFlow(st.relay, st.token, 'generate-setup-token-url');
  assert.equal(f.u.searchParams.get('scope'), 'user:inference');
  assert.equal(f.u.searchParams.get('code_challenge_method'), 'S256');
  // A setup session cannot be finished by the other flow's endpoint (and vice versa).
  let r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f.sessionId, authorizationCode: f.code, name: 'wrong-flow' } });
  assert.equal(r.status, 400);
  assert.match(r.text, /exchange-setup-token-code/);
  const g = await startFlow();
  r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-setup-token-code', { token: st.token, body: { sessionId: g.sessionId, authorizationCode: g.code, name: 'wrong-flow' } });
  assert.equal(r.status, 400);
  assert.match(r.text, /exchange-code/);
  r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-setup-token-code', { token: st.token, body: { sessionId: f.sessionId, authorizationCode: f.code, name: 'setup' } });
  assert.equal(r.status, 200, r.text);
  const acc = r.json.data;
  try {
    assert.equal(mock.oauth.calls().at(-1).body.expires_in, 31536000);
    assert.equal(acc.scopes, 'user:inference');
    assert.ok(Math.abs(acc.expiresAt - (Date.now() + 31536000e3)) < 5000, `expiresAt ${acc.expiresAt}`);
    const t = mock.oauth.issued().at(-1);
    assert.equal(t.refresh_token, undefined);
    assert.equal(await redisCmd('HEXISTS', `claude_account:${acc.id}`, 'refreshToken'), 0);
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(!dump.includes(t.access_token), 'token sealed at rest');
    mock.reset();
    const msg = await sdk().messages.create(PARAMS);
    assert.equal(msg.content[0].text, MOCK_TEXT);
    assert.equal(mock.messageRequests()[0].headers.authorization, `Bearer ${t.access_token}`);
  } finally {
    await removeAccount(acc.id);
  }
});

test('exchange-code refusals: wrong state, bad verifier at the upstream, token fields, unknown fields', async () => {
  const f = await startFlow();
  const ex = (body) => api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f.sessionId, name: 'x', ...body } });
  let r = await ex({ authorizationCode: `${f.code}#wrongstate` });
  assert.equal(r.status, 400);
  assert.match(r.text, /state/);
  r = await ex({ authorizationCode: f.code, accessToken: 'sk-ant-oat01-zzzzzzzzzzzz' });
  assert.equal(r.status, 400);
  assert.match(r.text, /accessToken/);
  r = await ex({ authorizationCode: f.code, bogus: true });
  assert.equal(r.status, 400);
  assert.match(r.text, /bogus/);
  r = await ex({ authorizationCode: 'short' });
  assert.equal(r.status, 400);
  assert.match(r.text, /authorizationCode/);
  // A code the upstream does not know: its error, no account.
  r = await ex({ authorizationCode: 'unknowncode12345' });
  assert.equal(r.status, 502, r.text);
  assert.match(r.text, /invalid_grant/);
  const list = await api(st.relay, 'GET', '/admin/claude-accounts', { token: st.token });
  assert.equal(list.json.data.length, 0);
});

async function exchangeAccount(name, extra = {}) {
  const f = await startFlow();
  const r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f.sessionId, authorizationCode: f.code, name, ...extra } });
  assert.equal(r.status, 200, r.text);
  return { acc: r.json.data, tokens: mock.oauth.issued().at(-1) };
}

function sharedEnv() {
  return { ...ENV, ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
}

async function getAccount(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', '/admin/claude-accounts', { token });
  return r.json.data.find((a) => a.id === id);
}

test('refresh by maintenance: two relays racing make exactly one token call; the new token is used', async () => {
  mock.oauth.expiresIn = 120; // inside the 600 s lead: due at once
  const { acc, tokens: old } = await exchangeAccount('oauth-refresh');
  mock.oauth.expiresIn = 3600;
  mock.oauth.delayMs = 1500; // the winner holds its lock while the other looks
  mock.oauth.reset();
  // st.relay ran its start-up check before this account existed; two fresh relays check at once.
  const [b, c] = await Promise.all([startRelay({ redisPort: st.redis.port, env: sharedEnv() }), startRelay({ redisPort: st.redis.port, env: sharedEnv() })]);
  try {
    await waitFor(async () => (await getAccount(acc.id)).expiresAt > Date.now() + 3000e3, { timeout: 15000, what: 'refreshed expiresAt' });
    await sleep(2500); // a second (wrong) refresh would have been answered by now
    const calls = mock.oauth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1, JSON.stringify(calls.map((x) => x.at)));
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    assert.equal(calls[0].body.client_id, '9d1c250a-e61b-44d9-88ed-5944d1962f5e');
    const fresh = mock.oauth.issued().at(-1);
    const view = await getAccount(acc.id);
    assert.equal(view.status, 'active');
    assert.ok(view.lastRefreshAt);
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(!dump.includes(fresh.access_token) && !dump.includes(fresh.refresh_token), 'new tokens sealed');
    assert.equal(await redisCmd('EXISTS', `token_refresh_lock:claude:${acc.id}`), 0, 'lock released');
    // Every relay now sends the new token (the others learnt it through notify).
    for (const relay of [st.relay, b, c]) {
      mock.reset();
      await waitFor(async () => {
        mock.reset();
        await sdk(relay).messages.create(PARAMS);
        return mock.messageRequests()[0].headers.authorization === `Bearer ${fresh.access_token}`;
      }, { timeout: 5000, what: `relay ${relay.port} uses the new token` });
    }
  } finally {
    mock.oauth.delayMs = 0;
    await b.stop();
    await c.stop();
    await removeAccount(acc.id);
  }
});

test('refresh on demand: requests on two relays wait for one token call (no thread held) and all use the new token', async () => {
  // The second relay starts before the account exists: neither start-up check refreshes it.
  const b = await startRelay({ redisPort: st.redis.port, env: sharedEnv() });
  mock.oauth.expiresIn = 30; // within the on-demand minute; the next maintenance run is 15 min away
  const { acc, tokens: old } = await exchangeAccount('oauth-demand');
  mock.oauth.expiresIn = 3600;
  mock.oauth.delayMs = 1200; // requests arriving meanwhile join the wait
  mock.oauth.reset();
  try {
    await waitFor(async () => (await getAccount(acc.id, b, await login(b))) !== undefined, { what: 'b knows the account' });
    mock.reset();
    const replies = await Promise.all([st.relay, st.relay, st.relay, b, b, b].map((r) => sdk(r).messages.create(PARAMS)));
    for (const m of replies) assert.equal(m.content[0].text, MOCK_TEXT);
    const calls = mock.oauth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1, JSON.stringify(calls.map((x) => x.at)));
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    const fresh = mock.oauth.issued().at(-1);
    const auths = mock.messageRequests().map((x) => x.headers.authorization);
    assert.deepEqual(auths, Array(6).fill(`Bearer ${fresh.access_token}`), 'no request went out with the old token');
    assert.equal(await redisCmd('EXISTS', `token_refresh_lock:claude:${acc.id}`), 0, 'lock released');
    assert.equal((await getAccount(acc.id)).status, 'active');
    for (const relay of [st.relay, b]) {
      await waitFor(async () => {
        const u = (await api(relay, 'GET', '/health')).json.components.upstream;
        return u.transactions === 0 && u.accountLeases === 0 && u.activeStreams === 0;
      }, { timeout: 3000, what: 'every transaction, lease and stream released' });
    }
  } finally {
    mock.oauth.delayMs = 0;
    await b.stop();
    await removeAccount(acc.id);
  }
});

test('5-hour window: tracked per account; autoStopOnWarning stops the account at the warning and it resumes when the window resets', async () => {
  const { acc: stop } = await exchangeAccount('oauth-autostop', { autoStopOnWarning: true, priority: 1 });
  const { acc: keep } = await exchangeAccount('oauth-keepgoing', { priority: 2 });
  assert.equal(stop.autoStopOnWarning, true);
  assert.equal(keep.autoStopOnWarning, false);
  // A conversation of its own: PARAMS' is bound (sticky) to whichever account an earlier test
  // used, and that binding may still name an account being removed.
  const P = { ...PARAMS, messages: [{ role: 'user', content: 'Say hello (5-hour window).' }] };
  const resetS = Math.floor(Date.now() / 1000) + 4;
  mock.setAnswerHeaders({ 'anthropic-ratelimit-unified-5h-status': 'allowed_warning', 'anthropic-ratelimit-unified-5h-reset': String(resetS) });
  try {
    mock.reset();
    const first = await sdk().messages.create(P); // served by the preferred account, which then stops
    assert.equal(first.content[0].text, MOCK_TEXT);
    // The mark is in memory at once; an account reload racing with it (the second account's
    // creation announced one) may read the state from Redis before the mark's write lands and
    // show it active for a moment: the mark's own announcement settles it.
    await waitFor(async () => (await getAccount(stop.id)).status === 'rate_limited', { timeout: 5000, what: 'the warning mark' });
    let view = await getAccount(stop.id);
    assert.equal(view.status, 'rate_limited');
    assert.match(view.statusReason, /5-hour window warning/);
    assert.equal(Date.parse(view.statusUntil), resetS * 1000);
    assert.deepEqual(view.sessionWindow, { status: 'allowed_warning', resetsAt: new Date(resetS * 1000).toISOString() });
    // Streaming too: the next requests go to the other account, which warns but keeps going.
    const stream = await sdk().messages.create({ ...P, stream: true });
    for await (const ev of stream) void ev;
    await sdk().messages.create(P);
    const seen = mock.messageRequests().map((x) => x.headers.authorization);
    assert.equal(seen.length, 3);
    assert.notEqual(seen[1], seen[0]);
    assert.equal(seen[2], seen[1]);
    view = await getAccount(keep.id);
    assert.equal(view.status, 'active');
    assert.equal(view.sessionWindow.status, 'allowed_warning');
    const events = JSON.stringify(await redisCmd('XRANGE', 'account_events', '-', '+'));
    assert.ok(events.includes(stop.id) && events.includes('5-hour window warning'), events.slice(-400));
    // The window passes: the stopped account is scheduled again by itself.
    mock.setAnswerHeaders({ 'anthropic-ratelimit-unified-5h-status': 'allowed' });
    await waitFor(async () => (await getAccount(stop.id)).status === 'active', { timeout: 10000, what: 'resumed after the reset' });
    mock.reset(); // a new conversation (the last one is sticky on the other account now)
    await sdk().messages.create({ ...PARAMS, messages: [{ role: 'user', content: 'A new conversation.' }] });
    assert.equal(mock.messageRequests()[0].headers.authorization, seen[0], 'the preferred account serves again');
    assert.equal((await getAccount(stop.id)).sessionWindow.status, 'allowed');
  } finally {
    mock.setAnswerHeaders({});
    await removeAccount(stop.id);
    await removeAccount(keep.id);
  }
});

test('refresh on demand during a token endpoint outage: a token that is still valid keeps serving', async () => {
  mock.oauth.expiresIn = 40; // due on demand (within a minute), not expired
  const { acc, tokens } = await exchangeAccount('oauth-outage');
  mock.oauth.expiresIn = 3600;
  mock.oauth.refreshStatus = 500;
  try {
    mock.reset();
    const msg = await sdk().messages.create(PARAMS);
    assert.equal(msg.content[0].text, MOCK_TEXT);
    assert.equal(mock.messageRequests()[0].headers.authorization, `Bearer ${tokens.access_token}`, 'the current token, still valid');
    assert.ok(mock.oauth.calls().some((x) => x.grant_type === 'refresh_token'), 'a refresh was tried');
    assert.equal((await getAccount(acc.id)).status, 'active', 'a 5xx from the token endpoint marks nothing');
  } finally {
    mock.oauth.refreshStatus = 0;
    await removeAccount(acc.id);
  }
});

test('POST /:id/refresh renews the token now (not due); the new token is used; refusals answer 502, 400, 404', async () => {
  const { acc, tokens: old } = await exchangeAccount('oauth-manual');
  try {
    mock.oauth.reset();
    let r = await api(st.relay, 'POST', `/admin/claude-accounts/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    const calls = mock.oauth.calls().filter((x) => x.grant_type === 'refresh_token');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.refresh_token, old.refresh_token);
    const fresh = mock.oauth.issued().at(-1);
    assert.ok(!r.text.includes(fresh.access_token) && !r.text.includes(fresh.refresh_token), 'no token in the reply');
    assert.ok(r.json.data.lastRefreshAt);
    mock.reset();
    await sdk().messages.create(PARAMS);
    assert.equal(mock.messageRequests()[0].headers.authorization, `Bearer ${fresh.access_token}`);
    assert.equal(await redisCmd('EXISTS', `token_refresh_lock:claude:${acc.id}`), 0, 'lock released');
    // Refused by the token endpoint: 502 with its error, and the account is marked.
    mock.oauth.failRefresh = true;
    r = await api(st.relay, 'POST', `/admin/claude-accounts/${acc.id}/refresh`, { token: st.token });
    assert.equal(r.status, 502, r.text);
    assert.match(r.text, /invalid_grant/);
    await waitFor(async () => (await getAccount(acc.id)).status === 'unauthorized', { what: 'marked' });
  } finally {
    mock.oauth.failRefresh = false;
    await removeAccount(acc.id);
  }
  const f = await startFlow(st.relay, st.token, 'generate-setup-token-url');
  const setup = (await api(st.relay, 'POST', '/admin/claude-accounts/exchange-setup-token-code', { token: st.token, body: { sessionId: f.sessionId, authorizationCode: f.code, name: 'no-refresh' } })).json.data;
  try {
    const r = await api(st.relay, 'POST', `/admin/claude-accounts/${setup.id}/refresh`, { token: st.token });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /refreshToken/);
  } finally {
    await removeAccount(setup.id);
  }
  const r = await api(st.relay, 'POST', `/admin/claude-accounts/${crypto.randomUUID()}/refresh`, { token: st.token });
  assert.equal(r.status, 404);
  assert.equal((await api(st.relay, 'POST', `/admin/claude-accounts/${crypto.randomUUID()}/refresh`, {})).status, 401);
});

test('a refused refresh marks the account unauthorized with a reason, appends the event and writes the error log', async () => {
  mock.oauth.expiresIn = 120;
  const { acc } = await exchangeAccount('oauth-dead');
  mock.oauth.expiresIn = 3600;
  mock.oauth.failRefresh = true;
  const d = await startRelay({ redisPort: st.redis.port, env: sharedEnv() });
  try {
    const token = await login(d);
    await waitFor(async () => (await getAccount(acc.id, d, token)).status === 'unauthorized', { timeout: 15000, what: 'account marked' });
    const view = await getAccount(acc.id, d, token);
    assert.match(view.statusReason, /token refresh failed: 400 invalid_grant/);
    const events = JSON.stringify(await redisCmd('XRANGE', 'account_events', '-', '+'));
    assert.ok(events.includes(acc.id) && events.includes('unauthorized'), events.slice(-500));
    const logFile = path.join(d.cwd, 'logs', 'token-refresh-error.log');
    await waitFor(() => fs.existsSync(logFile), { what: 'error log' });
    const text = fs.readFileSync(logFile, 'utf8');
    assert.match(text, new RegExp(`account=${acc.id} error=400 invalid_grant`));
    // The other relay honours it too: no request reaches the upstream with the dead account.
    await waitFor(async () => (await getAccount(acc.id)).status === 'unauthorized', { what: 'st.relay sees the mark' });
  } finally {
    mock.oauth.failRefresh = false;
    await d.stop();
    await removeAccount(acc.id);
  }
});
