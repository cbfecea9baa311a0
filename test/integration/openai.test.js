'use strict';
// OpenAI Responses through the relay: the `openai` npm SDK (7.57.0) and Codex CLI (0.169.0) on
// openai-responses accounts (API key + base URL) served by the mock upstream's /v1/responses.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const OpenAI = require('openai');
const { stack, api, createKey, waitForUsage, waitFor, redisCmd, mkTmp, rmTmp, httpRequest, sseRequest, sleep, ownRedisCommands, MOCK_TEXT } = require('../lib/env');
const { OAI_COUNTED } = require('../mock/upstream');

const CODEX = path.resolve(__dirname, '..', 'node_modules', '.bin', 'codex');
const KEY_A = 'sk-oai-account-A-0001';
const KEY_B = 'sk-oai-account-B-0002';

let st;
let A;

async function createResponsesAccount(body) {
  const r = await api(st.relay, 'POST', '/admin/openai-responses-accounts', { token: st.token, body: { priority: 50, schedulable: true, ...body } });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  return r.json.data;
}

async function account(id) {
  const r = await api(st.relay, 'GET', '/admin/openai-responses-accounts', { token: st.token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function removeAccount(acc) {
  await api(st.relay, 'DELETE', `/admin/openai-responses-accounts/${acc.id}`, { token: st.token });
}

function client(apiKey = st.key.apiKey, base = '/openai/v1') {
  return new OpenAI({ apiKey, baseURL: st.relay.url + base, maxRetries: 0 });
}

function post(p, body, headers = {}) {
  return httpRequest(st.relay.url + p, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

function assertOpenAIError(r, status, code) {
  assert.equal(r.status, status, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(typeof j.error.message, 'string');
  assert.equal(typeof j.error.type, 'string');
  assert.ok('param' in j.error && 'code' in j.error, r.text);
  if (code !== undefined) assert.equal(j.error.code, code, r.text);
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

// No header or body the upstream saw carries the relay key.
function assertKeyNotForwarded(reqs, relayKey) {
  for (const r of reqs) {
    assert.ok(!JSON.stringify(r.headers).includes(relayKey), 'the cr_ key reached the upstream headers');
    assert.ok(!JSON.stringify(r.body).includes(relayKey), 'the cr_ key reached the upstream body');
  }
}

before(async () => {
  st = await stack({ account: false, env: { REQUEST_MAX_SIZE_MB: '1' } });
  A = await createResponsesAccount({ name: 'oai-A', baseApi: st.mock.url, apiKey: KEY_A });
});

after(async () => {
  if (st) await st.teardown();
});

test('admin: openai-responses accounts are schema-driven (required fields, secret never returned)', async () => {
  const miss = await api(st.relay, 'POST', '/admin/openai-responses-accounts', { token: st.token, body: { name: 'x', apiKey: 'k' } });
  assert.equal(miss.status, 400, miss.text);
  assert.match(miss.text, /baseApi/);
  const list = await api(st.relay, 'GET', '/admin/openai-responses-accounts', { token: st.token });
  assert.equal(list.status, 200, list.text);
  assert.ok(!list.text.includes(KEY_A), 'the apiKey is never returned');
  const got = list.json.data.find((a) => a.id === A.id);
  assert.equal(got.baseApi, st.mock.url);
  assert.equal(got.rateLimitDuration, 60, 'the schema default');
  const rec = await redisCmd(st.redis.port, 'HGET', `openai_responses_account:${A.id}`, 'apiKey');
  assert.ok(rec && !rec.includes(KEY_A), 'sealed at rest');
});

test('SDK responses.create (JSON): answer, account key upstream, usage and cost counted once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'oai-json', permissions: ['openai'] });
  const res = await client(key.apiKey).responses.create({ model: 'gpt-5', input: 'Say hello.' });
  assert.equal(res.output_text, MOCK_TEXT);
  const up = st.mock.responsesRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].path, '/v1/responses');
  assert.equal(up[0].headers.authorization, `Bearer ${KEY_A}`);
  assert.equal(up[0].headers['x-api-key'], undefined);
  assert.match(up[0].headers['user-agent'], /^OpenAI\/JS 7\.57\.0/);
  assert.deepEqual(up[0].body, { model: 'gpt-5', input: 'Say hello.' });
  assertKeyNotForwarded(up, key.apiKey);
  const u = await waitForUsage(st.redis.port, key.id, 1);
  assert.deepEqual(u, { ...OAI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
  // gpt-5: 16 input x 1.25e-6 + 4 cache reads x 1.25e-7 + 9 output x 1e-5 = 110.5 micro-USD
  assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), '111');
  assert.equal(Number(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'unpricedRequests')), 0, 'gpt-5 is priced');
});

test('SDK responses stream: the event sequence passes, usage from response.completed counted once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'oai-stream' });
  const s = await client(key.apiKey).responses.create({ model: 'gpt-5', input: 'Say hello.', stream: true });
  const types = [];
  let text = '';
  for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(types[0], 'response.created');
  assert.equal(types[types.length - 1], 'response.completed');
  assert.ok(types.includes('response.output_item.done'));
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...OAI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
  // headers: the OpenAI ones pass, others do not
  const r = await post('/openai/responses', { model: 'gpt-5', input: 'hi', stream: true }, { authorization: `Bearer ${key.apiKey}` });
  assert.equal(r.status, 200);
  assert.ok(r.headers['x-request-id'], 'x-request-id kept');
  assert.equal(r.headers['openai-processing-ms'], '5');
  assert.equal(r.headers['x-ratelimit-remaining-requests'], '99');
  assert.equal(r.headers['x-mock-secret'], undefined, 'a header off the list is dropped');
  assert.match(r.headers['content-type'], /text\/event-stream/);
  assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2);
});

test('x-api-key authenticates too; /openai/responses/compact goes to <base>/v1/responses/compact', async () => {
  st.mock.reset();
  const r = await post('/openai/v1/responses/compact', { model: 'gpt-5', input: 'hi' }, { 'x-api-key': st.key.apiKey });
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).output[0].content[0].text, MOCK_TEXT);
  assert.equal(st.mock.responsesRequests()[0].path, '/v1/responses/compact');
});

