'use strict';
// OpenAI chat completions (and legacy completions) through the relay, with the `openai` npm SDK
// 7.57.0: on a Claude Console account (the mock speaks Messages; chat <-> Messages conversion) and
// on an openai-responses account (the mock speaks Responses; chat <-> Responses for gpt-*).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const OpenAI = require('openai');
const { stack, api, createKey, createConsoleAccount, waitForUsage, redisCmd, httpRequest, sleep, ownRedisCommands, MOCK_TEXT, MOCK_COUNTED, MOCK_ACCOUNT_KEY } = require('../lib/env');
const { OAI_COUNTED, MOCK_TOOL_INPUT, MOCK_TOOL_ARGS_CHUNKS, MOCK_TOOL_TEXT } = require('../mock/upstream');

const OAI_KEY = 'sk-oai-chat-account-0001';
const COUNTED = { ...MOCK_COUNTED };
const OAI = { ...OAI_COUNTED, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };
const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

let st;
let oaiAcc;

function client(apiKey, base = '/openai/v1') {
  return new OpenAI({ apiKey, baseURL: st.relay.url + base, maxRetries: 0 });
}

function post(p, body, apiKey) {
  return httpRequest(st.relay.url + p, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body });
}

function assertOpenAIError(r, status) {
  assert.equal(r.status, status, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(typeof j.error.message, 'string');
  assert.equal(typeof j.error.type, 'string');
  assert.ok('param' in j.error && 'code' in j.error, r.text);
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

function assertKeyNotForwarded(reqs, relayKey) {
  assert.ok(reqs.length > 0);
  for (const r of reqs) {
    assert.ok(!JSON.stringify(r.headers).includes(relayKey), 'the cr_ key reached the upstream headers');
    assert.ok(!JSON.stringify(r.body).includes(relayKey), 'the cr_ key reached the upstream body');
  }
}

async function cost(keyId) {
  return Number(await redisCmd(st.redis.port, 'HGET', `api_key_cost:${keyId}`, 'totalMicro'));
}

// Usage stays at n requests (nothing is counted twice, even late).
async function usageOnce(keyId, want) {
  const u = await waitForUsage(st.redis.port, keyId, 1);
  await sleep(300);
  assert.deepEqual(await waitForUsage(st.redis.port, keyId, 1), u, 'usage changed after the first write');
  assert.deepEqual(u, want);
}

before(async () => {
  st = await stack({ account: { priority: 10 } });
  const r = await api(st.relay, 'POST', '/admin/openai-responses-accounts', { token: st.token, body: { name: 'oai', baseApi: st.mock.url, apiKey: OAI_KEY, priority: 10, schedulable: true } });
  assert.ok(r.status === 200 || r.status === 201, r.text);
  oaiAcc = r.json.data;
});

after(async () => {
  if (st) await st.teardown();
});

test('chat on a Claude Console account (JSON): converted both ways, usage and cost once, key not forwarded', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'chat-json' });
  const res = await client(key.apiKey).chat.completions.create({
    model: 'claude-sonnet-4-5',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }],
    stop: ['END'],
  });
  assert.equal(res.object, 'chat.completion');
  assert.match(res.id, /^chatcmpl-/);
  assert.equal(res.model, 'claude-sonnet-4-5');
  assert.equal(res.choices[0].message.role, 'assistant');
  assert.equal(res.choices[0].message.content, MOCK_TEXT);
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.equal(res.usage.completion_tokens, 13);
  const up = st.mock.messageRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].headers['x-api-key'], MOCK_ACCOUNT_KEY);
  assert.equal(up[0].body.system, 'Be brief.');
  assert.deepEqual(up[0].body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }]);
  assert.deepEqual(up[0].body.stop_sequences, ['END']);
  assert.equal(up[0].body.max_tokens, 4096);
  assertKeyNotForwarded(up, key.apiKey);
  await usageOnce(key.id, COUNTED);
  // the same answer asked natively costs the same: billed once, from the upstream's usage
  const native = await createKey(st.relay, st.token, { name: 'native' });
  const n = await post('/api/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, native.apiKey);
  assert.equal(n.status, 200, n.text);
  await waitForUsage(st.redis.port, native.id, 1);
  assert.ok((await cost(key.id)) > 0);
  assert.equal(await cost(key.id), await cost(native.id));
});

