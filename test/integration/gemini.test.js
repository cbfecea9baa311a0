'use strict';
// The standard Gemini API through the relay: @google/genai (3.1.0) and Gemini CLI (0.61.0) in
// API-key mode on gemini-api accounts (API key + base URL) served by the mock upstream's
// Gemini API (test/mock/gemini.js).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { GoogleGenAI } = require('@google/genai');
const { stack, api, createKey, waitForUsage, waitFor, redisCmd, mkTmp, rmTmp, httpRequest, sseRequest, sleep, ownRedisCommands, MOCK_TEXT } = require('../lib/env');
const { GEMINI_COUNTED } = require('../mock/upstream');

const GEMINI = path.resolve(__dirname, '..', 'node_modules', '.bin', 'gemini');
const KEY_A = 'AIza-gemini-account-A-0001';
const KEY_B = 'AIza-gemini-account-B-0002';
const MODEL = 'gemini-2.5-flash';

let st;
let A;

async function createGeminiAccount(body) {
  const r = await api(st.relay, 'POST', '/admin/gemini-api-accounts', { token: st.token, body: { priority: 50, schedulable: true, ...body } });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  return r.json.data;
}

async function account(id) {
  const r = await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((a) => a.id === id);
}

async function removeAccount(acc) {
  await api(st.relay, 'DELETE', `/admin/gemini-api-accounts/${acc.id}`, { token: st.token });
}

function genai(apiKey = st.key.apiKey) {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: st.relay.url + '/gemini', retryOptions: { attempts: 1 } } });
}

function post(p, body, headers = {}) {
  return httpRequest(st.relay.url + p, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

const contents = (text = 'Say hello.') => ({ contents: [{ role: 'user', parts: [{ text }] }] });

// Google's error shape, nothing else: {"error":{"code","message","status"}}.
function assertGoogleError(r, status, statusName) {
  assert.equal(r.status, status, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(j.error.code, status, r.text);
  assert.equal(typeof j.error.message, 'string');
  if (statusName) assert.equal(j.error.status, statusName, r.text);
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

// The relay key is in no header, URL or body the upstream saw; the account key only in its header.
function assertKeys(reqs, relayKey, accountKey) {
  for (const r of reqs) {
    assert.ok(!JSON.stringify(r.headers).includes(relayKey), 'the cr_ key reached the upstream headers');
    assert.ok(!JSON.stringify(r.body).includes(relayKey), 'the cr_ key reached the upstream body');
    assert.ok(!r.url.includes(relayKey) && !r.url.includes('key='), `a key in the upstream URL: ${r.url}`);
    if (accountKey) assert.equal(r.headers['x-goog-api-key'], accountKey);
  }
}

before(async () => {
  st = await stack({ account: false, env: { REQUEST_MAX_SIZE_MB: '1' } });
  A = await createGeminiAccount({ name: 'gem-A', baseUrl: st.mock.url, apiKey: KEY_A });
});

after(async () => {
  if (st) await st.teardown();
});

test('admin: gemini-api accounts are schema-driven (apiKey required and sealed, never returned)', async () => {
  const miss = await api(st.relay, 'POST', '/admin/gemini-api-accounts', { token: st.token, body: { name: 'x', baseUrl: st.mock.url } });
  assert.equal(miss.status, 400, miss.text);
  assert.match(miss.text, /apiKey/);
  const bad = await api(st.relay, 'POST', '/admin/gemini-api-accounts', { token: st.token, body: { name: 'x', apiKey: 'k', frobnicate: 1 } });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /frobnicate/);
  const list = await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token });
  assert.equal(list.status, 200, list.text);
  assert.ok(!list.text.includes(KEY_A), 'the apiKey is never returned');
  const got = list.json.data.find((a) => a.id === A.id);
  assert.equal(got.baseUrl, st.mock.url);
  assert.equal(got.rateLimitDuration, 60, 'the schema default');
  const rec = await redisCmd(st.redis.port, 'HGET', `gemini_api_account:${A.id}`, 'apiKey');
  assert.ok(rec && !rec.includes(KEY_A), 'sealed at rest');
  assert.equal(Number(await redisCmd(st.redis.port, 'SISMEMBER', 'gemini_api_account:index', A.id)), 1);
});

test('@google/genai generateContent (its default /v1 path): answer, account key upstream in x-goog-api-key only, usage and cost once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'gem-json', permissions: ['gemini'] });
  const res = await genai(key.apiKey).models.generateContent({ model: MODEL, contents: 'Say hello.' });
  assert.equal(res.text, MOCK_TEXT);
  assert.equal(res.usageMetadata.promptTokenCount, 12);
  const up = st.mock.geminiRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].path, `/v1beta/models/${MODEL}:generateContent`, 'a plain base gets /v1beta/models/<m>:<action>');
  assert.match(up[0].headers['user-agent'], /google-genai-sdk\/3\.1\.0/);
  assert.ok(up[0].headers['x-goog-api-client'], 'the SDK header is forwarded');
  assert.deepEqual(up[0].body.contents, [{ role: 'user', parts: [{ text: 'Say hello.' }] }]);
  assertKeys(up, key.apiKey, KEY_A);
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...GEMINI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
  // gemini-2.5-flash: 10 input x 3e-7 + 2 cache reads x 3e-8 + 10 output (7 + 3 thoughts) x 2.5e-6 = 28.06 micro-USD
  assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), '28');
  assert.equal(Number(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'unpricedRequests')), 0, 'gemini-2.5-flash is priced');
});

