'use strict';
// Claude subscription accounts: the profile lookup (subscription type, e-mail, ids) after the
// code exchange and after a token refresh, its retry by the maintenance thread (once per
// CLAUDE_PROFILE_RETRY_SECONDS across relays), the admin routes update-profile and
// update-all-profiles, and the OAuth usage probe GET /admin/claude-accounts/usage.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { stack, startMockUpstream, startRelay, api, dumpRedis, RespClient, waitFor, sleep } = require('../lib/env');

let st;
let mock;
let ENV;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
  ENV = {
    CLAUDE_API_URL: mock.url,
    CLAUDE_OAUTH_TOKEN_URL: mock.url + '/v1/oauth/token',
    CLAUDE_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/authorize',
    CLAUDE_OAUTH_PROFILE_URL: mock.url + '/api/oauth/profile',
    CLAUDE_OAUTH_USAGE_URL: mock.url + '/api/oauth/usage',
  };
  st = await stack({ mock, relayEnv: ENV, account: false });
});

after(async () => {
  if (st) await st.teardown();
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

async function exchangeAccount(name) {
  let r = await api(st.relay, 'POST', '/admin/claude-accounts/generate-auth-url', { token: st.token, body: {} });
  assert.equal(r.status, 200, r.text);
  const u = new URL(r.json.data.authUrl);
  const code = 'code' + crypto.randomBytes(12).toString('hex');
  mock.oauth.expectCode(code, u.searchParams.get('code_challenge'));
  r = await api(st.relay, 'POST', '/admin/claude-accounts/exchange-code', { token: st.token, body: { sessionId: r.json.data.sessionId, authorizationCode: code, name } });
  assert.equal(r.status, 200, r.text);
  const tokens = mock.oauth.issued().at(-1);
  assert.ok(!r.text.includes(tokens.access_token) && !r.text.includes(tokens.refresh_token));
  return { acc: r.json.data, tokens };
}

async function getAccount(id, relay = st.relay, token = st.token) {
  const r = await api(relay, 'GET', '/admin/claude-accounts', { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function removeAccount(id) {
  const r = await api(st.relay, 'DELETE', `/admin/claude-accounts/${id}`, { token: st.token });
  assert.equal(r.status, 200, r.text);
}

const profileCalls = (token) => mock.oauth.sideCalls('profile').filter((c) => c.token === token);

function sharedEnv(extra = {}) {
  return { ...ENV, ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET, ...extra };
}

async function assertNoSecrets(text, tokens) {
  for (const t of tokens) assert.ok(!text.includes(t.access_token) && !text.includes(t.refresh_token), 'no token in the answer');
}

test('exchange with the profile scope: subscription type, e-mail and ids stored and shown, read-only', async () => {
  const { acc, tokens } = await exchangeAccount('profile-ok');
  try {
    const view = await waitFor(async () => {
      const a = await getAccount(acc.id);
      return a.subscriptionType ? a : null;
    }, { timeout: 5000, what: 'subscriptionType in the admin view' });
    assert.equal(view.subscriptionType, 'claude_max');
    assert.equal(view.email, 'mock@example.com');
    assert.equal(view.accountUuid, 'acct-mock-uuid');
    assert.equal(view.organizationUuid, 'org-mock-uuid');
    assert.ok(Date.parse(view.profileUpdatedAt) > Date.now() - 60e3, view.profileUpdatedAt);
    assert.equal(view.name, 'profile-ok'); // the patch kept the rest of the record
    assert.equal(view.hasAccessToken, true);
    // The mock saw the account's own token and the OAuth beta.
    const calls = profileCalls(tokens.access_token);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].authorization, `Bearer ${tokens.access_token}`);
    assert.equal(calls[0].beta, 'oauth-2025-04-20');
    const rec = await redisCmd('HGET', `claude_account:${acc.id}`, 'subscriptionType');
    assert.equal(rec, 'claude_max');
    // Fields only the relay sets are refused, naming the field.
    for (const field of ['subscriptionType', 'email', 'accountUuid', 'organizationUuid', 'profileUpdatedAt']) {
      const r = await api(st.relay, 'PUT', `/admin/claude-accounts/${acc.id}`, { token: st.token, body: { [field]: 'claude_max' } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(field));
    }
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    await assertNoSecrets(dump, [tokens]);
  } finally {
    await removeAccount(acc.id);
  }
});

test('a failing profile endpoint: the account is still created without a type; update-profile fills it later', async () => {
  mock.oauth.profileStatus = 500;
  let acc;
  let tokens;
  try {
    ({ acc, tokens } = await exchangeAccount('profile-late'));
    await waitFor(() => profileCalls(tokens.access_token).length === 1, { timeout: 5000, what: 'the failed profile call' });
    await sleep(200); // its (failed) outcome is handled; nothing may be stored
    assert.equal((await getAccount(acc.id)).subscriptionType, '');
    assert.equal(await redisCmd('HGET', `claude_account:${acc.id}`, 'subscriptionType'), '');
    // Still failing: update-profile answers with the upstream's error, not a view.
    let r = await api(st.relay, 'POST', `/admin/claude-accounts/${acc.id}/update-profile`, { token: st.token });
    assert.equal(r.status, 502, r.text);
    assert.match(r.json.message, /500 api_error: profile unavailable/);
    mock.oauth.profileStatus = 0;
    r = await api(st.relay, 'POST', `/admin/claude-accounts/${acc.id}/update-profile`, { token: st.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.success, true);
    assert.equal(r.json.data.id, acc.id);
    assert.equal(r.json.data.subscriptionType, 'claude_max');
    assert.equal(r.json.data.email, 'mock@example.com');
    await assertNoSecrets(r.text, [tokens]);
    assert.equal(profileCalls(tokens.access_token).length, 3);
    assert.equal((await getAccount(acc.id)).subscriptionType, 'claude_max');
  } finally {
    mock.oauth.profileStatus = 0;
    if (acc) await removeAccount(acc.id);
  }
});

test('update-profile refusals: unknown account, no profile scope, no session', async () => {
  let r = await api(st.relay, 'POST', `/admin/claude-accounts/${crypto.randomUUID()}/update-profile`, { token: st.token });
  assert.equal(r.status, 404, r.text);
  r = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'setup-token', accessToken: 'sk-ant-oat01-' + 'c'.repeat(40), scopes: 'user:inference' } });
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.id;
  try {
    const before0 = mock.oauth.sideCalls('profile').length;
    r = await api(st.relay, 'POST', `/admin/claude-accounts/${id}/update-profile`, { token: st.token });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /scopes/);
    assert.equal(mock.oauth.sideCalls('profile').length, before0, 'no upstream call');
    r = await api(st.relay, 'POST', `/admin/claude-accounts/${id}/update-profile`);
    assert.equal(r.status, 401);
    r = await api(st.relay, 'GET', '/admin/claude-accounts/usage');
    assert.equal(r.status, 401);
  } finally {
    await removeAccount(id);
  }
});

test('update-all-profiles: every account looked up at once, counts and per-account results', async () => {
  const a = await exchangeAccount('all-1');
  const b = await exchangeAccount('all-2');
  let r = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'no-scope', accessToken: 'sk-ant-oat01-' + 'd'.repeat(40), scopes: 'user:inference' } });
  assert.equal(r.status, 200, r.text);
  const c = r.json.data;
  try {
    await waitFor(() => profileCalls(a.tokens.access_token).length === 1 && profileCalls(b.tokens.access_token).length === 1, { timeout: 5000, what: 'exchange lookups' });
    mock.oauth.profileAnswer = () => ({ account: { uuid: 'acct-pro', email_address: 'pro@example.com', has_claude_max: false, has_claude_pro: true }, organization: { uuid: 'org-pro', organization_type: 'claude_pro' } });
    r = await api(st.relay, 'POST', '/admin/claude-accounts/update-all-profiles', { token: st.token });
    assert.equal(r.status, 200, r.text);
    const d = r.json.data;
    assert.equal(d.totalAccounts, 3);
    assert.equal(d.successCount, 2);
    assert.equal(d.failureCount, 1);
    const byId = Object.fromEntries(d.results.map((x) => [x.accountId, x]));
    assert.equal(byId[a.acc.id].success, true);
    assert.equal(byId[a.acc.id].subscriptionType, 'claude_pro');
    assert.equal(byId[b.acc.id].accountName, 'all-2');
    assert.equal(byId[c.id].success, false);
    assert.match(byId[c.id].error, /user:profile/);
    await assertNoSecrets(r.text, [a.tokens, b.tokens]);
    for (const x of [a, b]) {
      assert.equal(profileCalls(x.tokens.access_token).length, 2);
      const v = await getAccount(x.acc.id);
      assert.equal(v.subscriptionType, 'claude_pro');
      assert.equal(v.email, 'pro@example.com');
    }
  } finally {
    mock.oauth.profileAnswer = mock.oauth.defaultProfileAnswer;
    await removeAccount(a.acc.id);
    await removeAccount(b.acc.id);
    await removeAccount(c.id);
  }
});

