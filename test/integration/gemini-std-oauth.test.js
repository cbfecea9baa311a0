'use strict';
// The standard Gemini API and chat completions served by `gemini` (Google OAuth, Code Assist)
// accounts: the relay wraps the request in the Code Assist envelope {model, project,
// user_prompt_id, request} with the serving account's project and token (the mock Code Assist,
// test/mock/code_assist.js, refuses another project or token), and unwraps every answer and stream
// chunk from {"response": ...} before the client or the chat conversion sees it. @google/genai
// 3.1.0 and the openai SDK are the clients; also the /openai/gemini routes.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const OpenAI = require('openai');
const { GoogleGenAI } = require('@google/genai');
const { stack, api, createKey, waitForUsage, redisCmd, httpRequest, startMockUpstream, assertReleased, parseSSE, sleep, ownRedisCommands } = require('../lib/env');
const { redisCommandsPerRequest } = require('../lib/measure');
const { GCA_TEXT, GCA_COUNTED } = require('../mock/upstream');
const { GCA_TEXT_CHUNKS } = require('../mock/code_assist');

const A = '/admin/gemini-accounts';
const MODEL = 'gemini-2.5-pro';
const COUNTED = { ...GCA_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };
// gemini-2.5-pro: 20 input x 1.25e-6 + 10 cache reads x 1.25e-7 + 12 output x 1e-5 = 146.25 micro-USD
const COST_MICRO = '146';
const CONTENTS = [{ role: 'user', parts: [{ text: 'Say hello.' }] }];

let st;

async function createAccount(path, body) {
  const r = await api(st.relay, 'POST', path, { token: st.token, body: { priority: 50, schedulable: true, ...body } });
  assert.equal(r.status, 200, r.text);
  return { path, ...r.json.data };
}

async function removeAccount(acc) {
  await api(st.relay, 'DELETE', `${acc.path}/${acc.id}`, { token: st.token });
}

function genai(apiKey) {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: st.relay.url + '/gemini', retryOptions: { attempts: 1 } } });
}

function chat(apiKey, base = '/openai/v1') {
  return new OpenAI({ apiKey, baseURL: st.relay.url + base, maxRetries: 0 });
}

// The wrapped body Code Assist got: the account's project and token, never the relay key.
function assertWrapped(q, { token, project, relayKey, model = MODEL }) {
  assert.equal(q.headers.authorization, `Bearer ${token}`);
  assert.equal(q.body.model, model);
  assert.equal(q.body.project, project);
  assert.equal(typeof q.body.user_prompt_id, 'string');
  assert.ok(q.body.user_prompt_id.length > 0);
  assert.deepEqual(q.body.request.contents, CONTENTS);
  assert.equal(q.body.contents, undefined, 'the standard body is inside request');
  assert.ok(!JSON.stringify(q.headers).includes(relayKey) && !JSON.stringify(q.body).includes(relayKey), 'the cr_ key reached Code Assist');
}

async function assertCountedOnce(keyId, n = 1) {
  const u = await waitForUsage(st.redis.port, keyId, n);
  await assertReleased(st.relay);
  await sleep(100);
  assert.deepEqual(await waitForUsage(st.redis.port, keyId, n), u, 'usage written once');
  return u;
}

before(async () => {
  const mock = await startMockUpstream({ port: 0 });
  st = await stack({ mock, account: false, env: { GEMINI_CODE_ASSIST_URL: mock.url, GEMINI_API_URL: mock.url } });
});

after(async () => {
  if (st) await st.teardown();
});

