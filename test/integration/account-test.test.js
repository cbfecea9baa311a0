'use strict';
// POST /admin/<type>-accounts/:id/test: one small request through exactly that account, on the
// relay's own pipeline with the account pinned and no key (server/relay/txn_test.c), against the
// mock upstream: the answer summed up, nothing billed or counted, no admin credential upstream,
// the provider's judgement applied (a 401 marks the account), bounded by a 30 s timeout.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, api, redisCmd, httpRequest, waitFor, waitForUsage, assertReleased, redisCommandCalls, messageBody, randomHex, startMockUpstream, MOCK_TEXT, MOCK_ACCOUNT_KEY } = require('../lib/env');
const { adminAccounts } = require('../lib/accounts');
const { GEMINI_TEXT_CHUNKS, GCA_TEXT } = require('../mock/upstream');

const OAI_KEY = 'sk-oai-account-test-0001';
const GEM_KEY = 'AIza-account-test-0002';
const ADMIN_COOKIE = 'relay_session=admin-cookie-secret-value';

let st;
const consoleAccounts = adminAccounts('claude-console', () => st);
const responsesAccounts = adminAccounts('openai-responses', () => st);
const geminiAccounts = adminAccounts('gemini-api', () => st);
const googleAccounts = adminAccounts('gemini', () => st);
const REDIRECT = 'http://localhost:1455/auth/callback';

// The test call with the admin's session (Authorization: Bearer) plus a cookie and an x-admin-*
// header, none of which may reach the upstream.
function runTest(type, id, body, { raw } = {}) {
  return api(st.relay, 'POST', `/admin/${type}-accounts/${id}/test`, {
    token: st.token,
    body: raw !== undefined ? raw : body,
    headers: { cookie: ADMIN_COOKIE, 'x-admin-note': 'admin-only-header' },
  });
}

// What reached the upstream must not carry the admin's credentials.
function assertNoAdminHeaders(req) {
  const h = JSON.stringify(req.headers);
  assert.ok(!h.includes(st.token), 'the admin session token reached the upstream');
  assert.ok(!h.includes('admin-cookie-secret-value'), 'the admin cookie reached the upstream');
  assert.equal(req.headers.cookie, undefined);
  assert.equal(req.headers['x-admin-note'], undefined);
}

async function usageKeys() {
  return ((await redisCmd(st.redis.port, 'KEYS', 'usage:*')) || []).sort();
}

before(async () => {
  const mock = await startMockUpstream({ port: 0 });
  st = await stack({
    mock,
    env: {
      GEMINI_CODE_ASSIST_URL: mock.url,
      CLAUDE_API_URL: mock.url,
      CLAUDE_OAUTH_TOKEN_URL: mock.url + '/v1/oauth/token',
      CLAUDE_OAUTH_PROFILE_URL: mock.url + '/api/oauth/profile',
      CLAUDE_OAUTH_USAGE_URL: mock.url + '/api/oauth/usage',
      OPENAI_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/openai/authorize',
      OPENAI_OAUTH_TOKEN_URL: mock.url + '/oauth/openai/token',
      OPENAI_CODEX_API_URL: mock.url + '/backend-api/codex',
    },
  });
});

after(async () => {
  if (st) await st.teardown();
});

test('console account: ok with the text and status 200; its own key upstream, no admin header', async () => {
  st.mock.reset();
  const r = await runTest('claude-console', st.account.id, { prompt: 'ping', maxTokens: 5 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  const d = r.json.data;
  assert.equal(d.ok, true, r.text);
  assert.equal(d.status, 200);
  assert.equal(d.text, MOCK_TEXT);
  assert.equal(d.accountId, st.account.id);
  assert.equal(d.type, 'claude-console');
  assert.equal(d.model, 'claude-sonnet-4-5-20250929', 'the Claude default model');
  assert.equal(typeof d.latencyMs, 'number');
  assert.ok(d.latencyMs >= 0);
  assert.equal(d.error, undefined);
  assert.ok(!r.text.includes(MOCK_ACCOUNT_KEY), 'the account secret is never in the answer');
  const reqs = st.mock.requests().filter((q) => q.path === '/v1/messages');
  assert.equal(reqs.length, 1, 'one upstream request');
  const up = reqs[0];
  assert.equal(up.headers['x-api-key'], MOCK_ACCOUNT_KEY, 'the account key');
  assert.equal(up.headers.authorization, undefined, 'no Authorization (the admin session) upstream');
  assertNoAdminHeaders(up);
  assert.equal(up.body.max_tokens, 5);
  assert.equal(up.body.stream, false);
  assert.deepEqual(up.body.messages, [{ role: 'user', content: 'ping' }]);
  await assertReleased(st.relay);
});

test('Redis: a successful test costs no command beyond the admin session check a refused body pays too', async () => {
  // The fewest of three tries each: background jobs can only add commands.
  const cost = async (body) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const a = (await redisCommandCalls(st.redis.port)).total;
      const r = await runTest('claude-console', st.account.id, body);
      assert.ok(r.status === 200 || r.status === 400, r.text);
      best = Math.min(best, (await redisCommandCalls(st.redis.port)).total - a);
    }
    return best;
  };
  const refused = await cost({ frob: 1 });
  const tested = await cost({});
  console.log(`# account_test_redis_commands: ${tested} (a refused body: ${refused})`);
  assert.equal(tested, refused);
});