test('chat stream with include_usage on a Claude account: text deltas, finish, a usage chunk, [DONE]', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'chat-stream' });
  const s = await client(key.apiKey).chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Say hello.' }], stream: true, stream_options: { include_usage: true } });
  let text = '';
  const chunks = [];
  for await (const c of s) {
    chunks.push(c);
    if (c.choices[0] && c.choices[0].delta.content) text += c.choices[0].delta.content;
  }
  assert.equal(text, MOCK_TEXT);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.ok(chunks.some((c) => c.choices[0] && c.choices[0].finish_reason === 'stop'));
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 13);
  assert.equal(st.mock.messageRequests()[0].body.stream, true);
  await usageOnce(key.id, COUNTED);
  // raw: the wire ends with data: [DONE] and carries no Anthropic event names
  const r = await post('/openai/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], stream: true }, key.apiKey);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  assert.ok(r.text.trimEnd().endsWith('data: [DONE]'), r.text);
  assert.ok(!r.text.includes('event:'), 'no upstream event names');
  assert.ok(!r.text.includes('"usage"'), 'no usage chunk without include_usage');
});

test('chat on an openai-responses account (gpt-*): JSON and stream via Responses, usage once', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'chat-oai' });
  const res = await client(key.apiKey).chat.completions.create({ model: 'gpt-5', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }] });
  assert.equal(res.choices[0].message.content, MOCK_TEXT);
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.equal(res.usage.prompt_tokens, 20);
  assert.equal(res.usage.prompt_tokens_details.cached_tokens, 4);
  const up = st.mock.responsesRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].path, '/v1/responses');
  assert.equal(up[0].headers.authorization, `Bearer ${OAI_KEY}`);
  assert.equal(up[0].body.model, 'gpt-5');
  assert.equal(up[0].body.store, false);
  assert.ok(Array.isArray(up[0].body.input) && up[0].body.input.length === 2, JSON.stringify(up[0].body));
  assert.equal(st.mock.messageRequests().length, 0, 'the Claude pool is not asked');
  assertKeyNotForwarded(up, key.apiKey);
  await usageOnce(key.id, OAI);
  // gpt-5: 16 input x 1.25e-6 + 4 cache reads x 1.25e-7 + 9 output x 1e-5 = 110.5 micro-USD
  assert.equal(await cost(key.id), 111);

  const key2 = await createKey(st.relay, st.token, { name: 'chat-oai-stream' });
  const s = await client(key2.apiKey, '/api/v1').chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'Say hello.' }], stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  for await (const c of s) {
    if (c.choices[0] && c.choices[0].delta.content) text += c.choices[0].delta.content;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(usage.completion_tokens, 9);
  assert.equal(st.mock.responsesRequests()[1].body.stream, true);
  await usageOnce(key2.id, OAI);
});

// Tool calls: the mock answers a tool call; the SDK sees tool_calls (streamed: argument deltas).
async function toolRoundTrip(model, seen) {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: `tools-${model}` });
  const c = client(key.apiKey);
  const res = await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: TOOLS, tool_choice: 'auto' });
  const call = res.choices[0].message.tool_calls[0];
  assert.equal(res.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), MOCK_TOOL_INPUT);
  assert.ok(call.id);

  const s = await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: TOOLS, stream: true });
  const pieces = [];
  let name = '';
  let id = '';
  let finish = null;
  for await (const ch of s) {
    const ch0 = ch.choices[0];
    if (!ch0) continue;
    for (const tc of ch0.delta.tool_calls || []) {
      assert.equal(tc.index, 0);
      if (tc.id) id = tc.id;
      if (tc.function && tc.function.name) name = tc.function.name;
      if (tc.function && tc.function.arguments) pieces.push(tc.function.arguments);
    }
    if (ch0.finish_reason) finish = ch0.finish_reason;
  }
  assert.equal(name, 'get_weather');
  assert.ok(id);
  assert.deepEqual(pieces, MOCK_TOOL_ARGS_CHUNKS, 'the argument deltas arrive as the upstream streamed them');
  assert.equal(finish, 'tool_calls');

  // the tool result goes back
  const back = await c.chat.completions.create({
    model: model.replace(/mock-tool-get_weather/, 'mock-usage-9').replace(/^gpt-mock-usage-9$/, 'gpt-5'),
    tools: TOOLS,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: call.function.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: 'Sunny, 21 C' },
    ],
  });
  assert.ok(back.choices[0].message.content);
  seen(call);
  assertKeyNotForwarded(st.mock.requests(), key.apiKey);
}