test('@google/genai generateContent, generateContentStream and countTokens on a key whose only account is a gemini OAuth one: wrapped upstream, unwrapped answers, usage and cost once', async () => {
  st.mock.reset();
  const acc = await createAccount(A, { name: 'std', accessToken: 'ya29.std', projectId: 'proj-std' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'std', permissions: ['gemini'], geminiAccountId: acc.id });
    const res = await genai(key.apiKey).models.generateContent({ model: MODEL, contents: 'Say hello.' });
    assert.equal(res.text, GCA_TEXT);
    assert.equal(res.usageMetadata.promptTokenCount, 30);
    assert.equal(res.modelVersion, MODEL, 'the inner answer, not the envelope');
    let q = st.mock.codeAssistRequests('generateContent');
    assert.equal(q.length, 1);
    assert.equal(q[0].url, '/v1internal:generateContent');
    assertWrapped(q[0], { token: 'ya29.std', project: 'proj-std', relayKey: key.apiKey });
    assert.deepEqual(await assertCountedOnce(key.id), COUNTED);
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), COST_MICRO);

    const chunks = [];
    for await (const c of await genai(key.apiKey).models.generateContentStream({ model: MODEL, contents: 'Say hello.' })) chunks.push(c);
    assert.deepEqual(chunks.map((c) => c.text), GCA_TEXT_CHUNKS, 'every chunk unwrapped');
    q = st.mock.codeAssistRequests('streamGenerateContent');
    assert.equal(q.length, 1);
    assert.equal(q[0].url, '/v1internal:streamGenerateContent?alt=sse');
    assertWrapped(q[0], { token: 'ya29.std', project: 'proj-std', relayKey: key.apiKey });
    const u = await assertCountedOnce(key.id, 2);
    assert.equal(u.inputTokens, 2 * COUNTED.inputTokens, 'the stream counted once, from its last chunk');
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), String(2 * Number(COST_MICRO)));

    const ct = await genai(key.apiKey).models.countTokens({ model: MODEL, contents: 'Say hello.' });
    assert.equal(ct.totalTokens, 42);
    q = st.mock.codeAssistRequests('countTokens');
    assert.equal(q.length, 1);
    assert.deepEqual(q[0].body, { request: { model: `models/${MODEL}`, contents: CONTENTS } });
    await assertReleased(st.relay);
    assert.equal((await waitForUsage(st.redis.port, key.id, 2)).requests, 2, 'countTokens is not billed');
  } finally {
    await removeAccount(acc);
  }
});

test('streamGenerateContent without alt=sse on an OAuth account: Code Assist asked for its JSON array, the client gets the array of unwrapped chunks; a raw SSE request gets unwrapped frames', async () => {
  st.mock.reset();
  const acc = await createAccount(A, { name: 'arr', accessToken: 'ya29.arr', projectId: 'proj-arr' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'arr', permissions: ['gemini'], geminiAccountId: acc.id });
    const p = `/gemini/v1beta/models/${MODEL}:streamGenerateContent`;
    const h = { 'content-type': 'application/json', 'x-goog-api-key': key.apiKey };
    let r = await httpRequest(st.relay.url + p, { method: 'POST', headers: h, body: { contents: CONTENTS } });
    assert.equal(r.status, 200, r.text);
    const arr = JSON.parse(r.text);
    assert.ok(Array.isArray(arr), r.text);
    assert.equal(arr.length, GCA_TEXT_CHUNKS.length, r.text);
    assert.ok(arr.every((c) => c.response === undefined && Array.isArray(c.candidates)), r.text);
    assert.equal(arr.map((c) => c.candidates[0].content.parts[0].text).join(''), GCA_TEXT);
    assert.equal(st.mock.codeAssistRequests('streamGenerateContent')[0].url, '/v1internal:streamGenerateContent');
    assert.deepEqual(await assertCountedOnce(key.id), COUNTED);
    r = await httpRequest(`${st.relay.url}${p}?alt=sse`, { method: 'POST', headers: h, body: { contents: CONTENTS } });
    assert.equal(r.status, 200, r.text);
    const frames = parseSSE(r.text).map((e) => JSON.parse(e.data));
    assert.equal(frames.length, GCA_TEXT_CHUNKS.length);
    assert.ok(frames.every((f) => f.response === undefined), r.text);
    assert.equal(frames.map((f) => f.candidates[0].content.parts[0].text).join(''), GCA_TEXT);
    // an array cut short after its first element ends with Google's error as its last element
    r = await httpRequest(`${st.relay.url}/gemini/v1beta/models/mock-drop-after-1:streamGenerateContent`, { method: 'POST', headers: h, body: { contents: CONTENTS } });
    assert.equal(r.status, 200, r.text);
    const cut = JSON.parse(r.text);
    assert.equal(cut.length, 2, r.text);
    assert.equal(cut[0].candidates[0].content.parts[0].text, GCA_TEXT_CHUNKS[0], 'the element before the cut, unwrapped');
    assert.equal(cut[1].error.status, 'UNAVAILABLE', r.text);
    // a Code Assist error passes in Google's shape (not unwrapped, not billed)
    r = await httpRequest(`${st.relay.url}/gemini/v1beta/models/mock-error-400:generateContent`, { method: 'POST', headers: h, body: { contents: CONTENTS } });
    assert.equal(r.status, 400, r.text);
    assert.equal(JSON.parse(r.text).error.status, 'INVALID_ARGUMENT', r.text);
    await assertReleased(st.relay);
    assert.equal((await waitForUsage(st.redis.port, key.id, 3)).requests, 3, "the cut stream is billed for what it streamed, the error not at all");
  } finally {
    await removeAccount(acc);
  }
});