test('a test bills and counts nothing: no key usage, statistics or request log; a real request does', async () => {
  const before = await usageKeys();
  const keyBefore = await redisCmd(st.redis.port, 'HGETALL', `api_key_usage:${st.key.id}`);
  const r = await runTest('claude-console', st.account.id, {});
  assert.equal(r.json.data.ok, true, r.text);
  assert.equal(r.json.data.text, MOCK_TEXT);
  // A real request after it: once its usage and its request log are written, anything the test
  // had recorded in memory before it would have been written too.
  const real = await st.send(messageBody());
  assert.equal(real.status, 200, real.text);
  const u = await waitForUsage(st.redis.port, st.key.id, 1, 5000);
  assert.equal(u.requests, 1, 'only the real request is counted on the key');
  assert.deepEqual(keyBefore, [], 'no usage before');
  await waitFor(async () => Number(await redisCmd(st.redis.port, 'LLEN', `usage:account_records:${st.account.id}`)) >= 1, { timeout: 8000, what: 'the real request in the account log' });
  assert.equal(Number(await redisCmd(st.redis.port, 'LLEN', `usage:account_records:${st.account.id}`)), 1, 'the test is not in the account request log');
  assert.equal(Number(await redisCmd(st.redis.port, 'LLEN', `usage:records:${st.key.id}`)), 1, 'nor in the key log');
  assert.equal(Number(await redisCmd(st.redis.port, 'LLEN', 'usage:records:all')), 1, 'nor in the global log');
  assert.deepEqual(before, [], 'no statistics before the real request');
  const keys = await api(st.relay, 'GET', '/admin/api-keys', { token: st.token });
  const mine = keys.json.data.items.find((k) => k.id === st.key.id);
  assert.equal(mine.usage.requests, 1, JSON.stringify(mine.usage));
});