test('errors in the OpenAI shape: bad key 401, bad JSON 400, missing model 400, no permission 403, too big 413', async () => {
  assertOpenAIError(await post('/openai/v1/responses', { model: 'gpt-5', input: 'x' }, { authorization: 'Bearer cr_' + 'f'.repeat(64) }), 401, 'invalid_api_key');
  assertOpenAIError(await post('/openai/v1/responses', { model: 'gpt-5', input: 'x' }), 401);
  await assert.rejects(client('cr_' + '0'.repeat(64)).responses.create({ model: 'gpt-5', input: 'x' }), (e) => e.status === 401 && e.code === 'invalid_api_key');
  const auth = { authorization: `Bearer ${st.key.apiKey}` };
  assertOpenAIError(await post('/openai/responses', '{"model":', auth), 400);
  const nm = assertOpenAIError(await post('/openai/responses', { input: 'x' }, auth), 400);
  assert.match(nm.error.message, /model/);
  const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only', permissions: ['claude'] });
  const denied = assertOpenAIError(await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${claudeOnly.apiKey}` }), 403, 'permission_denied');
  assert.equal(denied.error.message, 'This API key does not have permission to access OpenAI');
  assert.equal(denied.error.type, 'permission_denied');
  const big = 'x'.repeat(1024 * 1024 + 10);
  assertOpenAIError(await post('/openai/responses', { model: 'gpt-5', input: big }, auth), 413, 'request_too_large');
  // The Claude routes keep Anthropic's shape.
  const cl = await post('/api/v1/messages', { model: 'claude-sonnet-4-5', messages: [] }, { 'x-api-key': 'cr_' + 'f'.repeat(64) });
  assert.equal(cl.status, 401);
  assert.equal(JSON.parse(cl.text).type, 'error');
});

test('no schedulable openai account: 503 in the OpenAI shape (Claude accounts do not serve it)', async () => {
  const put = (schedulable) => api(st.relay, 'PUT', `/admin/openai-responses-accounts/${A.id}`, { token: st.token, body: { schedulable } });
  assert.equal((await put(false)).status, 200);
  try {
    await waitFor(async () => (await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${st.key.apiKey}` })).status === 503, { what: 'the snapshot has the change' });
    const r = await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${st.key.apiKey}` });
    assertOpenAIError(r, 503, 'no_available_account');
  } finally {
    assert.equal((await put(true)).status, 200);
  }
  await waitFor(async () => (await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${st.key.apiKey}` })).status === 200, { what: 'schedulable again' });
});

