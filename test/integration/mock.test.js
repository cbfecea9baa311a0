'use strict';
// Self-test of the mock upstream and of the test helpers. Runs without the relay binary:
// the official SDK and Claude Code talk to the mock directly.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Anthropic = require('@anthropic-ai/sdk');
const {
  startMockUpstream,
  MOCK_USAGE,
  MOCK_TEXT,
  startRedis,
  httpRequest,
  sseRequest,
  messageBody,
  anthropicErrorProblem,
  runClaude,
  sleep,
} = require('../lib/env');

let mock;
let redis;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
});

after(async () => {
  if (mock) await mock.close();
  if (redis) await redis.stop();
});

function pickUsage(u) {
  return {
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens,
    cache_creation: u.cache_creation && {
      ephemeral_5m_input_tokens: u.cache_creation.ephemeral_5m_input_tokens,
      ephemeral_1h_input_tokens: u.cache_creation.ephemeral_1h_input_tokens,
    },
  };
}

test('standalone mode prints "listening <port>" and serves count_tokens', async () => {
  const proc = spawn(process.execPath, [path.join(__dirname, '..', 'mock', 'upstream.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('no "listening" line')), 5000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    const r = await httpRequest(`http://127.0.0.1:${port}/v1/messages/count_tokens`, { method: 'POST', body: messageBody() });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { input_tokens: 42 });
  } finally {
    proc.kill('SIGTERM');
  }
});

test('SDK messages.create (non-stream) against the mock', async () => {
  mock.reset();
  const client = new Anthropic({ apiKey: 'sk-ant-api03-direct', baseURL: mock.url, maxRetries: 0 });
  const msg = await client.messages.create(messageBody('claude-opus-5-5'));
  assert.equal(msg.type, 'message');
  assert.equal(msg.content[0].text, MOCK_TEXT);
  assert.equal(msg.model, 'claude-opus-5-5');
  assert.match(msg.id, /^msg_mock_/);
  assert.deepEqual(pickUsage(msg.usage), pickUsage(MOCK_USAGE));
  const reqs = mock.requests();
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].method, 'POST');
  assert.equal(reqs[0].path, '/v1/messages');
  assert.equal(reqs[0].body.model, 'claude-opus-5-5');
  assert.ok(reqs[0].headers.authorization || reqs[0].headers['x-api-key'], 'SDK sent a key');
});

test('SDK messages.stream against the mock', async () => {
  const client = new Anthropic({ apiKey: 'x', baseURL: mock.url, maxRetries: 0 });
  const stream = client.messages.stream(messageBody('claude-opus-5-5'));
  let deltas = '';
  stream.on('text', (t) => {
    deltas += t;
  });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, MOCK_TEXT);
  assert.equal(deltas, MOCK_TEXT);
  assert.equal(final.stop_reason, 'end_turn');
  assert.deepEqual(pickUsage(final.usage), pickUsage(MOCK_USAGE));
});