test('tool calls through chat <-> Messages: tool_calls, streamed argument deltas, tool_result back', async () => {
  await toolRoundTrip('mock-tool-get_weather', (call) => {
    const last = st.mock.messageRequests().pop().body;
    assert.equal(last.tools[0].name, 'get_weather');
    assert.deepEqual(last.tools[0].input_schema, TOOLS[0].function.parameters);
    const asst = last.messages[1].content.find((b) => b.type === 'tool_use');
    assert.equal(asst.id, call.id);
    assert.deepEqual(asst.input, MOCK_TOOL_INPUT);
    const result = last.messages[2].content.find((b) => b.type === 'tool_result');
    assert.ok(result, JSON.stringify(last.messages));
    assert.equal(result.tool_use_id, call.id);
    assert.match(JSON.stringify(result.content), /Sunny, 21 C/);
  });
  const first = st.mock.messageRequests()[0].body;
  assert.deepEqual(first.tool_choice, { type: 'auto' });
});

test('tool calls through chat <-> Responses: function_call items, argument deltas, function_call_output back', async () => {
  await toolRoundTrip('gpt-mock-tool-get_weather', (call) => {
    const last = st.mock.responsesRequests().pop().body;
    assert.equal(last.tools[0].name, 'get_weather');
    const fc = last.input.find((i) => i.type === 'function_call');
    assert.equal(fc.call_id, call.id);
    const out = last.input.find((i) => i.type === 'function_call_output');
    assert.ok(out, JSON.stringify(last.input));
    assert.equal(out.call_id, call.id);
    assert.equal(out.output, 'Sunny, 21 C');
  });
});

test('legacy completions: prompt -> one user message, text_completion answer and chunks', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'legacy' });
  const res = await client(key.apiKey).completions.create({ model: 'claude-sonnet-4-5', prompt: 'Say hello.', max_tokens: 20 });
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0].text, MOCK_TEXT);
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.deepEqual(st.mock.messageRequests()[0].body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }]);
  assert.equal(st.mock.messageRequests()[0].body.max_tokens, 20);
  const s = await client(key.apiKey, '/openai/claude/v1').completions.create({ model: 'claude-sonnet-4-5', prompt: 'Say hello.', stream: true });
  let text = '';
  let finish = null;
  for await (const c of s) {
    assert.equal(c.object, 'text_completion');
    text += c.choices[0].text;
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(finish, 'stop');
  const g = await client(key.apiKey, '/api/v1').completions.create({ model: 'gpt-5', prompt: 'Say hello.' });
  assert.equal(g.choices[0].text, MOCK_TEXT);
  assert.equal(st.mock.responsesRequests().length, 1);
  assert.equal((await waitForUsage(st.redis.port, key.id, 3)).requests, 3);
});

