'use strict';
// Token usage counted per key in Redis (hash api_key_usage:<keyId>).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, createKey, messageBody, waitForUsage, keyUsage, MOCK_COUNTED, sleep } = require('../lib/env');

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

async function freshKey(name) {
  return createKey(st.relay, st.token, { name });
}

test('one non-stream request is counted exactly', async () => {
  const k = await freshKey('usage-nonstream');
  const r = await st.send(messageBody('claude-sonnet-4-5'), { key: k.apiKey });
  assert.equal(r.status, 200, r.text);
  const u = await waitForUsage(st.redis.port, k.id, 1);
  assert.deepEqual(u, { ...MOCK_COUNTED });
  await sleep(200);
  assert.equal((await keyUsage(st.redis.port, k.id)).requests, 1, 'counted once');
});

test('one stream request is counted exactly', async () => {
  const k = await freshKey('usage-stream');
  const r = await st.stream(messageBody('claude-sonnet-4-5'), { key: k.apiKey });
  assert.equal(r.status, 200);
  assert.equal(r.events[r.events.length - 1].event, 'message_stop');
  const u = await waitForUsage(st.redis.port, k.id, 1);
  assert.deepEqual(u, { ...MOCK_COUNTED });
  await sleep(200);
  assert.equal((await keyUsage(st.redis.port, k.id)).requests, 1, 'counted once');
});

test('stream output tokens come from message_delta', async () => {
  const k = await freshKey('usage-slow');
  const r = await st.stream(messageBody('mock-slow-chunks-4-20'), { key: k.apiKey });
  assert.equal(r.status, 200);
  const u = await waitForUsage(st.redis.port, k.id, 1);
  assert.deepEqual(u, { ...MOCK_COUNTED, outputTokens: 4, allTokens: 11 + 4 + 7 + 5 });
});

test('usage accumulates over requests, routes, auth styles and stream modes', async () => {
  const k = await freshKey('usage-sum');
  const a = await st.send(messageBody(), { key: k.apiKey, path: '/api/v1/messages' });
  const b = await st.send(messageBody(), { key: null, headers: { authorization: `Bearer ${k.apiKey}` }, path: '/v1/messages?beta=true' });
  const c = await st.stream(messageBody(), { key: k.apiKey, path: '/claude/v1/messages' });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(c.status, 200);
  const u = await waitForUsage(st.redis.port, k.id, 3);
  const want = {};
  for (const [f, v] of Object.entries(MOCK_COUNTED)) want[f] = v * 3;
  assert.deepEqual(u, want);
});

test('usage of different keys is kept apart', async () => {
  const k1 = await freshKey('usage-a');
  const k2 = await freshKey('usage-b');
  await st.send(messageBody(), { key: k1.apiKey });
  await st.send(messageBody(), { key: k1.apiKey });
  await st.send(messageBody(), { key: k2.apiKey });
  const u1 = await waitForUsage(st.redis.port, k1.id, 2);
  const u2 = await waitForUsage(st.redis.port, k2.id, 1);
  assert.equal(u1.requests, 2);
  assert.equal(u1.inputTokens, 22);
  assert.equal(u2.requests, 1);
  assert.equal(u2.allTokens, 36);
});

test('script cache flushed (restart, fail-over): auth and usage keep working, counted once', async () => {
  const { RespClient } = require('../lib/env');
  const k = await freshKey('usage-noscript');
  const redis = await new RespClient(st.redis.port).connect();
  try {
    await redis.cmd('SCRIPT', 'FLUSH');
  } finally {
    redis.close();
  }
  // Concurrent requests so several usages share one pipelined round trip, all hitting NOSCRIPT.
  const N = 40;
  const rs = await Promise.all(Array.from({ length: N }, () => st.send(messageBody(), { key: k.apiKey })));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const u = await waitForUsage(st.redis.port, k.id, N, 5000);
  const want = {};
  for (const [f, v] of Object.entries(MOCK_COUNTED)) want[f] = v * N;
  assert.deepEqual(u, want);
  await sleep(300);
  assert.equal((await keyUsage(st.redis.port, k.id)).requests, N, 'each usage counted once');
});