test('SDK countTokens and models.list against the mock', async () => {
  const client = new Anthropic({ apiKey: 'x', baseURL: mock.url, maxRetries: 0 });
  const c = await client.messages.countTokens({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(c.input_tokens, 42);
  const page = await client.models.list();
  assert.ok(page.data.length >= 1);
  assert.equal(page.data[0].type, 'model');
});

test('SSE framing: event order, one usage set, text concatenation, ?beta=true accepted', async () => {
  const r = await sseRequest(`${mock.url}/v1/messages?beta=true`, { body: { ...messageBody(), stream: true } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.ok(r.headers['request-id'].startsWith('req_mock_'));
  const names = r.events.map((e) => e.event);
  assert.deepEqual(names, [
    'message_start',
    'content_block_start',
    'ping',
    'content_block_delta',
    'content_block_delta',
    'content_block_delta',
    'content_block_delta',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
  for (const e of r.events) assert.equal(e.json.type, e.event);
  const start = r.events[0].json.message;
  assert.equal(start.usage.input_tokens, 11);
  assert.equal(start.usage.cache_creation_input_tokens, 7);
  assert.equal(start.usage.cache_read_input_tokens, 5);
  assert.deepEqual(start.usage.cache_creation, { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 });
  const text = r.events.filter((e) => e.event === 'content_block_delta').map((e) => e.json.delta.text).join('');
  assert.equal(text, MOCK_TEXT);
  const md = r.events.find((e) => e.event === 'message_delta').json;
  assert.equal(md.usage.output_tokens, 13);
  assert.equal(md.delta.stop_reason, 'end_turn');
});

test('mock-error-<status> answers with Anthropic error JSON', async () => {
  const want = { 400: 'invalid_request_error', 401: 'authentication_error', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };
  for (const [status, type] of Object.entries(want)) {
    for (const stream of [false, true]) {
      const r = await httpRequest(`${mock.url}/v1/messages`, { method: 'POST', body: messageBody(`mock-error-${status}`, { stream }) });
      assert.equal(r.status, Number(status));
      assert.equal(anthropicErrorProblem(r.json), null);
      assert.deepEqual(r.json, { type: 'error', error: { type, message: `mock error ${status}` } });
      if (status === '429') assert.equal(r.headers['retry-after'], '7');
    }
  }
});

test('mock-slow-chunks-5-200 streams deltas 200 ms apart', async () => {
  const r = await sseRequest(`${mock.url}/v1/messages`, { body: { ...messageBody('mock-slow-chunks-5-200'), stream: true } });
  const deltas = r.events.filter((e) => e.event === 'content_block_delta');
  assert.equal(deltas.length, 5);
  const last = r.events[r.events.length - 1];
  assert.equal(last.event, 'message_stop');
  assert.ok(last.at - deltas[0].at >= 600, `first delta at ${deltas[0].at}, last event at ${last.at}`);
  assert.ok(r.events[0].at < 150, `message_start at ${r.events[0].at} ms`);
  assert.equal(r.events.find((e) => e.event === 'message_delta').json.usage.output_tokens, 5);
});

test('mock-slow-first-byte-300 delays the headers', async () => {
  const t0 = Date.now();
  const r = await httpRequest(`${mock.url}/v1/messages`, { method: 'POST', body: messageBody('mock-slow-first-byte-300') });
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 >= 280);
  assert.equal(r.json.content[0].text, MOCK_TEXT);
});

test('mock-drop-after-3 sends 3 events then kills the connection', async () => {
  const before = mock.aborted;
  const r = await sseRequest(`${mock.url}/v1/messages`, { body: { ...messageBody('mock-drop-after-3'), stream: true } });
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.events.map((e) => e.event),
    ['message_start', 'content_block_start', 'ping'],
  );
  assert.ok(r.error, 'client saw the connection die');
  assert.equal(r.complete, false);
  assert.equal(mock.aborted, before, 'a self-inflicted drop is not a client abort');
});

test('mock-hang and mock-slow-chunks record the client abort time', async () => {
  mock.reset();
  // hang: abort after 200 ms
  const req = http.request(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false });
  req.on('error', () => {});
  req.end(JSON.stringify(messageBody('mock-hang')));
  await sleep(200);
  const t0 = Date.now();
  req.destroy();
  const ab = await mock.waitForAbort((a) => a.model === 'mock-hang', 2000);
  assert.ok(ab.closedAt - t0 < 300, `closed ${ab.closedAt - t0} ms after abort`);
  assert.equal(ab.headersSent, false);

  // slow chunks: abort after the first delta
  let abortAt = 0;
  const r = await sseRequest(`${mock.url}/v1/messages`, {
    body: { ...messageBody('mock-slow-chunks-50-100'), stream: true },
    onEvent: (ev, ctl) => {
      if (ev.event === 'content_block_delta') {
        abortAt = Date.now();
        ctl.abort();
      }
    },
  });
  assert.equal(r.aborted, true);
  const ab2 = await mock.waitForAbort((a) => a.model === 'mock-slow-chunks-50-100', 2000);
  assert.ok(ab2.closedAt - abortAt < 300);
  assert.equal(ab2.headersSent, true);

  const viaHttp = await httpRequest(`${mock.url}/__mock/aborts`);
  assert.equal(viaHttp.json.length, 2);
  assert.equal(mock.aborted, 2);
});

test('mock-big-<bytes> returns a text of that size', async () => {
  const r = await httpRequest(`${mock.url}/v1/messages`, { method: 'POST', body: messageBody('mock-big-3000000') });
  assert.equal(r.status, 200);
  assert.equal(r.json.content[0].text.length, 3000000);
});

test('control endpoints list and clear recorded requests', async () => {
  mock.reset();
  const sent = messageBody('claude-sonnet-4-5', { metadata: { user_id: 'u' } }); // each body differs
  await httpRequest(`${mock.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'x-api-key': 'k1', 'anthropic-beta': 'b1' },
    body: sent,
  });
  const list = await httpRequest(`${mock.url}/__mock/requests`);
  assert.equal(list.status, 200);
  assert.equal(list.json.length, 1);
  assert.equal(list.json[0].url, '/v1/messages?beta=true');
  assert.equal(list.json[0].headers['x-api-key'], 'k1');
  assert.equal(list.json[0].headers['anthropic-beta'], 'b1');
  assert.deepEqual(list.json[0].body, sent);
  const del = await httpRequest(`${mock.url}/__mock/requests`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(mock.requests().length, 0);
  const nf = await httpRequest(`${mock.url}/nope`);
  assert.equal(nf.status, 404);
  const bad = await httpRequest(`${mock.url}/v1/messages`, { method: 'POST', body: 'not json' });
  assert.equal(bad.status, 400);
});

test('1,000 concurrent slow streams against the mock all complete', async () => {
  mock.reset();
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const N = 1000;
  const t0 = Date.now();
  const results = await Promise.all(
    Array.from({ length: N }, () => sseRequest(`${mock.url}/v1/messages`, { body: { ...messageBody('mock-slow-chunks-20-100'), stream: true }, agent, timeout: 30000 })),
  );
  const ok = results.filter(
    (r) => r.status === 200 && !r.error && r.events.filter((e) => e.event === 'content_block_delta').length === 20 && r.events.some((e) => e.event === 'message_stop'),
  ).length;
  agent.destroy();
  assert.equal(ok, N, `ok=${ok}, first error: ${results.find((r) => r.error)?.error?.message}`);
  assert.ok(Date.now() - t0 < 15000);
});

test('test helpers: startRedis, RESP client, dump, commandstats', async () => {
  redis = await startRedis();
  assert.equal(await redis.cli('ping'), 'PONG');
  await redis.cmd('HSET', 'h:1', 'a', '1', 'b', 'two words');
  await redis.cmd('SET', 's:1', 'v\r\nwith crlf');
  await redis.cmd('RPUSH', 'l:1', 'x', 'y');
  await redis.cmd('ZADD', 'z:1', 1, 'm');
  await redis.cmd('SADD', 'set:1', 'q');
  const d = await redis.dump();
  assert.deepEqual(d['h:1'], { type: 'hash', value: { a: '1', b: 'two words' } });
  assert.deepEqual(d['s:1'], { type: 'string', value: 'v\r\nwith crlf' });
  assert.deepEqual(d['l:1'], { type: 'list', value: ['x', 'y'] });
  assert.deepEqual(d['z:1'], { type: 'zset', value: ['m', '1'] });
  assert.deepEqual(d['set:1'], { type: 'set', value: ['q'] });
  const c1 = await redis.commandCalls();
  await redis.cmd('GET', 's:1');
  await redis.cmd('GET', 's:1');
  const c2 = await redis.commandCalls();
  assert.equal(c2.total - c1.total, 2);
  await redis.stop();
  redis = null;
});

test('Claude Code CLI against the mock directly (API key and auth token)', { timeout: 200000 }, async () => {
  for (const variant of ['apiKey', 'authToken']) {
    mock.reset();
    const r = await runClaude({ baseUrl: mock.url, [variant]: 'sk-ant-api03-direct-to-mock', prompt: 'say hi' });
    assert.equal(r.timedOut, false, `claude timed out; stderr: ${r.stderr.slice(-2000)}`);
    assert.equal(r.code, 0, `claude exited ${r.code}; stdout: ${r.stdout.slice(-2000)} stderr: ${r.stderr.slice(-2000)}`);
    assert.ok(r.json, `no JSON on stdout: ${r.stdout.slice(-2000)}`);
    assert.ok(String(r.json.result).includes(MOCK_TEXT), `result: ${JSON.stringify(r.json).slice(0, 2000)}`);
    const streams = mock.requests().filter((q) => q.path === '/v1/messages' && q.body && q.body.stream === true);
    assert.ok(streams.length >= 1, 'claude sent a stream request');
    if (variant === 'apiKey') assert.equal(streams[0].headers['x-api-key'], 'sk-ant-api03-direct-to-mock');
    else assert.equal(streams[0].headers.authorization, 'Bearer sk-ant-api03-direct-to-mock');
  }
});

test('mock /v1/responses speaks OpenAI Responses to the openai SDK (JSON, stream with usage, errors)', async () => {
  const OpenAI = require('openai');
  const { OAI_USAGE } = require('../mock/upstream');
  const c = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.url + '/v1', maxRetries: 0 });
  const r = await c.responses.create({ model: 'gpt-5', input: 'hi' });
  assert.equal(r.output_text, MOCK_TEXT);
  assert.deepEqual(r.usage, OAI_USAGE);
  const types = [];
  let done;
  for await (const ev of await c.responses.create({ model: 'gpt-5', input: 'hi', stream: true })) {
    types.push(ev.type);
    if (ev.type === 'response.completed') done = ev.response;
  }
  assert.deepEqual(types, [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    ...Array(5).fill('response.output_text.delta'),
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  assert.deepEqual(done.usage, OAI_USAGE);
  const limited = new OpenAI({ apiKey: 'sk-mock', baseURL: mock.url + '/b/ratelimit-90/v1', maxRetries: 0 });
  await assert.rejects(limited.responses.create({ model: 'gpt-5', input: 'hi' }), (e) => e.status === 429 && e.error.resets_in_seconds === 90);
});