test('/openai/claude/v1: chat always on the Claude pool; models list and one model', async () => {
  st.mock.reset();
  const key = await createKey(st.relay, st.token, { name: 'oc' });
  const res = await client(key.apiKey, '/openai/claude/v1').chat.completions.create({ model: 'claude-opus-4-1-20250805', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(res.choices[0].message.content, MOCK_TEXT);
  assert.equal(st.mock.messageRequests().length, 1);
  const list = await client(key.apiKey, '/openai/claude/v1').models.list();
  const ids = list.data.map((m) => m.id);
  assert.ok(ids.includes('claude-opus-4-1-20250805'), ids.join());
  assert.equal(list.data[0].object, 'model');
  assert.equal(list.data[0].owned_by, 'anthropic');
  const one = await client(key.apiKey, '/openai/claude/v1').models.retrieve('claude-opus-4-1-20250805');
  assert.equal(one.id, 'claude-opus-4-1-20250805');
  const miss = await httpRequest(st.relay.url + '/openai/claude/v1/models/nope', { headers: { authorization: `Bearer ${key.apiKey}` } });
  assertOpenAIError(miss, 404);
});

test('refusals in OpenAI shape: bad bodies name the field, 401, 403 by pool (gemini-*: chat-gemini.test.js)', async () => {
  st.mock.reset();
  const key = st.key.apiKey;
  let j = assertOpenAIError(await post('/openai/v1/chat/completions', { model: 'claude-sonnet-4-5' }, key), 400);
  assert.match(j.error.message, /messages/);
  j = assertOpenAIError(await post('/api/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: [] }, key), 400);
  assert.match(j.error.message, /messages/);
  j = assertOpenAIError(await post('/openai/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }, key), 400);
  assert.match(j.error.message, /model/);
  j = assertOpenAIError(await post('/openai/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: [{ role: 'critic', content: 'x' }] }, key), 400);
  assert.match(j.error.message, /messages\[0\]\.role/);
  j = assertOpenAIError(await post('/openai/v1/completions', { model: 'claude-sonnet-4-5' }, key), 400);
  assert.match(j.error.message, /prompt/);
  assert.equal(st.mock.requests().length, 0, 'nothing reached an upstream');

  j = assertOpenAIError(await post('/openai/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, 'cr_' + 'f'.repeat(64)), 401);
  assert.equal(j.error.code, 'invalid_api_key');
  const sdk = await client('cr_bad').chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
  assert.equal(sdk.status, 401);

  const oaiOnly = await createKey(st.relay, st.token, { name: 'oai-only', permissions: ['openai'] });
  j = assertOpenAIError(await post('/openai/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, oaiOnly.apiKey), 403);
  assert.equal(j.error.code, 'permission_denied');
  assert.match(j.error.message, /Claude/);
  const r = await client(oaiOnly.apiKey).chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].message.content, MOCK_TEXT, 'gpt-* needs only openai');
  const claudeOnly = await createKey(st.relay, st.token, { name: 'claude-only', permissions: ['claude'] });
  j = assertOpenAIError(await post('/api/v1/chat/completions', { model: 'gpt-5', messages: [{ role: 'user', content: 'x' }] }, claudeOnly.apiKey), 403);
  assert.match(j.error.message, /OpenAI/);
});

test('upstream 429 / 500 and a broken stream reach the chat client in OpenAI shape', async () => {
  // dedicated failing accounts, each bound to its own key (the good ones stay untouched)
  const rl = await createConsoleAccount(st.relay, st.token, { name: 'rl', apiUrl: `${st.mock.url}/b/error-429`, priority: 90 });
  const e5 = await createConsoleAccount(st.relay, st.token, { name: 'e5', apiUrl: `${st.mock.url}/b/error-500`, priority: 90 });
  const drop = await createConsoleAccount(st.relay, st.token, { name: 'drop', apiUrl: `${st.mock.url}/b/drop-after-4`, priority: 90 });
  const r = await api(st.relay, 'POST', '/admin/openai-responses-accounts', { token: st.token, body: { name: 'oai-429', baseApi: `${st.mock.url}/b/error-429`, apiKey: OAI_KEY, priority: 90 } });
  const body = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] };

  const k1 = await createKey(st.relay, st.token, { name: 'k429', claudeConsoleAccountId: rl.id });
  let j = assertOpenAIError(await post('/openai/v1/chat/completions', body, k1.apiKey), 429);
  assert.equal(j.error.type, 'rate_limit_error');
  assert.equal(j.error.message, 'mock error 429');
  const k2 = await createKey(st.relay, st.token, { name: 'k500', claudeConsoleAccountId: e5.id });
  j = assertOpenAIError(await post('/openai/v1/chat/completions', { ...body, stream: true }, k2.apiKey), 500);
  assert.equal(j.error.type, 'api_error');
  const k3 = await createKey(st.relay, st.token, { name: 'koai429', openaiAccountId: r.json.data.id });
  j = assertOpenAIError(await post('/openai/v1/chat/completions', { model: 'gpt-5', messages: [{ role: 'user', content: 'x' }] }, k3.apiKey), 429);
  assert.equal(j.error.type, 'rate_limit_error');

  const k4 = await createKey(st.relay, st.token, { name: 'kdrop', claudeConsoleAccountId: drop.id });
  const s = await client(k4.apiKey).chat.completions.create({ ...body, stream: true });
  let text = '';
  const err = await (async () => {
    for await (const c of s) if (c.choices[0] && c.choices[0].delta.content) text += c.choices[0].delta.content;
  })().catch((e) => e);
  assert.ok(err instanceof Error, 'the SDK raises the mid-stream error');
  assert.match(String(err.message), /Upstream connection/);
  assert.ok(text.length > 0 && text.length < MOCK_TEXT.length, `partial text: ${text}`);
  const raw = await post('/openai/v1/chat/completions', { ...body, stream: true }, k4.apiKey);
  assert.match(raw.text, /data: \{"error":\{"message":"Upstream connection lost mid-stream"/);
  assert.ok(!raw.text.includes('[DONE]'), 'no fake end');
});

// Relay commands per request over n requests (INFO commandstats minus this process's polls).
async function commandsPerRequest(model, n) {
  const key = await createKey(st.relay, st.token, { name: `cmds-${model}` });
  const send = () => post('/openai/v1/chat/completions', { model, messages: [{ role: 'user', content: 'x' }] }, key.apiKey);
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = (await waitForUsage(st.redis.port, key.id, 2)).requests;
  await sleep(2300); // past one statistics flush: the window holds only these requests' share
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

test('Redis commands per chat request: the conversion adds none (as a native request)', async () => {
  const claude = await commandsPerRequest('claude-sonnet-4-5', 20);
  const gpt = await commandsPerRequest('gpt-5', 20);
  console.log(`chat_redis_commands_per_request: claude=${claude.toFixed(2)} gpt=${gpt.toFixed(2)}`);
  assert.ok(claude <= 8, `${claude} commands per chat request on the Claude pool`);
  assert.ok(gpt <= 8, `${gpt} commands per chat request on the OpenAI pool`);
});

test('failover under a conversion: a 529 account is left, the next gets the same converted body', async () => {
  const bad = await createConsoleAccount(st.relay, st.token, { name: 'first-529', apiUrl: `${st.mock.url}/b/error-529`, priority: 1 });
  try {
    st.mock.reset();
    const key = await createKey(st.relay, st.token, { name: 'failover' });
    const s = await client(key.apiKey).chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Say hello.' }], stream: true });
    let text = '';
    for await (const c of s) if (c.choices[0] && c.choices[0].delta.content) text += c.choices[0].delta.content;
    assert.equal(text, MOCK_TEXT);
    const up = st.mock.messageRequests();
    assert.equal(up.length, 2, 'one attempt on each account');
    assert.equal(up[0].behave, 'error-529');
    assert.equal(up[1].behave, null);
    assert.deepEqual(up[1].body, up[0].body, 'the converted body is sent again as it was');
    assert.equal(up[1].body.stream, true);
    await usageOnce(key.id, COUNTED);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${bad.id}`, { token: st.token });
  }
});

test('a converted stream that ends cleanly before its last event ends with the error chunk, not silently', async () => {
  const key = st.key.apiKey;
  const r = await post('/openai/v1/chat/completions', { model: 'mock-end-after-5', messages: [{ role: 'user', content: 'x' }], stream: true }, key);
  assert.equal(r.status, 200);
  assert.match(r.text, /"content":"Hello"/);
  assert.match(r.text, /data: \{"error":\{"message":"Upstream connection lost mid-stream"/);
  assert.ok(!r.text.includes('[DONE]'), 'no fake end');
  const s = await client(key).chat.completions.create({ model: 'mock-end-after-5', messages: [{ role: 'user', content: 'x' }], stream: true });
  const err = await (async () => {
    for await (const c of s) void c;
  })().catch((e) => e);
  assert.ok(err instanceof Error, 'the SDK raises it');
  // the native route passes the same upstream bytes as they came (no frame added)
  const n = await post('/api/v1/messages', { model: 'mock-end-after-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], stream: true }, key);
  assert.equal(n.status, 200);
  assert.ok(!n.text.includes('event: error'), n.text);
});