test('failing accounts: ok:false with the upstream status and message; a 401 marks the account as a real request would', async () => {
  const E = await consoleAccounts.create({ name: 'fails-500', apiUrl: `${st.mock.url}/b/error-500`, apiKey: MOCK_ACCOUNT_KEY });
  const U = await consoleAccounts.create({ name: 'fails-401', apiUrl: `${st.mock.url}/b/error-401`, apiKey: MOCK_ACCOUNT_KEY });
  try {
    const r = await runTest('claude-console', E.id, {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.success, true);
    assert.equal(r.json.data.ok, false, r.text);
    assert.equal(r.json.data.status, 500);
    assert.equal(typeof r.json.data.error, 'string');
    assert.ok(r.json.data.error.length > 0);
    assert.equal(r.json.data.text, '');
    const u = await runTest('claude-console', U.id, {});
    assert.equal(u.json.data.ok, false, u.text);
    assert.equal(u.json.data.status, 401);
    const acc = await consoleAccounts.get(U.id);
    assert.equal(acc.status, 'unauthorized', 'the provider judged the 401 as for a real request');
    // Not failed over: the default account saw nothing of either test.
    st.mock.reset();
    await runTest('claude-console', U.id, {});
    assert.equal(st.mock.requests().filter((q) => q.path === '/v1/messages' && !q.behave).length, 0, 'no failover to another account');
  } finally {
    await consoleAccounts.remove(E);
    await consoleAccounts.remove(U);
  }
  await assertReleased(st.relay);
});

test('a paused (disabled) account can be tested', async () => {
  const P = await consoleAccounts.create({ name: 'paused', apiUrl: st.mock.url, apiKey: MOCK_ACCOUNT_KEY });
  try {
    const t = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${P.id}/toggle`, { token: st.token });
    assert.equal(t.json.isActive, false, t.text);
    const r = await runTest('claude-console', P.id, { model: 'claude-haiku-4-5-20251001' });
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.model, 'claude-haiku-4-5-20251001');
    assert.equal((await consoleAccounts.get(P.id)).isActive, false, 'still paused');
  } finally {
    await consoleAccounts.remove(P);
  }
});

test('bad bodies: 400 naming the field; unknown id or wrong type: 404', async () => {
  const cases = [
    [{ foo: 1 }, /foo/],
    [{ maxTokens: 0 }, /maxTokens/],
    [{ maxTokens: 1025 }, /maxTokens/],
    [{ maxTokens: 1.5 }, /maxTokens/],
    [{ maxTokens: '16' }, /maxTokens/],
    [{ model: 'm'.repeat(201) }, /model/],
    [{ model: 7 }, /model/],
    [{ prompt: 'p'.repeat(2001) }, /prompt/],
    [{ prompt: ['x'] }, /prompt/],
  ];
  for (const [body, re] of cases) {
    const r = await runTest('claude-console', st.account.id, body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.match(r.json.message, re);
  }
  const bad = await runTest('claude-console', st.account.id, undefined, { raw: '[1,2' });
  assert.equal(bad.status, 400, bad.text);
  const ok = await runTest('claude-console', st.account.id, { prompt: '你'.repeat(2000), maxTokens: 1024 });
  assert.equal(ok.status, 200, 'limits count characters, not bytes');
  const none = await runTest('claude-console', '00000000-0000-4000-8000-000000000000', {});
  assert.equal(none.status, 404, none.text);
  const wrong = await runTest('gemini-api', st.account.id, {});
  assert.equal(wrong.status, 404, 'a Console id under another type');
  const unauth = await api(st.relay, 'POST', `/admin/claude-console-accounts/${st.account.id}/test`, { body: {} });
  assert.equal(unauth.status, 401, 'admin only');
});

test('openai-responses account: Responses with its own key, the text of the answer', async () => {
  const O = await responsesAccounts.create({ name: 'oai-test', baseApi: st.mock.url, apiKey: OAI_KEY });
  try {
    st.mock.reset();
    const r = await runTest('openai-responses', O.id, { prompt: 'hi', maxTokens: 32 });
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.status, 200);
    assert.equal(r.json.data.type, 'openai-responses');
    assert.equal(r.json.data.model, 'gpt-5');
    assert.ok(r.json.data.text.length > 0, r.text);
    assert.ok(!r.text.includes(OAI_KEY));
    const reqs = st.mock.responsesRequests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, `Bearer ${OAI_KEY}`, 'the account key, not the admin session');
    assertNoAdminHeaders(reqs[0]);
    assert.equal(reqs[0].body.max_output_tokens, 32);
    const f = await responsesAccounts.create({ name: 'oai-429', baseApi: `${st.mock.url}/b/error-429`, apiKey: OAI_KEY });
    try {
      const e = await runTest('openai-responses', f.id, {});
      assert.equal(e.json.data.ok, false, e.text);
      assert.equal(e.json.data.status, 429);
    } finally {
      await responsesAccounts.remove(f);
    }
  } finally {
    await responsesAccounts.remove(O);
  }
});

test('gemini-api account: generateContent with its own key', async () => {
  const G = await geminiAccounts.create({ name: 'gem-test', baseUrl: st.mock.url, apiKey: GEM_KEY });
  try {
    st.mock.reset();
    const r = await runTest('gemini-api', G.id, { model: 'gemini-2.5-flash', prompt: 'hi' });
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.status, 200);
    assert.equal(r.json.data.type, 'gemini-api');
    assert.equal(r.json.data.text, GEMINI_TEXT_CHUNKS.join(''));
    assert.ok(!r.text.includes(GEM_KEY));
    const reqs = st.mock.geminiRequests();
    assert.equal(reqs.length, 1);
    assert.match(reqs[0].path, /models\/gemini-2\.5-flash:generateContent$/);
    assert.equal(reqs[0].headers['x-goog-api-key'], GEM_KEY);
    assertNoAdminHeaders(reqs[0]);
    assert.equal(reqs[0].body.generationConfig.maxOutputTokens, 16, 'the default maxTokens');
    const bad = await runTest('gemini-api', G.id, { model: '../x' });
    assert.equal(bad.json.data.ok, false, 'a model that cannot stand in the URL');
    assert.equal(bad.json.data.status, 0);
    assert.equal(st.mock.geminiRequests().length, 1, 'not sent');
  } finally {
    await geminiAccounts.remove(G);
  }
});

test('claude (OAuth) account: Messages with its Bearer token and the OAuth beta, no x-api-key', async () => {
  const accessToken = 'sk-ant-oat01-' + 'a'.repeat(40) + 'TEST';
  const c = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'oauth-test', accessToken, expiresAt: Date.now() + 3600e3 } });
  assert.equal(c.status, 200, c.text);
  const id = c.json.data.id;
  try {
    st.mock.reset();
    const r = await runTest('claude', id, {});
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.type, 'claude-official');
    assert.equal(r.json.data.text, MOCK_TEXT);
    assert.ok(!r.text.includes(accessToken));
    const reqs = st.mock.messageRequests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, `Bearer ${accessToken}`, 'the account token, not the admin session');
    assert.match(reqs[0].headers['anthropic-beta'], /oauth-2025-04-20/);
    assert.equal(reqs[0].headers['x-api-key'], undefined);
    assertNoAdminHeaders(reqs[0]);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-accounts/${id}`, { token: st.token });
  }
});