test('failover within one request: a gemini-api account answers 500, the gemini OAuth account serves the same request wrapped, the client gets the plain answer, counted once', async () => {
  st.mock.reset();
  const api500 = await createAccount('/admin/gemini-api-accounts', { name: 'fo-api', apiKey: 'AIza-fo-500', baseUrl: `${st.mock.url}/b/error-500`, priority: 1 });
  const oauth = await createAccount(A, { name: 'fo-oauth', accessToken: 'ya29.fo', projectId: 'proj-fo', priority: 2 });
  try {
    const key = await createKey(st.relay, st.token, { name: 'fo', permissions: ['gemini'] });
    const res = await genai(key.apiKey).models.generateContent({ model: MODEL, contents: 'Say hello.' });
    assert.equal(res.text, GCA_TEXT);
    const list = await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token });
    const a1 = list.json.data.find((a) => a.id === api500.id);
    assert.equal(a1.status, 'temp_error', 'the gemini-api account was tried first and failed: ' + JSON.stringify(a1));
    const q = st.mock.codeAssistRequests('generateContent');
    assert.equal(q.length, 1, 'the OAuth account was tried second');
    assertWrapped(q[0], { token: 'ya29.fo', project: 'proj-fo', relayKey: key.apiKey });
    assert.deepEqual(await assertCountedOnce(key.id), COUNTED);
    // the stream fails over the same way (the unwrap follows the account that commits); another
    // conversation, so no sticky binding to the OAuth account skips the gemini-api one
    await api(st.relay, 'POST', `/admin/gemini-api-accounts/${api500.id}/reset-status`, { token: st.token });
    const chunks = [];
    for await (const c of await genai(key.apiKey).models.generateContentStream({ model: MODEL, contents: 'Stream a hello.' })) chunks.push(c.text);
    assert.equal(chunks.join(''), GCA_TEXT);
    const a2 = (await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token })).json.data.find((a) => a.id === api500.id);
    assert.equal(a2.status, 'temp_error', 'the stream failed over too: ' + JSON.stringify(a2));
    assert.equal((await assertCountedOnce(key.id, 2)).requests, 2);
  } finally {
    await removeAccount(api500);
    await removeAccount(oauth);
  }
});

const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const MESSAGES = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }];