test('a 429 from one account fails over to another and cools it until resets_in_seconds', async () => {
  const B = await createResponsesAccount({ name: 'oai-B-limited', baseApi: `${st.mock.url}/b/ratelimit-600`, apiKey: KEY_B, priority: 10 });
  try {
    st.mock.reset();
    const before = Date.now();
    const res = await client().responses.create({ model: 'gpt-5', input: 'hi' });
    assert.equal(res.output_text, MOCK_TEXT);
    const up = st.mock.responsesRequests();
    assert.deepEqual(up.map((r) => r.headers.authorization), [`Bearer ${KEY_B}`, `Bearer ${KEY_A}`], 'B first (priority 10), then A');
    const acc = await account(B.id);
    assert.equal(acc.status, 'rate_limited');
    const until = Date.parse(acc.statusUntil);
    assert.ok(until >= before + 590e3 && until <= Date.now() + 610e3, `until ${acc.statusUntil}`);
  } finally {
    await removeAccount(B);
  }
});

test('the upstream error body passes as the upstream wrote it', async () => {
  const C = await createResponsesAccount({ name: 'oai-C-400', baseApi: `${st.mock.url}/b/error-400-bad-input-item`, apiKey: KEY_B, priority: 1 });
  try {
    const r = await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${st.key.apiKey}` });
    const j = assertOpenAIError(r, 400);
    assert.equal(j.error.message, 'bad input item');
  } finally {
    await removeAccount(C);
  }
});

test('a stream that breaks after commit ends with an error event and response.failed (no fake completion)', async () => {
  const D = await createResponsesAccount({ name: 'oai-D-drop', baseApi: `${st.mock.url}/b/drop-after-4/v1`, apiKey: KEY_B, priority: 1 });
  try {
    const r = await sseRequest(st.relay.url + '/openai/v1/responses', { headers: { authorization: `Bearer ${st.key.apiKey}` }, body: { model: 'gpt-5', input: 'x', stream: true } });
    assert.equal(r.status, 200);
    const names = r.events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(names.slice(4), ['error', 'response.failed'], names.join(','));
    assert.equal(r.events[4].json.type, 'error');
    assert.equal(r.events[5].json.response.status, 'failed');
    assert.equal(typeof r.events[5].json.response.error.message, 'string');
    // the SDK raises it
    await assert.rejects(
      (async () => {
        for await (const _ of await client().responses.create({ model: 'gpt-5', input: 'x', stream: true })) void _;
      })(),
      /mid-stream/,
    );
  } finally {
    await removeAccount(D);
  }
});

test('sticky session: session-id (else prompt_cache_key) binds sticky_session:{sha256} to the account; none without', async () => {
  const hash = (v) => crypto.createHash('sha256').update(v).digest('hex').slice(0, 32);
  const auth = { authorization: `Bearer ${st.key.apiKey}` };
  const sid = `s-${crypto.randomUUID()}`;
  assert.equal((await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { ...auth, 'session-id': sid })).status, 200);
  assert.equal(await redisCmd(st.redis.port, 'GET', `sticky_session:${hash(sid)}`), A.id);
  assert.ok(Number(await redisCmd(st.redis.port, 'TTL', `sticky_session:${hash(sid)}`)) > 0);
  const pck = `p-${crypto.randomUUID()}`;
  assert.equal((await post('/openai/responses', { model: 'gpt-5', input: 'x', prompt_cache_key: pck }, auth)).status, 200);
  assert.equal(await redisCmd(st.redis.port, 'GET', `sticky_session:${hash(pck)}`), A.id);
  const before = (await redisCmd(st.redis.port, 'KEYS', 'sticky_session:*')).length;
  assert.equal((await post('/openai/responses', { model: 'gpt-5', input: 'no session' }, auth)).status, 200);
  assert.equal((await redisCmd(st.redis.port, 'KEYS', 'sticky_session:*')).length, before, 'no session: no binding');
});

test('a key bound to one openai-responses account (openaiAccountId) uses only it, with no pool fallback', async () => {
  const bad = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', openaiAccountId: '00000000-0000-4000-8000-000000000000' } });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.json.error, /openaiAccountId/);
  const E = await createResponsesAccount({ name: 'oai-E-dedicated', baseApi: st.mock.url + '/v1', apiKey: KEY_B, priority: 90 });
  try {
    const key = await createKey(st.relay, st.token, { name: 'bound', openaiAccountId: E.id });
    st.mock.reset();
    for (let i = 0; i < 3; i++) assert.equal((await client(key.apiKey).responses.create({ model: 'gpt-5', input: 'x' })).output_text, MOCK_TEXT);
    assert.deepEqual(st.mock.responsesRequests().map((r) => r.headers.authorization), Array(3).fill(`Bearer ${KEY_B}`), 'the dedicated account, despite its priority');
    const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}&model=gpt-5&family=openai`, { token: st.token });
    assert.equal(ex.status, 200, ex.text);
    assert.equal(ex.json.data.family, 'openai');
    assert.equal(ex.json.data.binding, E.id);
    assert.equal(ex.json.data.picked.id, E.id);
    assert.equal(ex.json.data.accounts.find((a) => a.id === A.id).reason, 'not the dedicated account');
    assert.equal((await api(st.relay, 'PUT', `/admin/openai-responses-accounts/${E.id}`, { token: st.token, body: { schedulable: false } })).status, 200);
    await waitFor(async () => (await post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${key.apiKey}` })).status === 503, { what: 'no fallback to the pool' });
  } finally {
    await removeAccount(E);
  }
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls).
async function commandsPerRequest(key, n, headers) {
  const send = () => post('/openai/responses', { model: 'gpt-5', input: 'x' }, { authorization: `Bearer ${key.apiKey}`, ...headers });
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = (await waitForUsage(st.redis.port, key.id, 2)).requests;
  // Past one statistics flush (every 2 s): the earlier tests' pending breakdowns are written
  // before the window opens, so it holds only these requests' share.
  await sleep(2300);
  // the statistics flush is taken out (printed by redis-commands.test.js): not per request
  const flushed = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage.statsCommands;
  const flush0 = await flushed();
  const before = await st.redis.commandCalls();
  const own = { ...ownRedisCommands };
  for (let i = 0; i < n; i++) assert.equal((await send()).status, 200);
  await waitForUsage(st.redis.port, key.id, done + n, 5000);
  await sleep(300);
  const after = await st.redis.commandCalls();
  const flush = (await flushed()) - flush0;
  let polls = 0;
  for (const [k, v] of Object.entries(ownRedisCommands)) if (k !== 'info') polls += v - (own[k] || 0);
  return (after.total - before.total - polls - flush) / n;
}

test('Redis commands per OpenAI request: as a Claude request (accounting; + 1 GET with a session)', async () => {
  const plain = await commandsPerRequest(await createKey(st.relay, st.token, { name: 'cmds-plain' }), 20, {});
  const session = await commandsPerRequest(await createKey(st.relay, st.token, { name: 'cmds-session' }), 20, { 'session-id': `s-${crypto.randomUUID()}` });
  console.log(`openai_redis_commands_per_request: plain=${plain.toFixed(2)} with_session=${session.toFixed(2)}`);
  // accounting script (7 with its inner commands); a session + 1 GET
  assert.ok(plain <= 8, `${plain} commands per request without a session`);
  assert.ok(session <= 9, `${session} commands per request with a session`);
});

// ---------------------------------------------------------------- Codex CLI

function codexHome(baseUrl) {
  const home = mkTmp('codex-home-');
  const codexDir = path.join(home, '.codex');
  fs.mkdirSync(codexDir);
  fs.writeFileSync(
    path.join(codexDir, 'config.toml'),
    [
      'model = "gpt-5"',
      'model_provider = "crs"',
      'check_for_update_on_startup = false',
      '[analytics]',
      'enabled = false',
      '[feedback]',
      'enabled = false',
      '[features]',
      'plugins = false',
      '[model_providers.crs]',
      'name = "crs"',
      `base_url = "${baseUrl}"`,
      'wire_api = "responses"',
      'env_key = "CRS_OAI_KEY"',
      '',
    ].join('\n'),
  );
  return { home, codexDir };
}

// codex exec with stdin closed (else it waits for more input on it).
function codex(h, key, args, timeout = 60000) {
  const env = { PATH: process.env.PATH, HOME: h.home, CODEX_HOME: h.codexDir, TMPDIR: h.home, CRS_OAI_KEY: key, NO_COLOR: '1' };
  return new Promise((resolve) => {
    const started = Date.now();
    const p = spawn(CODEX, ['exec', '--skip-git-repo-check', ...args], { env, cwd: h.home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code === null ? -1 : code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

test('Codex CLI: exec, then exec resume --last - both turns on the same account (session-id), answer shown, usage once each', async () => {
  const B = await createResponsesAccount({ name: 'oai-B', baseApi: st.mock.url + '/v1', apiKey: KEY_B, priority: 50 });
  const key = await createKey(st.relay, st.token, { name: 'codex', permissions: ['openai'], enableClientRestriction: true, allowedClients: ['codex_cli'] });
  const h = codexHome(st.relay.url + '/openai');
  try {
    st.mock.reset();
    const one = await codex(h, key.apiKey, ['Say hello.']);
    assert.equal(one.code, 0, one.stderr.slice(-3000));
    assert.ok(one.stdout.includes(MOCK_TEXT), `stdout: ${one.stdout}`);
    const two = await codex(h, key.apiKey, ['resume', '--last', 'Again.']);
    assert.equal(two.code, 0, two.stderr.slice(-3000));
    assert.ok(two.stdout.includes(MOCK_TEXT), `stdout: ${two.stdout}`);
    const up = st.mock.responsesRequests();
    assert.equal(up.length, 2, JSON.stringify(up.map((r) => r.path)));
    assert.equal(up[0].path, '/v1/responses', 'a base ending in /v1 is not doubled');
    assert.equal(up[0].headers.authorization, up[1].headers.authorization, 'both turns on one account');
    assert.ok(up[0].headers['session-id'], 'Codex sends session-id');
    assert.equal(up[0].headers['session-id'], up[1].headers['session-id']);
    assert.equal(up[0].headers.originator, 'codex_exec', 'allowed headers forwarded');
    assert.ok([`Bearer ${KEY_A}`, `Bearer ${KEY_B}`].includes(up[0].headers.authorization));
    assertKeyNotForwarded(up, key.apiKey);
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2);
  } finally {
    await removeAccount(B);
    rmTmp(h.home);
  }
});

test('Codex CLI with a bad key: 401, exits non-zero', async () => {
  const h = codexHome(st.relay.url + '/openai/v1');
  try {
    st.mock.reset();
    const r = await codex(h, 'cr_' + 'e'.repeat(64), ['Say hello.'], 120000);
    assert.equal(r.code, 1, 'Codex gave up by itself (not killed)');
    assert.match(r.stdout + r.stderr, /401/);
    assert.equal(st.mock.responsesRequests().length, 0, 'nothing reached the upstream');
  } finally {
    rmTmp(h.home);
  }
});