test('@google/genai generateContentStream (alt=sse): chunks pass, usage from the last chunk counted once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'gem-stream' });
  let text = '';
  let n = 0;
  for await (const c of await genai(key.apiKey).models.generateContentStream({ model: MODEL, contents: 'Say hello.' })) {
    text += c.text || '';
    n++;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(n, 5);
  const up = st.mock.geminiRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].url, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
  assertKeys(up, key.apiKey, KEY_A);
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...GEMINI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
});

test('streamGenerateContent without alt=sse: the streamed JSON array passes, usage counted once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'gem-array' });
  const r = await post(`/gemini/v1beta/models/${MODEL}:streamGenerateContent`, contents(), { 'x-goog-api-key': key.apiKey });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /application\/json/);
  const arr = JSON.parse(r.text);
  assert.equal(arr.length, 5);
  assert.equal(arr.map((c) => c.candidates[0].content.parts[0].text).join(''), MOCK_TEXT);
  assert.equal(st.mock.geminiRequests()[0].url, `/v1beta/models/${MODEL}:streamGenerateContent`, 'the upstream streams the array too');
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...GEMINI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
});

// POST and read the answer as it arrives: resolves {res, text(), done} once the headers are in.
function streamingPost(p, body, headers) {
  const http = require('node:http');
  const u = new URL(st.relay.url + p);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ method: 'POST', hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      let text = '';
      const done = new Promise((r) => res.on('end', r));
      res.on('data', (d) => (text += d));
      resolve({ res, text: () => text, done });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('the JSON array is forwarded element by element: the first elements arrive while the upstream still holds the rest', async () => {
  const H = await createGeminiAccount({ name: 'gem-H-hold', baseUrl: `${st.mock.url}/b/hold-after-2`, apiKey: KEY_B });
  const key = await createKey(st.relay, st.token, { name: 'gem-hold', geminiAccountId: `api:${H.id}` });
  try {
    const s = await streamingPost(`/gemini/v1beta/models/${MODEL}:streamGenerateContent`, contents(), { 'x-goog-api-key': key.apiKey });
    assert.equal(s.res.statusCode, 200);
    // Two complete elements reach the client while the upstream holds the third (no timing: it
    // holds until released).
    await waitFor(() => (s.text().match(/"text": "/g) || []).length === 2, { timeout: 20000, what: 'two elements forwarded' });
    assert.ok(s.text().startsWith('['), s.text());
    assert.ok(!s.text().includes(' the'), 'nothing past the held point');
    assert.equal(await (await fetch(`${st.mock.url}/__mock/gemini-release`, { method: 'POST' })).json().then((j) => j.released), 1);
    await s.done;
    const arr = JSON.parse(s.text());
    assert.equal(arr.map((c) => c.candidates[0].content.parts[0].text).join(''), MOCK_TEXT);
    assert.equal((await waitForUsage(st.redis.port, key.id, 1)).outputTokens, GEMINI_COUNTED.outputTokens, 'usage from the last element');
  } finally {
    await removeAccount(H);
  }
});

test('a stream that breaks after commit ends with Google\'s error: an SSE event, or the array\'s last element', async () => {
  const D = await createGeminiAccount({ name: 'gem-D-drop', baseUrl: `${st.mock.url}/b/drop-after-2`, apiKey: KEY_B });
  const key = await createKey(st.relay, st.token, { name: 'gem-drop', geminiAccountId: `api:${D.id}` });
  try {
    const s = await sseRequest(`${st.relay.url}/gemini/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, { headers: { 'x-goog-api-key': key.apiKey }, body: contents() });
    assert.equal(s.status, 200);
    const datas = s.events.map((e) => JSON.parse(e.data));
    assert.equal(datas.length, 3, s.text);
    assert.equal(datas[0].candidates[0].content.parts[0].text, 'Hello');
    assert.equal(datas[2].error.status, 'UNAVAILABLE', s.text);
    assert.equal(datas[2].error.code, 502);
    const r = await post(`/gemini/v1beta/models/${MODEL}:streamGenerateContent`, contents(), { 'x-goog-api-key': key.apiKey });
    assert.equal(r.status, 200);
    const arr = JSON.parse(r.text); // still one valid JSON array
    assert.equal(arr.length, 3, r.text);
    assert.equal(arr[1].candidates[0].content.parts[0].text, ' from');
    assert.equal(arr[2].error.code, 502, r.text);
    // the SDK raises it
    await assert.rejects(async () => {
      for await (const _ of await genai(key.apiKey).models.generateContentStream({ model: MODEL, contents: 'x' })) void _;
    });
  } finally {
    await removeAccount(D);
  }
});

test('countTokens reaches the upstream and is not billed', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'gem-count' });
  const res = await genai(key.apiKey).models.countTokens({ model: MODEL, contents: 'Say hello.' });
  assert.equal(res.totalTokens, 42);
  assert.equal(st.mock.geminiRequests()[0].path, `/v1beta/models/${MODEL}:countTokens`);
  await genai(key.apiKey).models.generateContent({ model: MODEL, contents: 'x' });
  assert.equal((await waitForUsage(st.redis.port, key.id, 1)).requests, 1, 'only generateContent counted');
});

test('model lists: a static list in Gemini\'s shape, one model, unknown 404; the gemini permission is needed', async () => {
  const auth = { 'x-goog-api-key': st.key.apiKey };
  for (const p of ['/gemini/v1beta/models', '/gemini/v1/models', '/gemini/models']) {
    const r = await httpRequest(st.relay.url + p, { headers: auth });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    const names = JSON.parse(r.text).models.map((m) => m.name);
    assert.ok(names.includes(`models/${MODEL}`), names.join(','));
  }
  const one = await httpRequest(`${st.relay.url}/gemini/v1beta/models/${MODEL}`, { headers: auth });
  assert.equal(one.status, 200, one.text);
  assert.equal(JSON.parse(one.text).name, `models/${MODEL}`);
  assertGoogleError(await httpRequest(`${st.relay.url}/gemini/v1/models/gemini-0-nonexistent`, { headers: auth }), 404, 'NOT_FOUND');
  const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only-models', permissions: ['claude'] });
  assertGoogleError(await httpRequest(`${st.relay.url}/gemini/v1beta/models`, { headers: { 'x-goog-api-key': claudeOnly.apiKey } }), 403, 'PERMISSION_DENIED');
  const list = await genai().models.list();
  const seen = [];
  for await (const m of list) seen.push(m.name);
  assert.ok(seen.includes(`models/${MODEL}`), seen.join(','));
});

test('relay refusals in Google\'s shape: no contents 400, bad key 401 (also at the front door), no permission 403, unknown method 404, too big 413', async () => {
  const auth = { 'x-goog-api-key': st.key.apiKey };
  const nc = assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, { prompt: 'x' }, auth), 400, 'INVALID_ARGUMENT');
  assert.match(nc.error.message, /contents/);
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, '{"contents":', auth), 400, 'INVALID_ARGUMENT');
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': 'cr_' + 'f'.repeat(64) }), 401, 'UNAUTHENTICATED');
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': 'not-a-relay-key' }), 401, 'UNAUTHENTICATED');
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents()), 401, 'UNAUTHENTICATED');
  await assert.rejects(genai('cr_' + '0'.repeat(64)).models.generateContent({ model: MODEL, contents: 'x' }), (e) => e.status === 401);
  const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only', permissions: ['claude'] });
  const denied = assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': claudeOnly.apiKey }), 403, 'PERMISSION_DENIED');
  assert.equal(denied.error.message, 'This API key does not have permission to access Gemini');
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:embedContent`, contents(), auth), 404, 'NOT_FOUND');
  assertGoogleError(await post('/gemini/v1beta/nothing-here', contents(), auth), 404, 'NOT_FOUND');
  assertGoogleError(await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents('x'.repeat(1024 * 1024 + 10)), auth), 413);
  // ?key= authenticates too (the Google SDKs may send it so); the logged path has no query.
  const qk = await post(`/gemini/v1beta/models/${MODEL}:generateContent?key=${st.key.apiKey}`, contents());
  assert.equal(qk.status, 200, qk.text);
  assert.ok(!st.relay.logs().includes(st.key.apiKey), 'the key from the query is never logged');
  // ... but not on the Claude routes.
  const cl = await post(`/api/v1/messages?key=${st.key.apiKey}`, { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(cl.status, 401);
  assert.equal(JSON.parse(cl.text).type, 'error');
});

test('upstream errors in Google\'s shape with their status: 400 passes as written, 429 and 503 after marking the account', async () => {
  for (const [behave, status, name, state] of [
    ['error-400', 400, 'INVALID_ARGUMENT', 'active'],
    ['error-429', 429, 'RESOURCE_EXHAUSTED', 'rate_limited'],
    ['error-503', 503, 'UNAVAILABLE', 'temp_error'],
    ['error-403', 403, 'PERMISSION_DENIED', 'blocked'],
    ['error-401', 401, 'UNAUTHENTICATED', 'unauthorized'],
  ]) {
    const E = await createGeminiAccount({ name: `gem-${behave}`, baseUrl: `${st.mock.url}/b/${behave}`, apiKey: KEY_B });
    try {
      const key = await createKey(st.relay, st.token, { name: `bound-${behave}`, geminiAccountId: `api:${E.id}` });
      const r = await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': key.apiKey });
      const j = assertGoogleError(r, status, name);
      assert.equal(j.error.message, `mock error ${status}`, 'the upstream\'s own error');
      assert.equal((await account(E.id)).status, state, behave);
    } finally {
      await removeAccount(E);
    }
  }
});

test('no schedulable gemini account: 503 UNAVAILABLE (Claude and OpenAI accounts do not serve it)', async () => {
  const put = (schedulable) => api(st.relay, 'PUT', `/admin/gemini-api-accounts/${A.id}`, { token: st.token, body: { schedulable } });
  const send = () => post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': st.key.apiKey });
  assert.equal((await put(false)).status, 200);
  try {
    await waitFor(async () => (await send()).status === 503, { what: 'the snapshot has the change' });
    assertGoogleError(await send(), 503, 'UNAVAILABLE');
  } finally {
    assert.equal((await put(true)).status, 200);
  }
  await waitFor(async () => (await send()).status === 200, { what: 'schedulable again' });
});

test('a 429 fails over to a second account and cools the first until RetryInfo\'s delay; usage counted once', async () => {
  const B = await createGeminiAccount({ name: 'gem-B-limited', baseUrl: `${st.mock.url}/b/ratelimit-600`, apiKey: KEY_B, priority: 10 });
  try {
    st.mock.reset();
    const key = await createKey(st.relay, st.token, { name: 'gem-failover' });
    const before = Date.now();
    const res = await genai(key.apiKey).models.generateContent({ model: MODEL, contents: 'hi' });
    assert.equal(res.text, MOCK_TEXT);
    assert.deepEqual(st.mock.geminiRequests().map((r) => r.headers['x-goog-api-key']), [KEY_B, KEY_A], 'B first (priority 10), then A');
    const acc = await account(B.id);
    assert.equal(acc.status, 'rate_limited');
    const until = Date.parse(acc.statusUntil);
    assert.ok(until >= before + 590e3 && until <= Date.now() + 610e3, `until ${acc.statusUntil}`);
    assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), { ...GEMINI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), '28', 'cost once');
  } finally {
    await removeAccount(B);
  }
});

test('Google\'s 400 API_KEY_INVALID is the account\'s key: marked unauthorized, the request moves on', async () => {
  const C = await createGeminiAccount({ name: 'gem-C-badkey', baseUrl: `${st.mock.url}/b/badkey`, apiKey: KEY_B, priority: 5 });
  try {
    st.mock.reset();
    const res = await genai().models.generateContent({ model: MODEL, contents: `bad key ${crypto.randomUUID()}` }); // a new session
    assert.equal(res.text, MOCK_TEXT);
    assert.deepEqual(st.mock.geminiRequests().map((r) => r.headers['x-goog-api-key']), [KEY_B, KEY_A], 'C first (priority 5), then A');
    const c = await account(C.id);
    assert.equal(c.status, 'unauthorized');
    assert.match(c.statusReason || JSON.stringify(c), /API key not valid/);
  } finally {
    await removeAccount(C);
  }
});

test('a function call reaches the SDK, and its functionResponse goes back (its id stripped)', async () => {
  const F = await createGeminiAccount({ name: 'gem-F-tools', baseUrl: `${st.mock.url}/b/function-call`, apiKey: KEY_B });
  const key = await createKey(st.relay, st.token, { name: 'gem-tools', geminiAccountId: `api:${F.id}` });
  try {
    st.mock.reset();
    const tools = [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather of a city', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }];
    const ai = genai(key.apiKey);
    const first = await ai.models.generateContent({ model: MODEL, contents: 'Weather in Paris?', config: { tools } });
    assert.equal(first.functionCalls.length, 1);
    assert.equal(first.functionCalls[0].name, 'get_weather');
    assert.deepEqual(first.functionCalls[0].args, { city: 'Paris' });
    const second = await ai.models.generateContent({
      model: MODEL,
      config: { tools },
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: { id: 'call-1', name: 'get_weather', args: { city: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { id: 'call-1', name: 'get_weather', response: { temp: 21 } } }] },
      ],
    });
    assert.equal(second.text, 'Tool said: {"temp":21}');
    const up = st.mock.geminiRequests();
    assert.equal(up.length, 2);
    assert.deepEqual(up[0].body.tools, tools, 'tools forwarded');
    const fr = up[1].body.contents[2].parts[0].functionResponse;
    assert.deepEqual(fr, { name: 'get_weather', response: { temp: 21 } }, 'functionResponse.id stripped, the rest kept');
    assert.equal(up[1].body.contents[1].parts[0].functionCall.id, 'call-1', 'only functionResponse ids are stripped');
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2);
  } finally {
    await removeAccount(F);
  }
});

test('geminiAccountId: api:<id> binds to that gemini-api account (no pool fallback); a plain or unknown id is refused naming the field', async () => {
  for (const v of ['00000000-0000-4000-8000-000000000000', 'api:00000000-0000-4000-8000-000000000000', `api:${A.id}x`]) {
    const bad = await api(st.relay, 'POST', '/admin/api-keys', { token: st.token, body: { name: 'x', geminiAccountId: v } });
    assert.equal(bad.status, 400, `${v}: ${bad.text}`);
    assert.match(bad.json.error, /geminiAccountId/);
  }
  const E = await createGeminiAccount({ name: 'gem-E-dedicated', baseUrl: `${st.mock.url}/v1beta/models`, apiKey: KEY_B, priority: 90 });
  try {
    const key = await createKey(st.relay, st.token, { name: 'gem-bound', geminiAccountId: `api:${E.id}` });
    st.mock.reset();
    for (let i = 0; i < 3; i++) assert.equal((await genai(key.apiKey).models.generateContent({ model: MODEL, contents: `x${i}` })).text, MOCK_TEXT);
    const up = st.mock.geminiRequests();
    assert.deepEqual(up.map((r) => r.headers['x-goog-api-key']), Array(3).fill(KEY_B), 'the dedicated account, despite its priority');
    assert.equal(up[0].path, `/v1beta/models/${MODEL}:generateContent`, 'a base ending in /models gets /<m>:<action>');
    const ex = await api(st.relay, 'GET', `/admin/scheduler/explain?keyId=${key.id}&model=${MODEL}&family=gemini`, { token: st.token });
    assert.equal(ex.status, 200, ex.text);
    assert.equal(ex.json.data.family, 'gemini');
    assert.equal(ex.json.data.picked.id, E.id);
    assert.equal(ex.json.data.accounts.find((a) => a.id === A.id).reason, 'not the dedicated account');
    assert.equal((await api(st.relay, 'PUT', `/admin/gemini-api-accounts/${E.id}`, { token: st.token, body: { schedulable: false } })).status, 200);
    await waitFor(async () => (await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': key.apiKey })).status === 503, { what: 'no fallback to the pool' });
  } finally {
    await removeAccount(E);
  }
});

test('a baseUrl template with {model} and {action}; supportedModels maps the model in the URL', async () => {
  const T = await createGeminiAccount({ name: 'gem-T', baseUrl: `${st.mock.url}/v1/models/{model}:{action}`, apiKey: KEY_B, supportedModels: { 'gemini-pro-latest': MODEL } });
  const key = await createKey(st.relay, st.token, { name: 'gem-tmpl', geminiAccountId: `api:${T.id}` });
  try {
    st.mock.reset();
    const r = await post('/gemini/v1/models/gemini-pro-latest:streamGenerateContent?alt=sse', contents(), { 'x-goog-api-key': key.apiKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(st.mock.geminiRequests()[0].url, `/v1/models/${MODEL}:streamGenerateContent?alt=sse`);
    const no = await post('/gemini/v1/models/gemini-2.0-flash:generateContent', contents(), { 'x-goog-api-key': key.apiKey });
    assertGoogleError(no, 404, 'NOT_FOUND');
  } finally {
    await removeAccount(T);
  }
});

test('sticky session: the system instruction and first content bind sticky_session:{sha256}; none without text', async () => {
  const hash = (v) => crypto.createHash('sha256').update(v).digest('hex').slice(0, 32);
  const sys = `You are helpful ${crypto.randomUUID()}`;
  const body = { systemInstruction: { parts: [{ text: sys }] }, contents: [{ role: 'user', parts: [{ text: 'first' }] }] };
  const r = await post(`/gemini/v1beta/models/${MODEL}:generateContent`, body, { 'x-goog-api-key': st.key.apiKey });
  assert.equal(r.status, 200, r.text);
  assert.equal(await redisCmd(st.redis.port, 'GET', `sticky_session:${hash(sys + 'first')}`), A.id);
});

test('the scheduler skips account types that do not serve the endpoint: gemini-api serves no Code Assist (explain names the reason)', async () => {
  const q = `/admin/scheduler/explain?keyId=${st.key.id}&model=${MODEL}&family=gemini`;
  const std = await api(st.relay, 'GET', `${q}&endpoint=streamGenerateContent`, { token: st.token });
  assert.equal(std.status, 200, std.text);
  assert.equal(std.json.data.picked.id, A.id);
  const ca = await api(st.relay, 'GET', `${q}&endpoint=v1internal:generateContent`, { token: st.token });
  assert.equal(ca.status, 200, ca.text);
  assert.equal(ca.json.data.picked, null);
  assert.equal(ca.json.data.accounts.find((a) => a.id === A.id).reason, 'endpoint not served');
});

test('userMessageQueue on a gemini-api account: a user turn takes the account\'s turn, a function response and countTokens do not', async () => {
  const Q = await createGeminiAccount({ name: 'gem-Q-queue', baseUrl: st.mock.url, apiKey: KEY_B, userMessageQueue: true });
  const key = await createKey(st.relay, st.token, { name: 'gem-queue', geminiAccountId: `api:${Q.id}` });
  const last = `user_msg_queue_last:${Q.id}`;
  const send = (action, body) => post(`/gemini/v1beta/models/${MODEL}:${action}`, body, { 'x-goog-api-key': key.apiKey });
  try {
    const fr = { contents: [{ role: 'user', parts: [{ text: 'q' }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: {} } }] }] };
    assert.equal((await send('generateContent', fr)).status, 200);
    assert.equal((await send('countTokens', contents())).status, 200);
    assert.equal(Number(await redisCmd(st.redis.port, 'EXISTS', last)), 0, 'no turn taken');
    assert.equal((await send('generateContent', contents())).status, 200);
    await waitFor(async () => Number(await redisCmd(st.redis.port, 'EXISTS', last)) === 1, { what: 'the turn given back' });
  } finally {
    await removeAccount(Q);
  }
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls).
async function commandsPerRequest(key, n, body) {
  const send = () => post(`/gemini/v1beta/models/${MODEL}:generateContent`, body(), { 'x-goog-api-key': key.apiKey });
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = (await waitForUsage(st.redis.port, key.id, 2)).requests;
  await sleep(2300); // past one statistics flush, as openai.test.js
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

test('Redis commands per Gemini request: as a Claude request (accounting; a session in the sticky cache costs nothing)', async () => {
  const same = await commandsPerRequest(await createKey(st.relay, st.token, { name: 'gem-cmds-same' }), 20, () => contents('one conversation'));
  const fresh = await commandsPerRequest(await createKey(st.relay, st.token, { name: 'gem-cmds-new' }), 20, () => contents(`new ${crypto.randomUUID()}`));
  console.log(`gemini_redis_commands_per_request: same_session=${same.toFixed(2)} new_session_each=${fresh.toFixed(2)}`);
  // the accounting script (7 with its inner commands) + the amortised statistics flush (measured
  // 6.05); a new session each time + GET and PTTL (first schedule) + SET EX and PUBLISH (binding)
  // (measured 11.4)
  assert.ok(same <= 8, `${same} commands per request in one session`);
  assert.ok(fresh <= 12, `${fresh} commands per request with a new session each`);
  assert.ok(fresh - same >= 3, 'a new session is looked up and bound: the measurement sees commands');
});

// ---------------------------------------------------------------- Gemini CLI

function geminiHome() {
  const home = mkTmp('gemini-home-');
  fs.mkdirSync(path.join(home, '.gemini'));
  fs.writeFileSync(
    path.join(home, '.gemini', 'settings.json'),
    JSON.stringify({
      general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      security: { auth: { selectedType: 'gemini-api-key' } },
    }),
  );
  return home;
}

function geminiCli(home, key, args, timeout = 90000) {
  const env = { PATH: process.env.PATH, HOME: home, TMPDIR: home, GOOGLE_GEMINI_BASE_URL: st.relay.url + '/gemini', GEMINI_API_KEY: key, GEMINI_CLI_TRUST_WORKSPACE: 'true', NO_COLOR: '1', CI: '1' };
  return new Promise((resolve) => {
    const p = spawn(GEMINI, args, { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code === null ? -1 : code, stdout, stderr });
    });
  });
}

test('Gemini CLI in API-key mode (GOOGLE_GEMINI_BASE_URL): one prompt end to end on a gemini-api account, restricted to gemini_cli', async () => {
  const key = await createKey(st.relay, st.token, { name: 'gemini-cli', permissions: ['gemini'], enableClientRestriction: true, allowedClients: ['gemini_cli'] });
  const home = geminiHome();
  try {
    st.mock.reset();
    const r = await geminiCli(home, key.apiKey, ['-m', MODEL, '-p', 'Say hello.']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-3000)}`);
    assert.ok(r.stdout.includes(MOCK_TEXT), `stdout: ${r.stdout}`);
    const up = st.mock.geminiRequests().filter((x) => x.path.includes('GenerateContent') || x.path.includes('generateContent'));
    assert.ok(up.length >= 1, JSON.stringify(st.mock.requests().map((x) => x.url)));
    assert.equal(up[up.length - 1].url, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    assert.match(up[up.length - 1].headers['user-agent'], /^GeminiCLI/);
    assertKeys(up, key.apiKey, KEY_A);
    assert.ok((await waitForUsage(st.redis.port, key.id, 1)).requests >= 1);
    // The same key from another client is refused in Google's shape.
    const other = await post(`/gemini/v1beta/models/${MODEL}:generateContent`, contents(), { 'x-goog-api-key': key.apiKey, 'user-agent': 'curl/8' });
    assertGoogleError(other, 403, 'PERMISSION_DENIED');
  } finally {
    rmTmp(home);
  }
});
