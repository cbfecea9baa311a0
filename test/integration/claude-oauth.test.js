'use strict';
// Claude subscription accounts (claude-official, /admin/claude-accounts): the provider's
// request shaping, the PKCE flow (generate-auth-url, exchange-code), and token refresh by the
// maintenance thread, single-flight across relays.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');
const { stack, startMockUpstream, startRelay, login, api, dumpRedis, RespClient, waitFor, sleep, MOCK_TEXT } = require('../lib/env');
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
    assert.equal(seen[0].headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20');
    assert.equal(seen[0].url, '/v1/messages?beta=true');
    // Without a client list the beta is still sent.
    mock.reset();
    await sdk().messages.create(PARAMS);
    assert.equal(mock.messageRequests()[0].headers['anthropic-beta'], 'oauth-2025-04-20');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(dump.includes(`claude_account:${acc.id}`));
    assert.ok(!dump.includes(accessToken) && !dump.includes(refreshToken), 'tokens sealed at rest');
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
async function startFlow(relay = st.relay, token = st.token) {
  const r = await api(relay, 'POST', '/admin/claude-accounts/generate-auth-url', { token, body: {} });
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
    assert.equal(seen.headers['anthropic-beta'], 'oauth-2025-04-20');
  } finally {
    await removeAccount(a1.id);
    await removeAccount(a2.id);
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

async function exchangeAccount(name) {
  const f = await startFlow();
  const r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: f.sessionId, authorizationCode: f.code, name } });
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