test('maintenance retries a failed lookup once per interval across two relays, then stops', async () => {
  mock.oauth.profileStatus = 500;
  const { acc, tokens } = await exchangeAccount('profile-retry');
  const relays = [];
  try {
    await waitFor(() => profileCalls(tokens.access_token).length === 1, { timeout: 5000, what: 'the failed exchange lookup' });
    // Two relays with a 1 s retry interval share the Redis: together they ask once a second.
    const env = sharedEnv({ CLAUDE_PROFILE_RETRY_SECONDS: '1' });
    relays.push(...(await Promise.all([startRelay({ redisPort: st.redis.port, env }), startRelay({ redisPort: st.redis.port, env })])));
    await waitFor(() => profileCalls(tokens.access_token).length >= 6, { timeout: 20000, interval: 100, what: 'five retries' });
    const retries = profileCalls(tokens.access_token).slice(1);
    const span = retries.at(-1).at - retries[0].at;
    // Without the shared claim each relay would ask every second (about twice as many).
    assert.ok(retries.length <= Math.floor(span / 1000) + 2, `${retries.length} retries in ${span} ms`);
    const pttl = await redisCmd('PTTL', `claude_profile_retry:${acc.id}`);
    assert.ok(pttl <= 1000, `claim PTTL ${pttl}`);
    mock.oauth.profileStatus = 0;
    // Both relays wrote their own admin password at start (one won): use st's session (shared).
    await waitFor(async () => (await getAccount(acc.id, relays[0])).subscriptionType === 'claude_max', { timeout: 10000, what: 'the retry stored the type' });
    await waitFor(async () => (await getAccount(acc.id)).subscriptionType === 'claude_max', { timeout: 5000, what: 'st.relay sees it (notify)' });
    // Nothing due any more: no further lookups.
    const n = profileCalls(tokens.access_token).length;
    await sleep(2500);
    assert.ok(profileCalls(tokens.access_token).length <= n + 1, 'at most one lookup was already under way');
    const m = profileCalls(tokens.access_token).length;
    await sleep(2000);
    assert.equal(profileCalls(tokens.access_token).length, m, 'no lookup once the type is known');
  } finally {
    mock.oauth.profileStatus = 0;
    for (const r of relays) await r.stop();
    for (const r of relays) assert.equal(r.sanitizerReport(), null);
    await removeAccount(acc.id);
  }
});

