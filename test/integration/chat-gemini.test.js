'use strict';
// OpenAI chat completions (and legacy completions) for gemini-* models, with the `openai` npm SDK:
// served by `gemini-api` accounts (the mock's Gemini API, test/mock/gemini.js). The chat body
// becomes a Gemini body (chat_gemini.c), the answer and the SSE chunks (asked with ?alt=sse: the
// call is converted) become chat.completion / chunks.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const OpenAI = require('openai');
const { stack, api, createKey, waitForUsage, httpRequest, parseSSE, sleep, ownRedisCommands } = require('../lib/env');
const { redisCommandsPerRequest } = require('../lib/measure');
const { GEMINI_COUNTED, GEMINI_TEXT_CHUNKS } = require('../mock/upstream');

const MODEL = 'gemini-2.5-flash';
const COUNTED = { ...GEMINI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };
const TEXT = GEMINI_TEXT_CHUNKS.join('');
const ACCOUNT_KEY = 'AIza-chat-gemini-0001';
const A = '/admin/gemini-api-accounts';

let st;
let key;

function client(apiKey, base = '/openai/v1') {
  return new OpenAI({ apiKey, baseURL: st.relay.url + base, maxRetries: 0 });
}

function post(p, body, apiKey = key.apiKey) {
  return httpRequest(st.relay.url + p, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body });
}

function upstream() {
  return st.mock.geminiRequests();
}

function assertUpstream(q, relayKey, action) {
  assert.equal(q.path, `/v1beta/models/${MODEL}:${action}`);
  assert.equal(q.headers['x-goog-api-key'], ACCOUNT_KEY, 'the account key upstream');
  assert.ok(!JSON.stringify(q.headers).includes(relayKey) && !JSON.stringify(q.body).includes(relayKey), 'the cr_ key reached the upstream');
  assert.deepEqual(q.body.contents, [{ role: 'user', parts: [{ text: 'Say hello.' }] }]);
  assert.deepEqual(q.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
  assert.equal(q.body.generationConfig.maxOutputTokens, 64);
  assert.equal(q.body.messages, undefined, 'no chat fields upstream');
  assert.equal(q.body.model, undefined, 'the model is in the URL');
}

// An account bound to a key: behaviour b of the mock (its /b/<b> path prefix).
async function boundKey(name, b) {
  const r = await api(st.relay, 'POST', A, { token: st.token, body: { name, apiKey: ACCOUNT_KEY, baseUrl: `${st.mock.url}/b/${b}`, priority: 90, schedulable: true } });
  assert.equal(r.status, 200, r.text);
  return createKey(st.relay, st.token, { name, permissions: ['gemini'], geminiAccountId: `api:${r.json.data.id}` });
}

const MESSAGES = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }];

before(async () => {
  st = await stack({ account: false });
  const r = await api(st.relay, 'POST', A, { token: st.token, body: { name: 'cgem', apiKey: ACCOUNT_KEY, baseUrl: st.mock.url, priority: 50, schedulable: true } });
  assert.equal(r.status, 200, r.text);
});

after(async () => {
  if (st) await st.teardown();
});

test('chat on a gemini-api account, JSON: converted both ways, usage and tokens once, key not forwarded', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-json', permissions: ['gemini'] });
  const tools = [{ type: 'function', function: { name: 'send', parameters: { type: 'object', properties: { request: { type: 'string' } } } } }];
  const r = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 64, tools });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, TEXT);
  assert.equal(r.choices[0].finish_reason, 'stop');
  // promptTokenCount 12 (2 cached), candidates 7 + thoughts 3.
  assert.deepEqual(r.usage, { prompt_tokens: 12, completion_tokens: 10, total_tokens: 22, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 3 } });
  assert.equal(r.id, 'chatcmpl-mock-resp-1');
  const reqs = upstream();
  assert.equal(reqs.length, 1);
  assertUpstream(reqs[0], key.apiKey, 'generateContent');
  assert.deepEqual(reqs[0].body.tools[0].functionDeclarations[0].parametersJsonSchema.properties, { request: { type: 'string' } });
  const u = await waitForUsage(st.redis.port, key.id, 1);
  await sleep(200);
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), u, 'usage written once');
  assert.deepEqual(u, COUNTED);
});

