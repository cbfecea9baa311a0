'use strict';
// Gemini Code Assist through the relay: Gemini CLI 0.61.0 in Code Assist mode
// (CODE_ASSIST_ENDPOINT=<relay>/gemini, GOOGLE_GENAI_USE_GCA=true, GOOGLE_CLOUD_ACCESS_TOKEN=<cr_ key>)
// and plain HTTP on `gemini` accounts (Google OAuth tokens given in the admin body), served by the
// mock upstream's /v1internal:* (test/mock/code_assist.js: the bearer token is checked, a content
// call must name the token's project).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { stack, api, createKey, waitForUsage, waitFor, redisCmd, mkTmp, rmTmp, httpRequest, startMockUpstream, assertReleased, parseSSE, sleep, ownRedisCommands } = require('../lib/env');
const { GCA_TEXT, GCA_COUNTED } = require('../mock/upstream');

const GEMINI = path.resolve(__dirname, '..', 'node_modules', '.bin', 'gemini');
const A = '/admin/gemini-accounts';
// gemini-2.5-pro: 20 input x 1.25e-6 + 10 cache reads x 1.25e-7 + 12 output x 1e-5 = 146.25 micro-USD
const GCA_COST_MICRO = '146';

let st;

async function createAccount(body) {
  const r = await api(st.relay, 'POST', A, { token: st.token, body: { priority: 50, schedulable: true, ...body } });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

async function account(id) {
  const r = await api(st.relay, 'GET', A, { token: st.token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function removeAccount(acc) {
  await api(st.relay, 'DELETE', `${A}/${acc.id}`, { token: st.token });
}

function post(method, body, { key = st.key.apiKey, headers = {}, raw } = {}) {
  const q = method === 'streamGenerateContent' ? '?alt=sse' : '';
  return httpRequest(`${st.relay.url}/gemini/v1internal:${method}${q}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: raw !== undefined ? raw : body,
  });
}

function envelope(model = 'gemini-2.5-pro', extra = {}) {
  return {
    model,
    project: 'client-project',
    user_prompt_id: crypto.randomUUID(),
    request: { contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }], session_id: crypto.randomUUID() },
    ...extra,
  };
}

function assertGoogleError(r, code, status) {
  assert.equal(r.status, code, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(j.error.code, code, r.text);
  assert.equal(j.error.status, status, r.text);
  assert.equal(typeof j.error.message, 'string');
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

function assertKeyNotForwarded(reqs, relayKey) {
  for (const r of reqs) {
    assert.ok(!JSON.stringify(r.headers).includes(relayKey), 'the cr_ key reached the upstream headers');
    assert.ok(!JSON.stringify(r.body).includes(relayKey), 'the cr_ key reached the upstream body');
  }
}

before(async () => {
  const mock = await startMockUpstream({ port: 0 });
  st = await stack({ mock, account: false, env: { GEMINI_CODE_ASSIST_URL: mock.url, GEMINI_OAUTH_TOKEN_URL: mock.url + '/oauth/google/token' } });
});

after(async () => {
  if (st) await st.teardown();
});

test('admin: gemini accounts are schema-driven (token required, secrets sealed and never returned, tempProjectId read-only)', async () => {
  const miss = await api(st.relay, 'POST', A, { token: st.token, body: { name: 'x' } });
  assert.equal(miss.status, 400, miss.text);
  assert.match(miss.text, /accessToken/);
  const ro = await api(st.relay, 'POST', A, { token: st.token, body: { name: 'x', accessToken: 'ya29.x', tempProjectId: 'p' } });
  assert.equal(ro.status, 400, ro.text);
  assert.match(ro.text, /tempProjectId is read-only/);
  const bad = await api(st.relay, 'POST', A, { token: st.token, body: { name: 'x', accessToken: 'ya29.x', frob: 1 } });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /frob/);
  const acc = await createAccount({ name: 'adm', accessToken: 'ya29.adm-secret', refreshToken: '1//refresh-secret', expiresAt: Date.now() + 3600e3, projectId: 'proj-adm' });
  try {
    assert.equal(acc.platform, 'gemini');
    assert.equal(acc.projectId, 'proj-adm');
    assert.equal(acc.tempProjectId, '');
    const list = await api(st.relay, 'GET', A, { token: st.token });
    assert.ok(!list.text.includes('adm-secret') && !list.text.includes('refresh-secret'), 'a token in the admin view');
    const rec = await redisCmd(st.redis.port, 'HGETALL', `gemini_account:${acc.id}`);
    assert.ok(rec.length > 0, 'the record is gemini_account:{id}');
    assert.ok(!rec.join(' ').includes('adm-secret') && !rec.join(' ').includes('refresh-secret'), 'a token in Redis in clear');
    assert.equal(Number(await redisCmd(st.redis.port, 'SISMEMBER', 'gemini_account:index', acc.id)), 1);
    // geminiAccountId names a gemini account (checked to exist)
    const k = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'b', geminiAccountId: crypto.randomUUID() } });
    assert.equal(k.status, 400, k.text);
    assert.match(k.text, /geminiAccountId/);
  } finally {
    await removeAccount(acc);
  }
});

// ---------------------------------------------------------------- Gemini CLI

function geminiHome() {
  const home = mkTmp('gemini-home-');
  fs.mkdirSync(path.join(home, '.gemini'));
  const settings = {
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    security: { auth: { selectedType: 'oauth-personal' } },
  };
  fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify(settings));
  return home;
}

// gemini -p in Code Assist mode, as the customer's guide configures it (offline, throwaway HOME).
function runGemini(key, prompt, { timeout = 120000 } = {}) {
  const home = geminiHome();
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: home,
    CODE_ASSIST_ENDPOINT: `${st.relay.url}/gemini`,
    GOOGLE_GENAI_USE_GCA: 'true',
    GOOGLE_CLOUD_ACCESS_TOKEN: key,
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
    NO_COLOR: '1',
  };
  return new Promise((resolve) => {
    const child = spawn(GEMINI, ['-m', 'gemini-2.5-pro', '-p', prompt], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      rmTmp(home);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('Gemini CLI 0.61.0 (Code Assist mode) end to end: the account token and its learnt project upstream, never the cr_ key; usage and cost once', async () => {
  st.mock.reset();
  const acc = await createAccount({ name: 'cli', accessToken: 'ya29.cli' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'cli', permissions: ['gemini'], enableClientRestriction: true, allowedClients: ['gemini_cli'], geminiAccountId: acc.id });
    const r = await runGemini(key.apiKey, 'Say hello.');
    assert.equal(r.code, 0, `gemini exited ${r.code}/${r.signal}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(GCA_TEXT.replace(/\./g, '\\.')));
    const reqs = st.mock.requests().filter((q) => q.path.startsWith('/v1internal:'));
    const methods = reqs.map((q) => q.path.slice('/v1internal:'.length));
    assert.equal(methods[0], 'loadCodeAssist', methods.join(','));
    assert.ok(methods.includes('streamGenerateContent'), methods.join(','));
    for (const q of reqs) assert.equal(q.headers.authorization, 'Bearer ya29.cli', q.path);
    assertKeyNotForwarded(reqs, key.apiKey);
    const gen = st.mock.codeAssistRequests('streamGenerateContent');
    assert.equal(gen.length, 1);
    assert.equal(gen[0].url, '/v1internal:streamGenerateContent?alt=sse');
    assert.equal(gen[0].body.project, 'proj-cli', 'the project the account answered loadCodeAssist with');
    assert.match(gen[0].headers['user-agent'], /^GeminiCLI/);
    // the project was learnt once, into the record
    await waitFor(async () => (await account(acc.id)).tempProjectId === 'proj-cli', { what: 'tempProjectId learnt' });
    assert.equal(await redisCmd(st.redis.port, 'HGET', `gemini_account:${acc.id}`, 'tempProjectId'), 'proj-cli');
    // one billed request (loadCodeAssist, retrieveUserQuota, listExperiments are not)
    const u = await waitForUsage(st.redis.port, key.id, 1);
    assert.deepEqual(u, { ...GCA_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), GCA_COST_MICRO);
    // the same key from another client: refused in Google's shape
    const other = await post('generateContent', envelope(), { key: key.apiKey, headers: { 'user-agent': 'curl/8.0' } });
    assertGoogleError(other, 403, 'PERMISSION_DENIED');
    await assertReleased(st.relay);
  } finally {
    await removeAccount(acc);
  }
});

// ---------------------------------------------------------------- the project rule

test('the project rule: the body names the serving account\'s projectId, else its project learnt from loadCodeAssist', async () => {
  st.mock.reset();
  st.mock.codeAssist.allowProject('pa', 'admin-proj-a');
  const PA = await createAccount({ name: 'pa', accessToken: 'ya29.pa', projectId: 'admin-proj-a' });
  const PB = await createAccount({ name: 'pb', accessToken: 'ya29.pb' });
  try {
    const ka = await createKey(st.relay, st.token, { name: 'ka', geminiAccountId: PA.id });
    const kb = await createKey(st.relay, st.token, { name: 'kb', geminiAccountId: PB.id });
    // A has its own project: whatever the client names, A's goes upstream
    let r = await post('generateContent', envelope('gemini-2.5-pro', { project: 'proj-pb' }), { key: ka.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).response.candidates[0].content.parts[0].text, GCA_TEXT);
    assert.equal(st.mock.codeAssistRequests('generateContent').pop().body.project, 'admin-proj-a');
    r = await post('loadCodeAssist', { cloudaicompanionProject: 'proj-pb', metadata: { pluginType: 'GEMINI', duetProject: 'proj-pb' } }, { key: ka.apiKey });
    assert.equal(r.status, 200, r.text);
    const load = st.mock.codeAssistRequests('loadCodeAssist').pop();
    assert.equal(load.body.cloudaicompanionProject, 'admin-proj-a');
    assert.equal(load.body.metadata.duetProject, 'admin-proj-a');
    assert.equal((await account(PA.id)).tempProjectId, '', 'an account with a projectId learns nothing');
    // B has none: its loadCodeAssist answer teaches it
    r = await post('loadCodeAssist', { metadata: { pluginType: 'GEMINI' } }, { key: kb.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).cloudaicompanionProject, 'proj-pb', 'answered raw');
    await waitFor(async () => (await account(PB.id)).tempProjectId === 'proj-pb', { what: 'B learnt its project' });
    // a client that learnt A's project, landing on B: B's goes upstream (stream and not)
    r = await post('generateContent', envelope('gemini-2.5-pro', { project: 'admin-proj-a' }), { key: kb.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(st.mock.codeAssistRequests('generateContent').pop().body.project, 'proj-pb');
    r = await post('streamGenerateContent', envelope('gemini-2.5-pro', { project: 'admin-proj-a' }), { key: kb.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(st.mock.codeAssistRequests('streamGenerateContent').pop().body.project, 'proj-pb');
    r = await post('retrieveUserQuota', { project: 'admin-proj-a' }, { key: kb.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(st.mock.codeAssistRequests('retrieveUserQuota').pop().body.project, 'proj-pb');
    // a second loadCodeAssist on B does not write the record again (the value stays)
    assert.equal((await post('loadCodeAssist', {}, { key: kb.apiKey })).status, 200);
    assert.equal(await redisCmd(st.redis.port, 'HGET', `gemini_account:${PB.id}`, 'tempProjectId'), 'proj-pb');
  } finally {
    await removeAccount(PA);
    await removeAccount(PB);
  }
});

// ---------------------------------------------------------------- content calls

test('generateContent, stream, countTokens and a functionCall answer pass raw; only the content calls are billed', async () => {
  st.mock.reset();
  const acc = await createAccount({ name: 'c', accessToken: 'ya29.c', projectId: 'proj-c' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'c', geminiAccountId: acc.id });
    let r = await post('streamGenerateContent', envelope(), { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    assert.equal(r.headers['x-mock-secret'], undefined, 'a header off the list is dropped');
    const frames = parseSSE(r.text).map((e) => JSON.parse(e.data));
    assert.equal(frames.map((f) => f.response.candidates[0].content.parts[0].text).join(''), GCA_TEXT);
    assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...GCA_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 }, 'the last chunk\'s usageMetadata, once');
    r = await post('generateContent', envelope('mock-function-call'), { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text).response.candidates[0].content.parts[0].functionCall, { name: 'get_weather', args: { city: 'Paris' } });
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2);
    r = await post('countTokens', { request: { model: 'models/gemini-2.5-pro', contents: [{ role: 'user', parts: [{ text: 'x' }] }] } }, { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { totalTokens: 42 });
    assert.equal(st.mock.codeAssistRequests('countTokens')[0].body.project, undefined, 'countTokens names no project');
    for (const m of ['onboardUser', 'listExperiments']) {
      r = await post(m, { metadata: { pluginType: 'GEMINI' } }, { key: key.apiKey });
      assert.equal(r.status, 200, `${m}: ${r.text}`);
    }
    await assertReleased(st.relay);
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2, 'countTokens and the setup calls are not billed');
    // a stream that breaks after its first frame ends with Google's error object
    r = await post('streamGenerateContent', envelope('mock-drop-after-1'), { key: key.apiKey });
    assert.equal(r.status, 200);
    const ev = parseSSE(r.text);
    assert.equal(ev.length, 2, r.text);
    assert.equal(JSON.parse(ev[1].data).error.status, 'UNAVAILABLE', r.text);
  } finally {
    await removeAccount(acc);
  }
});

test('Gemini CLI\'s other Code Assist calls: onboardUser\'s unfinished operation polled by GET /gemini/v1internal/operations/<id> on the account that started it (its project learnt), fetchAdminControls and recordCodeAssistMetrics; forwarded, not billed', async () => {
  st.mock.reset();
  const acc = await createAccount({ name: 'lro', accessToken: 'ya29.lro1' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'lro', geminiAccountId: acc.id });
    let r = await post('onboardUser', { tierId: 'free-tier', metadata: { pluginType: 'GEMINI' } }, { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    const lro = JSON.parse(r.text);
    assert.deepEqual(lro, { name: 'operations/onboard-lro1', done: false });
    const get = (name, k = key.apiKey) => httpRequest(`${st.relay.url}/gemini/v1internal/${name}`, { method: 'GET', headers: { authorization: `Bearer ${k}` } });
    r = await get(lro.name);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text).response.cloudaicompanionProject.id, 'proj-lro1');
    const up = st.mock.codeAssistRequests('getOperation');
    assert.equal(up.length, 1);
    assert.equal(up[0].method, 'GET');
    assert.equal(up[0].path, '/v1internal/operations/onboard-lro1');
    assert.equal(up[0].headers.authorization, 'Bearer ya29.lro1');
    assert.equal(up[0].bodyBytes, 0);
    await waitFor(async () => (await account(acc.id)).tempProjectId === 'proj-lro1', { what: 'project learnt from the finished operation' });
    assertGoogleError(await get('operations/bad$name'), 400, 'INVALID_ARGUMENT');
    assertGoogleError(await get(lro.name, 'cr_nope'), 401, 'UNAUTHENTICATED');
    for (const m of ['fetchAdminControls', 'recordCodeAssistMetrics']) {
      r = await post(m, { project: 'client-project', metadata: { pluginType: 'GEMINI' } }, { key: key.apiKey });
      assert.equal(r.status, 200, `${m}: ${r.text}`);
      assert.equal(st.mock.codeAssistRequests(m)[0].body.project, 'proj-lro1', `${m}: the account's project`);
    }
    await assertReleased(st.relay);
    assert.equal(await redisCmd(st.redis.port, 'EXISTS', `api_key_usage:${key.id}`), 0, 'nothing billed');
  } finally {
    await removeAccount(acc);
  }
});

// ---------------------------------------------------------------- refusals

test('refusals in Google\'s shape: 400 (bad JSON, no contents, no model), 401 (no key, bad key), 403 (no gemini permission), 404, 429 (key rate limit, upstream 429)', async () => {
  const acc = await createAccount({ name: 'r', accessToken: 'ya29.r', projectId: 'proj-r' });
  try {
    assertGoogleError(await post('generateContent', null, { raw: '{not json' }), 400, 'INVALID_ARGUMENT');
    assertGoogleError(await post('generateContent', { model: 'gemini-2.5-pro', request: {} }), 400, 'INVALID_ARGUMENT');
    assertGoogleError(await post('generateContent', { request: { contents: [] } }), 400, 'INVALID_ARGUMENT');
    assertGoogleError(await post('generateContent', envelope(), { key: null }), 401, 'UNAUTHENTICATED');
    assertGoogleError(await post('generateContent', envelope(), { key: `cr_${'0'.repeat(64)}` }), 401, 'UNAUTHENTICATED');
    const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only', permissions: ['claude'] });
    const denied = assertGoogleError(await post('generateContent', envelope(), { key: claudeOnly.apiKey }), 403, 'PERMISSION_DENIED');
    assert.match(denied.error.message, /Gemini/);
    assertGoogleError(await post('frobnicate', {}), 404, 'NOT_FOUND');
    const limited = await createKey(st.relay, st.token, { name: 'rl', rateLimitWindow: 1, rateLimitRequests: 1, geminiAccountId: acc.id });
    // the setup calls (Gemini CLI makes five a prompt) and countTokens are not limited
    for (let i = 0; i < 3; i++) assert.equal((await post('retrieveUserQuota', {}, { key: limited.apiKey })).status, 200);
    const ct = { request: { contents: [{ role: 'user', parts: [{ text: 'x' }] }] } };
    assert.equal((await post('countTokens', ct, { key: limited.apiKey })).status, 200);
    assert.equal((await post('generateContent', envelope(), { key: limited.apiKey })).status, 200);
    assertGoogleError(await post('generateContent', envelope(), { key: limited.apiKey }), 429, 'RESOURCE_EXHAUSTED');
    // an upstream 429 on a dedicated account: Google's own error passes, with its status
    const bound = await createKey(st.relay, st.token, { name: 'b429', geminiAccountId: acc.id });
    const up = assertGoogleError(await post('generateContent', envelope('mock-error-429'), { key: bound.apiKey }), 429, 'RESOURCE_EXHAUSTED');
    assert.equal(up.error.message, 'mock error 429');
  } finally {
    await removeAccount(acc);
  }
});

test('failover on 429: the account cools until the RetryInfo delay, the next one serves (JSON and stream); 401 cools it for the auth TTL', async () => {
  st.mock.reset();
  const F1 = await createAccount({ name: 'f1', accessToken: 'ya29.err429f', projectId: 'proj-err429f', priority: 1 });
  const F2 = await createAccount({ name: 'f2', accessToken: 'ya29.okf', projectId: 'proj-okf', priority: 2 });
  const F3 = await createAccount({ name: 'f3', accessToken: 'bad-token', projectId: 'proj-x', priority: 3 });
  try {
    const key = await createKey(st.relay, st.token, { name: 'fo' });
    let r = await post('generateContent', envelope(), { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    const served = st.mock.codeAssistRequests('generateContent').map((q) => q.headers.authorization);
    assert.deepEqual(served, ['Bearer ya29.err429f', 'Bearer ya29.okf']);
    assert.equal(st.mock.codeAssistRequests('generateContent')[1].body.project, 'proj-okf', 'the project follows the account that serves');
    const a1 = await account(F1.id);
    assert.equal(a1.status, 'rate_limited', JSON.stringify(a1));
    const left = Date.parse(a1.statusUntil) - Date.now();
    assert.ok(left > 0 && left <= 8000, `cools for the 7 s RetryInfo delay: ${a1.statusUntil}`);
    // while it cools, the next stream goes straight to F2
    r = await post('streamGenerateContent', envelope(), { key: key.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(st.mock.codeAssistRequests('streamGenerateContent').map((q) => q.headers.authorization), ['Bearer ya29.okf']);
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2, 'each request counted once');
    // the mock refuses F3's token (401): bound to F3 the client gets Google's 401, F3 cools 30 min
    const k3 = await createKey(st.relay, st.token, { name: 'f3', geminiAccountId: F3.id });
    assertGoogleError(await post('generateContent', envelope(), { key: k3.apiKey }), 401, 'UNAUTHENTICATED');
    const a3 = await account(F3.id);
    assert.equal(a3.status, 'temp_error', JSON.stringify(a3));
    assert.ok(Math.abs(Date.parse(a3.statusUntil) - (Date.now() + 1800e3)) < 10000, a3.statusUntil);
    await assertReleased(st.relay);
  } finally {
    await removeAccount(F1);
    await removeAccount(F2);
    await removeAccount(F3);
  }
});

test('geminiAccountId group:<gid> schedules among the group\'s members only', async () => {
  st.mock.reset();
  const IN = await createAccount({ name: 'in', accessToken: 'ya29.grpin', projectId: 'proj-grpin', priority: 90 });
  const OUT = await createAccount({ name: 'out', accessToken: 'ya29.grpout', projectId: 'proj-grpout', priority: 1 });
  const g = await api(st.relay, 'POST', '/admin/account-groups', { token: st.token, body: { name: 'gem', platform: 'gemini' } });
  assert.equal(g.status, 200, g.text);
  const gid = g.json.data.id;
  try {
    const m = await api(st.relay, 'POST', `/admin/account-groups/${gid}/members`, { token: st.token, body: { accountId: IN.id } });
    assert.equal(m.status, 200, m.text);
    const claude = await api(st.relay, 'POST', '/admin/account-groups', { token: st.token, body: { name: 'cl', platform: 'claude' } });
    const wrong = await api(st.relay, 'POST', `/admin/account-groups/${claude.json.data.id}/members`, { token: st.token, body: { accountId: IN.id } });
    assert.equal(wrong.status, 400, 'a gemini account joins only a gemini group');
    assert.match(wrong.json.error, /no claude account/);
    await api(st.relay, 'DELETE', `/admin/account-groups/${claude.json.data.id}`, { token: st.token });
    const key = await createKey(st.relay, st.token, { name: 'grp', geminiAccountId: `group:${gid}` });
    await waitFor(async () => (await post('generateContent', envelope(), { key: key.apiKey })).status === 200, { what: 'the group member serves' });
    const seen = new Set(st.mock.codeAssistRequests('generateContent').map((q) => q.headers.authorization));
    assert.deepEqual([...seen], ['Bearer ya29.grpin'], 'only the member, though the other has the better priority');
  } finally {
    await api(st.relay, 'DELETE', `/admin/account-groups/${gid}/members/${IN.id}`, { token: st.token });
    await removeAccount(IN);
    await removeAccount(OUT);
    await api(st.relay, 'DELETE', `/admin/account-groups/${gid}`, { token: st.token });
  }
});

test('an expired token without a refresh token is skipped ("token expired"); with one it is refreshed first, and a refused refresh marks the account unauthorized', async () => {
  st.mock.reset();
  const E = await createAccount({ name: 'exp', accessToken: 'ya29.exp', projectId: 'proj-exp', expiresAt: Date.now() - 60e3 });
  try {
    const key = await createKey(st.relay, st.token, { name: 'exp', geminiAccountId: E.id });
    assertGoogleError(await post('generateContent', envelope(), { key: key.apiKey }), 503, 'UNAVAILABLE');
    assert.equal(st.mock.codeAssistRequests('generateContent').length, 0, 'nothing sent with an expired token');
    const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}&family=gemini`, { token: st.token });
    assert.equal(ex.status, 200, ex.text);
    assert.equal(ex.json.data.accounts.find((x) => x.id === E.id).reason, 'token expired', ex.text);
    const up = await api(st.relay, 'PUT', `${A}/${E.id}`, { token: st.token, body: { refreshToken: '1//r' } });
    assert.equal(up.status, 200, up.text);
    // The mock Google token endpoint never issued 1//r: invalid_grant (gemini-oauth.test.js has the good path).
    st.mock.googleOAuth.reset();
    assertGoogleError(await post('generateContent', envelope(), { key: key.apiKey }), 503, 'UNAVAILABLE');
    const calls = st.mock.googleOAuth.calls();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.refresh_token, '1//r');
    assert.equal(st.mock.codeAssistRequests('generateContent').length, 0, 'the expired token is not sent after a refused refresh');
    await waitFor(async () => (await account(E.id)).status === 'unauthorized', { what: 'marked unauthorized' });
  } finally {
    await removeAccount(E);
  }
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls).
async function commandsPerRequest(key, n, send, billed) {
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = billed ? (await waitForUsage(st.redis.port, key.id, 2)).requests : 0;
  // Past one statistics flush (every 2 s): earlier requests' pending breakdowns land before the window.
  await sleep(2300);
  // the statistics flush is taken out (printed by redis-commands.test.js): not per request
  const flushed = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage.statsCommands;
  const flush0 = await flushed();
  const before = await st.redis.commandCalls();
  const own = { ...ownRedisCommands };
  for (let i = 0; i < n; i++) assert.equal((await send()).status, 200);
  if (billed) await waitForUsage(st.redis.port, key.id, done + n, 5000);
  await sleep(300);
  const after = await st.redis.commandCalls();
  const flush = (await flushed()) - flush0;
  let polls = 0;
  for (const [k, v] of Object.entries(ownRedisCommands)) if (k !== 'info') polls += v - (own[k] || 0);
  return (after.total - before.total - polls - flush) / n;
}

test('Redis commands per Code Assist request: a content call as a Claude one with a session; the setup calls none', async () => {
  const acc = await createAccount({ name: 'cmds', accessToken: 'ya29.cmds' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'cmds', geminiAccountId: acc.id });
    assert.equal((await post('loadCodeAssist', {}, { key: key.apiKey })).status, 200);
    await waitFor(async () => (await account(acc.id)).tempProjectId === 'proj-cmds', { what: 'project learnt' });
    const sid = crypto.randomUUID();
    const gen = () => post('generateContent', envelope('gemini-2.5-pro', { request: { contents: [{ role: 'user', parts: [{ text: 'x' }] }], session_id: sid } }), { key: key.apiKey });
    const content = await commandsPerRequest(key, 20, gen, true);
    const setup = await commandsPerRequest(key, 20, () => post('retrieveUserQuota', { project: 'proj-cmds' }, { key: key.apiKey }), false);
    console.log(`gemini_redis_commands_per_request: content=${content.toFixed(2)} setup=${setup.toFixed(2)}`);
    // the accounting script (7 with its inner commands) + the amortised statistics flush; the
    // session's binding is cached after its first request; the learnt project costs nothing
    assert.ok(content <= 8, `${content} commands per content request`);
    assert.ok(setup < 0.5, `${setup} commands per setup call (not billed: nothing to write)`);
  } finally {
    await removeAccount(acc);
  }
});
