'use strict';
// OpenAI chat completions (and legacy completions) for gemini-* models, with the `openai` npm SDK:
// served by a `gemini` (Google OAuth, Code Assist) account. The chat body becomes a Gemini body
// (chat_gemini.c), the Code Assist provider wraps it in {model, project, user_prompt_id, request}
// (gemini_envelope.h), and the mock's {"response": ...} answers and stream chunks are unwrapped and
// converted back into chat.completion / chunks.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const OpenAI = require('openai');
const { stack, api, createKey, waitForUsage, httpRequest, startMockUpstream, parseSSE, sleep, ownRedisCommands } = require('../lib/env');
const { GCA_TEXT, GCA_COUNTED } = require('../mock/upstream');

const MODEL = 'gemini-2.5-flash';
const COUNTED = { ...GCA_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };

let st;
let key;

function client(apiKey, base = '/openai/v1') {
  return new OpenAI({ apiKey, baseURL: st.relay.url + base, maxRetries: 0 });
}

function post(p, body, apiKey = key.apiKey) {
  return httpRequest(st.relay.url + p, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body });
}

function upstream() {
  return st.mock.requests().filter((q) => q.path.startsWith('/v1internal:'));
}

function assertWrapped(q, relayKey) {
  assert.equal(q.headers.authorization, 'Bearer ya29.cgem', 'the account token upstream');
  assert.ok(!JSON.stringify(q.headers).includes(relayKey) && !JSON.stringify(q.body).includes(relayKey), 'the cr_ key reached the upstream');
  assert.equal(q.body.model, MODEL);
  assert.equal(q.body.project, 'proj-cgem', 'the account project in the envelope');
  assert.match(q.body.user_prompt_id, /########0$/);
  assert.deepEqual(q.body.request.contents, [{ role: 'user', parts: [{ text: 'Say hello.' }] }]);
  assert.deepEqual(q.body.request.systemInstruction, { parts: [{ text: 'Be brief.' }] });
  assert.equal(q.body.request.generationConfig.maxOutputTokens, 64);
  assert.equal(q.body.messages, undefined, 'no chat fields upstream');
}

const MESSAGES = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }];

before(async () => {
  const mock = await startMockUpstream({ port: 0 });
  st = await stack({ mock, account: false, env: { GEMINI_CODE_ASSIST_URL: mock.url } });
  const r = await api(st.relay, 'POST', '/admin/gemini-accounts', { token: st.token, body: { name: 'cgem', accessToken: 'ya29.cgem', expiresAt: Date.now() + 3600e3, projectId: 'proj-cgem', priority: 50, schedulable: true } });
  assert.equal(r.status, 200, r.text);
});

after(async () => {
  if (st) await st.teardown();
});

test('chat on a gemini (Code Assist) account, JSON: wrapped upstream, unwrapped and converted back, usage once', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-json', permissions: ['gemini'] });
  // A tool whose schema has a property named "request": still a standard body, still wrapped.
  const tools = [{ type: 'function', function: { name: 'send', parameters: { type: 'object', properties: { request: { type: 'string' } } } } }];
  const r = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 64, tools });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, GCA_TEXT);
  assert.equal(r.choices[0].finish_reason, 'stop');
  // promptTokenCount 30 (10 cached), candidates 8 + thoughts 4.
  assert.deepEqual(r.usage, { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42, prompt_tokens_details: { cached_tokens: 10 }, completion_tokens_details: { reasoning_tokens: 4 } });
  const reqs = upstream();
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].path, '/v1internal:generateContent');
  assertWrapped(reqs[0], key.apiKey);
  assert.deepEqual(reqs[0].body.request.tools[0].functionDeclarations[0].parametersJsonSchema.properties, { request: { type: 'string' } });
  const u = await waitForUsage(st.redis.port, key.id, 1);
  await sleep(200);
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), u, 'usage written once');
  assert.deepEqual(u, COUNTED);
});

test('chat stream with include_usage on a gemini account: role, text deltas, finish, usage chunk, [DONE]', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-stream', permissions: ['gemini'] });
  const r = await post('/api/v1/chat/completions', { model: MODEL, messages: MESSAGES, max_completion_tokens: 64, stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200, r.text);
  const events = parseSSE(r.text);
  assert.equal(events[events.length - 1].data, '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === MODEL));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const text = chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join('');
  assert.equal(text, GCA_TEXT);
  const finish = chunks.filter((c) => c.choices[0] && c.choices[0].finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].choices[0].finish_reason, 'stop');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 30);
  assert.equal(last.usage.completion_tokens, 12);
  assert.equal(last.usage.prompt_tokens_details.cached_tokens, 10);
  const reqs = upstream();
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].url, '/v1internal:streamGenerateContent?alt=sse');
  assertWrapped(reqs[0], key.apiKey);
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), COUNTED);
});

test('legacy completions for gemini-*: text_completion answer', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-legacy', permissions: ['gemini'] });
  const r = await post('/openai/v1/completions', { model: MODEL, prompt: 'Say hello.' });
  assert.equal(r.status, 200, r.text);
  const j = JSON.parse(r.text);
  assert.equal(j.object, 'text_completion');
  assert.equal(j.choices[0].text, GCA_TEXT);
  assert.equal(upstream()[0].body.request.contents[0].parts[0].text, 'Say hello.');
});