test('model gating by subscription: a Pro account serves Opus 4.5 and newer only, a free one no Opus', async () => {
  const send = (model) => st.send({ model, max_tokens: 16, messages: [{ role: 'user', content: `gating ${model} ${crypto.randomUUID()}` }] });
  mock.oauth.profileAnswer = () => ({ account: { uuid: 'acct-pro', has_claude_pro: true }, organization: { uuid: 'org-pro' } });
  const { acc } = await exchangeAccount('gating-pro');
  try {
    await waitFor(async () => (await getAccount(acc.id)).subscriptionType === 'claude_pro', { timeout: 5000, what: 'pro type' });
    for (const model of ['claude-opus-4-5-20251101', 'claude-sonnet-4-5', 'claude-haiku-4-5']) assert.equal((await send(model)).status, 200, model);
    for (const model of ['claude-opus-4-1-20250805', 'claude-3-opus-20240229', 'gpt-4o']) {
      const r = await send(model);
      assert.equal(r.status, 404, `${model}: ${r.text}`);
      assert.equal(r.json.error.type, 'not_found_error');
      assert.match(r.json.error.message, new RegExp(model));
    }
    const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${st.key.id}&model=claude-opus-4-1-20250805`, { token: st.token });
    assert.equal(ex.json.data.accounts.find((x) => x.id === acc.id).reason, 'model not supported');
    // The tier changes to free (a later profile read): no Opus at all.
    mock.oauth.profileAnswer = () => ({ account: { uuid: 'acct-pro' }, organization: { uuid: 'org-pro' } });
    const up = await api(st.relay, 'POST', `/admin/claude-accounts/${acc.id}/update-profile`, { token: st.token });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.data.subscriptionType, 'free');
    assert.equal((await send('claude-opus-4-5-20251101')).status, 404);
    assert.equal((await send('claude-sonnet-4-5')).status, 200);
  } finally {
    mock.oauth.profileAnswer = mock.oauth.defaultProfileAnswer;
    await removeAccount(acc.id);
  }
});

test('a token refresh looks the profile up again with the new token', async () => {
  mock.oauth.expiresIn = 120; // inside the refresh lead: due at once
  const { acc, tokens: old } = await exchangeAccount('profile-refresh');
  mock.oauth.expiresIn = 3600;
  let b;
  try {
    await waitFor(async () => (await getAccount(acc.id)).subscriptionType === 'claude_max', { timeout: 5000, what: 'first lookup' });
    mock.oauth.profileAnswer = () => ({ account: { uuid: 'acct-mock-uuid', has_claude_pro: true }, organization: { uuid: 'org-mock-uuid' } });
    b = await startRelay({ redisPort: st.redis.port, env: sharedEnv() }); // refreshes at start
    const fresh = await waitFor(() => {
      const t = mock.oauth.issued().at(-1);
      return t.access_token !== old.access_token ? t : null;
    }, { timeout: 15000, what: 'the refresh' });
    await waitFor(async () => (await getAccount(acc.id)).subscriptionType === 'claude_pro', { timeout: 10000, what: 'the type after the refresh' });
    const calls = profileCalls(fresh.access_token);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].authorization, `Bearer ${fresh.access_token}`);
    const view = await getAccount(acc.id);
    assert.equal(view.email, '', 'an answer without an e-mail clears it');
    assert.ok(view.expiresAt > Date.now() + 3000e3, 'the patch did not undo the refresh');
  } finally {
    mock.oauth.profileAnswer = mock.oauth.defaultProfileAnswer;
    if (b) await b.stop();
    await removeAccount(acc.id);
  }
});

test('usage probe: every account asked at once with its own token; a failure is its own entry; nothing secret', async () => {
  const a = await exchangeAccount('usage-ok');
  const b = await exchangeAccount('usage-fail');
  let r = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'usage-no-scope', accessToken: 'sk-ant-oat01-' + 'e'.repeat(40), scopes: 'user:inference' } });
  assert.equal(r.status, 200, r.text);
  const c = r.json.data;
  const resets = new Date(Date.now() + 7200e3).toISOString();
  mock.oauth.usageFor.set(a.tokens.access_token, {
    five_hour: { utilization: 55.5, resets_at: resets },
    seven_day: { utilization: 21, resets_at: null },
    seven_day_sonnet: { utilization: 3, resets_at: resets },
    seven_day_opus: null,
    access_token: 'must-not-be-copied',
  });
  mock.oauth.usageFail.add(b.tokens.access_token);
  try {
    const before0 = mock.oauth.sideCalls('usage').length;
    r = await api(st.relay, 'GET', '/admin/claude-accounts/usage', { token: st.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.success, true);
    const d = r.json.data;
    assert.deepEqual(Object.keys(d).sort(), [a.acc.id, b.acc.id, c.id].sort());
    assert.equal(d[a.acc.id].fiveHour.utilization, 55.5);
    assert.equal(d[a.acc.id].fiveHour.resetsAt, resets);
    assert.ok(d[a.acc.id].fiveHour.remainingSeconds > 7000 && d[a.acc.id].fiveHour.remainingSeconds <= 7200);
    assert.deepEqual(d[a.acc.id].sevenDay, { utilization: 21, resetsAt: null, remainingSeconds: null });
    assert.equal(d[a.acc.id].sevenDaySonnet.utilization, 3);
    assert.equal(d[a.acc.id].sevenDayOpus, null);
    assert.match(d[b.acc.id].error, /500 api_error: usage unavailable/);
    assert.equal(d[c.id], null, 'no profile scope: not asked');
    const calls = mock.oauth.sideCalls('usage').slice(before0);
    assert.equal(calls.length, 2);
    const ca = calls.find((x) => x.token === a.tokens.access_token);
    assert.equal(ca.authorization, `Bearer ${a.tokens.access_token}`);
    assert.equal(ca.beta, 'oauth-2025-04-20');
    assert.ok(calls.find((x) => x.token === b.tokens.access_token));
    await assertNoSecrets(r.text, [a.tokens, b.tokens]);
    assert.ok(!r.text.includes('must-not-be-copied') && !r.text.includes('eeeeeeeeee'));
    // Nothing is stored per probe.
    assert.equal(await redisCmd('HEXISTS', `claude_account:${a.acc.id}`, 'claudeFiveHourUtilization'), 0);
  } finally {
    mock.oauth.usageFor.clear();
    mock.oauth.usageFail.clear();
    await removeAccount(a.acc.id);
    await removeAccount(b.acc.id);
    await removeAccount(c.id);
  }
});

test('usage probe with no account answers at once', async () => {
  const r = await api(st.relay, 'GET', '/admin/claude-accounts/usage', { token: st.token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { success: true, data: {} });
});