test('openai SDK chat on a gemini OAuth account (unified /openai/v1 for gemini-*, and /openai/gemini/v1): plain, stream with include_usage, counted once', async () => {
  st.mock.reset();
  const acc = await createAccount(A, { name: 'chat', accessToken: 'ya29.chat', projectId: 'proj-chat' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'chat', permissions: ['gemini'], geminiAccountId: acc.id });
    for (const base of ['/openai/v1', '/openai/gemini/v1']) {
      st.mock.reset();
      const r = await chat(key.apiKey, base).chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 64 });
      assert.equal(r.object, 'chat.completion');
      assert.equal(r.choices[0].message.content, GCA_TEXT, base);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.equal(r.usage.prompt_tokens, 30);
      assert.equal(r.usage.completion_tokens, 12);
      assert.equal(r.usage.prompt_tokens_details.cached_tokens, 10);
      const q = st.mock.codeAssistRequests('generateContent')[0];
      assert.equal(q.body.project, 'proj-chat');
      assert.equal(q.body.model, MODEL);
      assert.deepEqual(q.body.request.systemInstruction, { parts: [{ text: 'Be brief.' }] });
      assert.equal(q.body.request.messages, undefined, 'converted, then wrapped');
    }
    assert.deepEqual((await assertCountedOnce(key.id, 2)).requests, 2);

    st.mock.reset();
    const chunks = [];
    const s = await chat(key.apiKey, '/openai/gemini/v1').chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
    for await (const c of s) chunks.push(c);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join(''), GCA_TEXT);
    assert.equal(chunks.filter((c) => c.choices[0] && c.choices[0].finish_reason).length, 1);
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, 30);
    assert.equal(last.usage.completion_tokens, 12);
    assert.equal(st.mock.codeAssistRequests('streamGenerateContent')[0].url, '/v1internal:streamGenerateContent?alt=sse');
    const u = await assertCountedOnce(key.id, 3);
    assert.equal(u.inputTokens, 3 * COUNTED.inputTokens);
    assert.equal(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${key.id}`, 'totalMicro'), String(3 * Number(COST_MICRO)));
  } finally {
    await removeAccount(acc);
  }
});

test('a tool call through chat on a gemini OAuth account via /openai/gemini/v1 (any model name goes to the Gemini pool): functionCall -> tool_calls, JSON and stream; the result goes back as functionResponse', async () => {
  st.mock.reset();
  const acc = await createAccount(A, { name: 'tool', accessToken: 'ya29.tool', projectId: 'proj-tool' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'tool', permissions: ['gemini'], geminiAccountId: acc.id });
    const c = chat(key.apiKey, '/openai/gemini/v1');
    const ask = [{ role: 'user', content: 'Weather in Paris?' }];
    const r = await c.chat.completions.create({ model: 'mock-function-call', messages: ask, tools: TOOLS });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.equal(st.mock.codeAssistRequests('generateContent')[0].body.request.tools[0].functionDeclarations[0].name, 'get_weather');

    const chunks = [];
    for await (const x of await c.chat.completions.create({ model: 'mock-function-call', messages: ask, tools: TOOLS, stream: true })) chunks.push(x);
    const deltas = chunks.flatMap((x) => (x.choices[0] && x.choices[0].delta.tool_calls) || []);
    assert.equal(deltas.length, 1);
    assert.deepEqual(JSON.parse(deltas[0].function.arguments), { city: 'Paris' });

    st.mock.reset();
    const back = [...ask, r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18 C, sunny' }];
    await c.chat.completions.create({ model: MODEL, messages: back, tools: TOOLS });
    const contents = st.mock.codeAssistRequests('generateContent')[0].body.request.contents;
    assert.deepEqual(contents[2], { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18 C, sunny' } } }] });
  } finally {
    await removeAccount(acc);
  }
});

test('/openai/gemini model lists in the OpenAI shape (the relay\'s Gemini list, the key\'s denied models hidden); permission gemini on the routes', async () => {
  const key = await createKey(st.relay, st.token, { name: 'lists', permissions: ['gemini'], enableModelRestriction: true, restrictedModels: ['gemini-2.0-flash'] });
  const get = (p, k = key.apiKey) => httpRequest(st.relay.url + p, { headers: { authorization: `Bearer ${k}` } });
  for (const p of ['/openai/gemini/v1/models', '/openai/gemini/models']) {
    const r = await get(p);
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    assert.equal(j.object, 'list');
    const ids = j.data.map((m) => m.id);
    assert.ok(ids.includes('gemini-2.5-pro') && ids.includes('gemini-2.5-flash'), r.text);
    assert.ok(!ids.includes('gemini-2.0-flash'), 'a denied model is hidden');
    assert.ok(j.data.every((m) => m.object === 'model' && m.owned_by === 'google'), r.text);
  }
  let r = await get('/openai/gemini/v1/models/gemini-2.5-pro');
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).id, 'gemini-2.5-pro');
  r = await get('/openai/gemini/v1/models/gemini-2.0-flash');
  assert.equal(r.status, 404, r.text);
  assert.equal(typeof JSON.parse(r.text).error.message, 'string', 'OpenAI error shape');
  const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only', permissions: ['claude'] });
  r = await get('/openai/gemini/v1/models', claudeOnly.apiKey);
  assert.equal(r.status, 403, r.text);
  assert.match(JSON.parse(r.text).error.message, /Gemini/);
  r = await httpRequest(st.relay.url + '/openai/gemini/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${claudeOnly.apiKey}` }, body: { model: MODEL, messages: MESSAGES } });
  assert.equal(r.status, 403, r.text);
  // the denied model is refused on the chat route too (one rule: the list denies)
  r = await httpRequest(st.relay.url + '/openai/gemini/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key.apiKey}` }, body: { model: 'gemini-2.0-flash', messages: MESSAGES } });
  assert.equal(r.status, 403, r.text);
});

// Redis commands per request over n requests (test/lib/measure.js: the relay's own, the test's
// polls and the statistics flush taken out).
function commandsPerRequest(key, n, send) {
  return redisCommandsPerRequest(st, key, n, send);
}

test('Redis commands per standard request on an OAuth account: the envelope adds none (as a Code Assist content call)', async () => {
  const acc = await createAccount(A, { name: 'cmds', accessToken: 'ya29.cmds', projectId: 'proj-cmds' });
  try {
    const key = await createKey(st.relay, st.token, { name: 'cmds', permissions: ['gemini'], geminiAccountId: acc.id });
    const body = { systemInstruction: { parts: [{ text: 'one conversation' }] }, contents: CONTENTS };
    const send = () => httpRequest(`${st.relay.url}/gemini/v1beta/models/${MODEL}:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': key.apiKey }, body });
    const per = await commandsPerRequest(key, 20, send);
    console.log(`gemini_std_oauth_redis_commands_per_request: ${per.toFixed(2)}`);
    // the accounting script (7 with its inner commands) + the amortised statistics flush; the
    // session's binding is cached after its first request; wrap and unwrap are in memory
    assert.ok(per <= 8, `${per} commands per request`);
  } finally {
    await removeAccount(acc);
  }
});