const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

test('tool calls through chat <-> Gemini: functionCall -> tool_calls (JSON and stream), the tool result back as functionResponse', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-tools', permissions: ['gemini'] });
  const ask = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client(key.apiKey).chat.completions.create({ model: 'gemini-mock-function-call', messages: ask, tools: TOOLS, tool_choice: 'required' });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.content, null);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.match(call.id, /^call_[0-9a-f]{24}_0$/, 'a generated id (the mock gives no responseId)');
  let q = upstream()[0].body.request;
  assert.equal(q.tools[0].functionDeclarations[0].name, 'get_weather');
  assert.deepEqual(q.toolConfig, { functionCallingConfig: { mode: 'ANY' } });

  const chunks = [];
  const stream = await client(key.apiKey).chat.completions.create({ model: 'gemini-mock-function-call', messages: ask, tools: TOOLS, stream: true });
  for await (const c of stream) chunks.push(c);
  const deltas = chunks.flatMap((c) => (c.choices[0] && c.choices[0].delta.tool_calls) || []);
  assert.equal(deltas.length, 1, 'Gemini sends a call whole: one delta');
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(deltas[0].function.arguments), { city: 'Paris' });
  assert.equal(chunks.find((c) => c.choices[0] && c.choices[0].finish_reason).choices[0].finish_reason, 'tool_calls');

  st.mock.reset();
  const back = [...ask, r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18 C, sunny' }];
  const r2 = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: back, tools: TOOLS });
  assert.equal(r2.choices[0].message.content, GCA_TEXT);
  q = upstream()[0].body.request;
  assert.deepEqual(q.contents[1], { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'skip_thought_signature_validator' }] });
  assert.deepEqual(q.contents[2], { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18 C, sunny' } } }] });
});

test('gemini-* refusals in OpenAI shape: a field Gemini cannot take is a 400 naming it; permission gemini', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-ref', permissions: ['gemini'] });
  let r = await post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] });
  assert.equal(r.status, 400, r.text);
  assert.match(JSON.parse(r.text).error.message, /messages\[0\]\.content\[0\]\.image_url\.url is an http\(s\) URL/);
  r = await post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] });
  assert.equal(r.status, 400, r.text);
  assert.match(JSON.parse(r.text).error.message, /tool_call_id 'nope'/);
  assert.equal(upstream().length, 0, 'nothing reached the upstream');
  const claudeOnly = await createKey(st.relay, st.token, { name: 'cg-claude', permissions: ['claude'] });
  r = await post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, claudeOnly.apiKey);
  assert.equal(r.status, 403, r.text);
  assert.match(JSON.parse(r.text).error.message, /Gemini/);
  // /openai/claude/ stays on the Claude pool, whatever the model (no Claude account here: 503).
  r = await post('/openai/claude/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.notEqual(r.status, 200);
  assert.equal(upstream().length, 0);
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls), as
// chat.test.js measures the other pools: the conversion and the envelope add none.
async function commandsPerRequest(n) {
  const k = await createKey(st.relay, st.token, { name: 'cg-cmds', permissions: ['gemini'] });
  const send = () => post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, k.apiKey);
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = (await waitForUsage(st.redis.port, k.id, 2)).requests;
  await sleep(2300); // past one statistics flush: the window holds only these requests' share
  const before = await st.redis.commandCalls();
  const own = { ...ownRedisCommands };
  for (let i = 0; i < n; i++) assert.equal((await send()).status, 200);
  await waitForUsage(st.redis.port, k.id, done + n, 5000);
  await sleep(300);
  const after = await st.redis.commandCalls();
  let polls = 0;
  for (const [name, v] of Object.entries(ownRedisCommands)) if (name !== 'info') polls += v - (own[name] || 0);
  return (after.total - before.total - polls) / n;
}

test('Redis commands per chat request on the Gemini pool: as a native Code Assist one', async () => {
  const per = await commandsPerRequest(20);
  console.log(`chat_gemini_redis_commands_per_request: ${per.toFixed(2)}`);
  assert.ok(per <= 8, `${per} commands per chat request on the Gemini pool`);
});

test('upstream errors reach the chat client: a Google 400 with its status and message; a stream cut short ends with the error chunk', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-err', permissions: ['gemini'] });
  const r = await post('/openai/v1/chat/completions', { model: 'gemini-mock-error-400', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.status, 400, r.text);
  const j = JSON.parse(r.text);
  assert.equal(j.error.message, 'mock error 400');
  assert.equal(j.error.status, 'INVALID_ARGUMENT');
  const s = await post('/openai/v1/chat/completions', { model: 'gemini-mock-drop-after-1', messages: [{ role: 'user', content: 'x' }], stream: true });
  assert.equal(s.status, 200);
  const events = parseSSE(s.text);
  assert.ok(!events.some((e) => e.data === '[DONE]'), 'no [DONE] after a cut');
  const data = events.map((e) => JSON.parse(e.data));
  assert.equal(data[0].choices[0].delta.role, 'assistant');
  assert.equal(data[1].choices[0].delta.content, 'Hello');
  assert.equal(typeof data[data.length - 1].error.message, 'string', 'the chat error frame last');
  assert.ok(!data.some((c) => c.choices && c.choices[0] && c.choices[0].finish_reason), 'no fake finish');
});