test('openai (ChatGPT) account: the Codex backend gets a streamed Responses call with its bearer; the text from the deltas', async () => {
  const g = await api(st.relay, 'POST', '/admin/openai-accounts/generate-auth-url', { token: st.token, body: {} });
  assert.equal(g.status, 200, g.text);
  const u = new URL(g.json.data.authUrl);
  const code = 'ac_' + randomHex(12);
  st.mock.openaiOAuth.expectCode(code, u.searchParams.get('code_challenge'), {});
  const callbackUrl = `${REDIRECT}?code=${code}&scope=openid&state=${u.searchParams.get('state')}`;
  const ex = await api(st.relay, 'POST', '/admin/openai-accounts/exchange-code', { token: st.token, body: { sessionId: g.json.data.sessionId, callbackUrl, name: 'codex-test' } });
  assert.equal(ex.status, 200, ex.text);
  const acc = ex.json.data;
  const access = st.mock.openaiOAuth.issued().at(-1).access_token;
  try {
    st.mock.reset();
    const r = await runTest('openai', acc.id, { prompt: 'hi' });
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.type, 'openai');
    assert.equal(r.json.data.text, MOCK_TEXT, 'the output_text deltas');
    assert.ok(!r.text.includes(access), 'the token is never in the answer');
    const reqs = st.mock.codexRequests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, `Bearer ${access}`);
    assert.equal(reqs[0].body.stream, true);
    assert.equal(reqs[0].body.store, false);
    assert.equal(reqs[0].headers.accept, 'text/event-stream', 'Accept follows the body sent');
    assertNoAdminHeaders(reqs[0]);
    // An expiring token is refreshed first (the transaction's wait, no thread held), then used.
    const up = await api(st.relay, 'PUT', `/admin/openai-accounts/${acc.id}`, { token: st.token, body: { expiresAt: Date.now() + 1000 } });
    assert.equal(up.status, 200, up.text);
    const grants = st.mock.openaiOAuth.calls().filter((c) => c.grant_type === 'refresh_token').length;
    st.mock.reset();
    const again = await runTest('openai', acc.id, {});
    assert.equal(again.json.data.ok, true, again.text);
    assert.equal(st.mock.openaiOAuth.calls().filter((c) => c.grant_type === 'refresh_token').length, grants + 1, 'one refresh');
    const fresh = st.mock.openaiOAuth.issued().at(-1).access_token;
    assert.notEqual(fresh, access);
    assert.equal(st.mock.codexRequests().at(-1).headers.authorization, `Bearer ${fresh}`, 'the refreshed token');
  } finally {
    await api(st.relay, 'DELETE', `/admin/openai-accounts/${acc.id}`, { token: st.token });
  }
});

test('gemini (Google OAuth) account: Code Assist generateContent in its envelope, with its project and token', async () => {
  const G = await googleAccounts.create({ name: 'gca-test', accessToken: 'ya29.accttest', refreshToken: '1//refresh-accttest', expiresAt: Date.now() + 3600e3, projectId: 'proj-accttest' });
  try {
    st.mock.reset();
    const r = await runTest('gemini', G.id, { prompt: 'hi', maxTokens: 8 });
    assert.equal(r.json.data.ok, true, r.text);
    assert.equal(r.json.data.type, 'gemini');
    assert.equal(r.json.data.model, 'gemini-2.5-flash');
    assert.equal(r.json.data.text, GCA_TEXT, 'unwrapped from {response}');
    const reqs = st.mock.codeAssistRequests('generateContent');
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, 'Bearer ya29.accttest');
    assert.equal(reqs[0].body.project, 'proj-accttest');
    assert.equal(reqs[0].body.model, 'gemini-2.5-flash');
    assert.equal(reqs[0].body.request.generationConfig.maxOutputTokens, 8);
    assertNoAdminHeaders(reqs[0]);
  } finally {
    await googleAccounts.remove(G);
  }
});

test('an upstream that never answers: ok:false, error "timeout" after 30 s', { timeout: 90000 }, async () => {
  const H = await consoleAccounts.create({ name: 'hangs', apiUrl: `${st.mock.url}/b/hang`, apiKey: MOCK_ACCOUNT_KEY });
  try {
    const r = await httpRequest(`${st.relay.url}/admin/claude-console-accounts/${H.id}/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${st.token}`, 'content-type': 'application/json' },
      body: {},
      timeout: 80000,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.ok, false);
    assert.equal(r.json.data.status, 0);
    assert.equal(r.json.data.error, 'timeout');
    assert.ok(r.json.data.latencyMs >= 29000, String(r.json.data.latencyMs));
  } finally {
    await consoleAccounts.remove(H);
  }
  await assertReleased(st.relay);
});