test('chat stream with include_usage on a gemini-api account (SSE asked upstream, the client asked no alt): role, text deltas, finish, usage chunk, [DONE]', async () => {
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
  assert.equal(text, TEXT);
  const finish = chunks.filter((c) => c.choices[0] && c.choices[0].finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].choices[0].finish_reason, 'stop');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 12);
  assert.equal(last.usage.completion_tokens, 10);
  assert.equal(last.usage.prompt_tokens_details.cached_tokens, 2);
  const reqs = upstream();
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].url, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
  assertUpstream(reqs[0], key.apiKey, 'streamGenerateContent');
  assert.deepEqual(await waitForUsage(st.redis.port, key.id, 1), COUNTED);
});

test('legacy completions for gemini-*: text_completion answer', async () => {
  st.mock.reset();
  key = await createKey(st.relay, st.token, { name: 'cg-legacy', permissions: ['gemini'] });
  const r = await post('/openai/v1/completions', { model: MODEL, prompt: 'Say hello.' });
  assert.equal(r.status, 200, r.text);
  const j = JSON.parse(r.text);
  assert.equal(j.object, 'text_completion');
  assert.equal(j.choices[0].text, TEXT);
  assert.equal(upstream()[0].body.contents[0].parts[0].text, 'Say hello.');
});

const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

test('tool calls through chat <-> Gemini: functionCall -> tool_calls (JSON and stream), the tool result back as functionResponse', async () => {
  st.mock.reset();
  key = await boundKey('cg-tools', 'function-call');
  const ask = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: ask, tools: TOOLS, tool_choice: 'required' });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.content, null);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.equal(call.id, 'call_mock-resp-1_0', 'an id built on the responseId');
  let q = upstream()[0].body;
  assert.equal(q.tools[0].functionDeclarations[0].name, 'get_weather');
  assert.deepEqual(q.toolConfig, { functionCallingConfig: { mode: 'ANY' } });

  const chunks = [];
  const stream = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: ask, tools: TOOLS, stream: true });
  for await (const c of stream) chunks.push(c);
  const deltas = chunks.flatMap((c) => (c.choices[0] && c.choices[0].delta.tool_calls) || []);
  assert.equal(deltas.length, 1, 'Gemini sends a call whole: one delta');
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(deltas[0].function.arguments), { city: 'Paris' });
  assert.equal(chunks.find((c) => c.choices[0] && c.choices[0].finish_reason).choices[0].finish_reason, 'tool_calls');

  st.mock.reset();
  const back = [...ask, r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18 C, sunny' }];
  const r2 = await client(key.apiKey).chat.completions.create({ model: MODEL, messages: back, tools: TOOLS });
  assert.equal(r2.choices[0].message.content, 'Tool said: {"output":"18 C, sunny"}');
  q = upstream()[0].body;
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
  // /openai/claude/ stays on the Claude pool, whatever the model (no Claude account here).
  r = await post('/openai/claude/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.notEqual(r.status, 200);
  assert.equal(upstream().length, 0);
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls), as
// chat.test.js measures the other pools: the conversion adds none.
async function commandsPerRequest(n) {
  const k = await createKey(st.relay, st.token, { name: 'cg-cmds', permissions: ['gemini'] });
  return redisCommandsPerRequest(st, k, n, () => post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, k.apiKey));
}

test('Redis commands per chat request on the Gemini pool: the conversion adds none', async () => {
  const per = await commandsPerRequest(20);
  console.log(`chat_gemini_redis_commands_per_request: ${per.toFixed(2)}`);
  assert.ok(per <= 8, `${per} commands per chat request on the Gemini pool`);
});

test('upstream errors reach the chat client: a Google 400 with its status and message; a stream cut short ends with the error chunk', async () => {
  st.mock.reset();
  const k400 = await boundKey('cg-400', 'error-400');
  const r = await post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, k400.apiKey);
  assert.equal(r.status, 400, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error.message, 'string');
  assert.equal(j.error.status, 'INVALID_ARGUMENT');
  const kdrop = await boundKey('cg-drop', 'drop-after-1');
  const s = await post('/openai/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true }, kdrop.apiKey);
  assert.equal(s.status, 200);
  const events = parseSSE(s.text);
  assert.ok(!events.some((e) => e.data === '[DONE]'), 'no [DONE] after a cut');
  const data = events.map((e) => JSON.parse(e.data));
  assert.equal(data[0].choices[0].delta.role, 'assistant');
  assert.equal(data[1].choices[0].delta.content, GEMINI_TEXT_CHUNKS[0]);
  assert.equal(typeof data[data.length - 1].error.message, 'string', 'the chat error frame last');
  assert.ok(!data.some((c) => c.choices && c.choices[0] && c.choices[0].finish_reason), 'no fake finish');
});
