'use strict';
// The concurrency wait queue (CONCURRENT_REQUEST_QUEUE_*): over its key's limit a request waits
// for a slot, first come first served; times out with 429; leaves at once when its client hangs
// up; a full line and an overloaded one refuse at once; stats and wait percentiles in Redis.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, createKey, messageBody, anthropicErrorProblem, waitFor, redisCmd, httpRequest, sleep } = require('../lib/env');

let st;
before(async () => {
  st = await stack({
    relayEnv: {
      CONCURRENT_REQUEST_QUEUE_ENABLED: 'true',
      CONCURRENT_REQUEST_QUEUE_MAX_SIZE: '4',
      CONCURRENT_REQUEST_QUEUE_TIMEOUT_MS: '1500',
    },
  });
});
after(async () => {
  if (st) await st.teardown();
});

const redis = (...args) => redisCmd(st.redis.port, ...args);

async function stats(id) {
  const arr = await redis('HGETALL', `concurrency:queue:stats:${id}`);
  const o = {};
  for (let i = 0; i < arr.length; i += 2) o[arr[i]] = Number(arr[i + 1]);
  return o;
}

function send(key, model = 'claude-sonnet-4-5', timeout = 30000) {
  return httpRequest(`${st.relay.url}/api/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' },
    body: messageBody(model),
    timeout,
  });
}

// Starts a request that holds the key's one slot; resolves (with {done}) once it holds it.
async function holder(key, model) {
  const done = send(key, model);
  await waitFor(async () => Number(await redis('ZCARD', `concurrency:${key.id}`)) === 1, { what: 'slot held' });
  return { done };
}

const waiting = async (id) => Number((await redis('GET', `concurrency:queue:${id}`)) || 0);

test('FIFO: queued requests get the slot in the order they came, each 200', async () => {
  const key = await createKey(st.relay, st.token, { name: 'fifo', concurrencyLimit: 1 });
  const { done: first } = await holder(key, 'mock-slow-chunks-4-100');
  const order = [];
  const queued = [];
  for (const name of ['B', 'C', 'D']) {
    queued.push(send(key).then((r) => (order.push(name), r)));
    await waitFor(async () => (await waiting(key.id)) === queued.length, { what: `${name} queued` });
  }
  assert.equal((await first).status, 200);
  const rs = await Promise.all(queued);
  for (const r of rs) assert.equal(r.status, 200, r.text);
  assert.deepEqual(order, ['B', 'C', 'D']);
  const s = await stats(key.id);
  assert.equal(s.entered, 3);
  assert.equal(s.success, 3);
  assert.ok(s.p50 > 0 && s.p90 >= s.p50 && s.p99 >= s.p90, JSON.stringify(s));
  assert.equal(await waiting(key.id), 0);
  assert.equal(Number(await redis('LLEN', `concurrency:queue:wait_times:${key.id}`)), 3);
});

test('timeout: a request that waits past CONCURRENT_REQUEST_QUEUE_TIMEOUT_MS gets 429 Queue timeout', async () => {
  const key = await createKey(st.relay, st.token, { name: 'timeout', concurrencyLimit: 1 });
  const { done: first } = await holder(key, 'mock-slow-chunks-25-100');
  const t0 = Date.now();
  const r = await send(key);
  const waited = Date.now() - t0;
  assert.equal(r.status, 429, r.text);
  assert.equal(anthropicErrorProblem(r.json), null, r.text);
  assert.equal(r.json.error.code, 'queue_timeout');
  assert.match(r.json.error.message, /^Request timed out waiting for concurrency slot\. Limit: 1 concurrent requests/);
  assert.ok(waited >= 1400 && waited < 4000, `waited ${waited} ms`);
  assert.ok(Number(r.headers['retry-after']) >= 5);
  assert.equal((await stats(key.id)).timeout, 1);
  assert.equal((await first).status, 200);
});

test('cancel: a waiting client that disconnects leaves the queue at once', async () => {
  const key = await createKey(st.relay, st.token, { name: 'cancel', concurrencyLimit: 1 });
  const { done: first } = await holder(key, 'mock-slow-chunks-12-100');
  await assert.rejects(send(key, 'claude-sonnet-4-5', 300));
  await waitFor(async () => (await stats(key.id)).cancelled === 1, { timeout: 2000, what: 'cancelled counted' });
  assert.equal(await waiting(key.id), 0);
  assert.equal((await first).status, 200);
  await waitFor(async () => (await httpRequest(`${st.relay.url}/health`)).json.components.upstream.transactions === 0, { what: 'no transaction left' });
});

test('full line: beyond CONCURRENT_REQUEST_QUEUE_MAX_SIZE → 429 Concurrency queue full at once', async () => {
  const key = await createKey(st.relay, st.token, { name: 'full', concurrencyLimit: 1 });
  const { done: first } = await holder(key, 'mock-slow-chunks-8-100');
  const queued = [];
  for (let i = 0; i < 4; i++) {
    queued.push(send(key));
    await waitFor(async () => (await waiting(key.id)) === i + 1, { what: `waiter ${i}` });
  }
  const t0 = Date.now();
  const r = await send(key);
  assert.ok(Date.now() - t0 < 500, 'refused at once');
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'concurrency_queue_full');
  assert.match(r.json.error.message, /queue: 4\/4/);
  await first;
  await Promise.all(queued);
});

test('overload: when the p90 of recent waits is over the threshold the queue refuses at once', async () => {
  const key = await createKey(st.relay, st.token, { name: 'overload', concurrencyLimit: 1 });
  for (let i = 0; i < 10; i++) await redis('LPUSH', `concurrency:queue:wait_times:${key.id}`, '5000');
  const { done: first } = await holder(key, 'mock-slow-chunks-8-100');
  const queued = [];
  for (let i = 0; i < 3; i++) {
    queued.push(send(key));
    await waitFor(async () => (await waiting(key.id)) === i + 1, { what: `waiter ${i}` });
  }
  const r = await send(key);
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'queue_overloaded');
  assert.match(r.json.error.message, /Estimated wait time \(5000ms\)/);
  assert.equal(r.headers['retry-after'], '30');
  assert.equal((await stats(key.id)).rejected_overload, 1);
  await first;
  await Promise.all(queued);
  await sleep(50);
});
