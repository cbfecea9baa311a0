'use strict';
// The user message queue (USER_MESSAGE_QUEUE_*, crs-relay-spec 8): new user turns go to an
// account one at a time, each at least the delay after the previous one's answer; tool-result
// continuations and count_tokens never queue; a wait past the timeout is a 503 queue_timeout;
// a client that hangs up while waiting leaves nothing behind; with the queue off (and no account
// switched on) Redis never hears of user_msg_queue_* keys; an account's userMessageQueue turns it
// on for that account alone; a failover queues on the next account.
//
// Relay A runs with the queue on; relay B, on the same Redis, with it off.

const net = require('node:net');
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, startRelay, login, api, createKey, createConsoleAccount, messageBody, waitFor, redisCmd, httpRequest, sleep, assertReleased } = require('../lib/env');

const DELAY = 400;
const TIMEOUT = 3000;
const DELAY_B = 300;

let st;
let relayB;
let tokenB;
before(async () => {
  st = await stack({
    relayEnv: {
      USER_MESSAGE_QUEUE_ENABLED: 'true',
      USER_MESSAGE_QUEUE_DELAY_MS: String(DELAY),
      USER_MESSAGE_QUEUE_TIMEOUT_MS: String(TIMEOUT),
    },
  });
  const shared = { ENCRYPTION_KEY: st.relay.env.ENCRYPTION_KEY, JWT_SECRET: st.relay.env.JWT_SECRET };
  relayB = await startRelay({ redisPort: st.redis.port, env: { ...shared, USER_MESSAGE_QUEUE_DELAY_MS: String(DELAY_B) } });
  tokenB = await login(relayB);
});
after(async () => {
  if (relayB) {
    await relayB.stop();
    const rep = relayB.sanitizerReport();
    assert.equal(rep, null, rep || '');
  }
  if (st) await st.teardown();
});

const redis = (...args) => redisCmd(st.redis.port, ...args);
const lockKey = (id) => `user_msg_queue_lock:${id}`;
const lastKey = (id) => `user_msg_queue_last:${id}`;

let seq = 0;
// A user turn with a prompt of its own, so the mock's record of it can be found.
function turn(model = 'claude-sonnet-4-5') {
  const tag = `umq-${process.pid}-${++seq}`;
  return { tag, body: messageBody(model, { messages: [{ role: 'user', content: `prompt ${tag}` }] }) };
}

function upstreamArrival(tag) {
  const r = st.mock.requests().find((x) => x.path === '/v1/messages' && JSON.stringify(x.body || {}).includes(tag));
  return r ? r.receivedAt : undefined;
}

function send(relay, body, { key = st.key, path = '/api/v1/messages', timeout = 30000 } = {}) {
  return httpRequest(relay.url + path, {
    method: 'POST',
    headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' },
    body,
    timeout,
  });
}

async function heldBy(id) {
  return waitFor(async () => redis('GET', lockKey(id)), { timeout: 5000, what: `the turn of account ${id} held` });
}


async function turnsWaiting(relay, n) {
  await waitFor(async () => (await httpRequest(`${relay.url}/health`)).json.components.upstream.userTurnsWaiting === n, { timeout: 5000, what: `${n} user turn(s) waiting` });
}

// Every command Redis runs (scripts' commands included) while fn runs.
async function monitored(fn) {
  const sock = net.connect(st.redis.port, '127.0.0.1');
  let text = '';
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.on('data', (d) => {
      text += d;
      if (text.startsWith('+OK')) resolve();
    });
    sock.write('MONITOR\r\n');
  });
  try {
    await fn();
    await sleep(300); // the release and accounting jobs run after the answer
    return text;
  } finally {
    sock.destroy();
  }
}

test('two user turns on one account are serialised: the second reaches the upstream at least the delay after the first was answered', async () => {
  const HOLD = 800;
  const a = turn(`mock-slow-first-byte-${HOLD}`);
  const b = turn();
  const first = send(st.relay, a.body);
  const owner = await heldBy(st.account.id);
  const second = send(st.relay, b.body);
  const [r1, r2] = await Promise.all([first, second]);
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r2.status, 200, r2.text);
  const at1 = upstreamArrival(a.tag);
  const at2 = upstreamArrival(b.tag);
  assert.ok(at1 && at2, 'both reached the upstream');
  const answered1 = at1 + HOLD; // the mock answers HOLD ms after it got the request
  assert.ok(at2 > answered1, `the second arrived (${at2}) after the first's answer (${answered1})`);
  assert.ok(at2 - answered1 >= DELAY - 5, `gap ${at2 - answered1} ms >= delay ${DELAY} ms`);
  assert.match(owner, /^[0-9a-f]+-/, 'the lock holds its owner (instance-request id)');
  await waitFor(async () => (await redis('EXISTS', lockKey(st.account.id))) === 0, { what: 'lock gone' });
  const last = Number(await redis('GET', lastKey(st.account.id)));
  assert.ok(last >= at2 && last <= Date.now(), `last release stamped (${last})`);
  const ttl = await redis('TTL', lastKey(st.account.id));
  assert.ok(ttl > 0 && ttl <= 60, `last expires (${ttl} s)`);
  await assertReleased(st.relay);
});

// No text, so no sticky session: such a request runs its first steps on the I/O thread, and hops
// to a worker before its turn is taken.
function imageTurn(model = 'claude-sonnet-4-5') {
  const tag = `umq-${process.pid}-${++seq}`;
  const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: Buffer.from(tag).toString('base64') } };
  return { tag: Buffer.from(tag).toString('base64'), body: messageBody(model, { messages: [{ role: 'user', content: [image] }] }) };
}

test('user turns that take the I/O-thread fast path (no session) are serialised too', async () => {
  await sleep(DELAY);
  const HOLD = 600;
  const a = imageTurn(`mock-slow-first-byte-${HOLD}`);
  const b = imageTurn();
  const first = send(st.relay, a.body);
  await heldBy(st.account.id);
  const [r1, r2] = await Promise.all([first, send(st.relay, b.body)]);
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r2.status, 200, r2.text);
  const gap = upstreamArrival(b.tag) - (upstreamArrival(a.tag) + HOLD);
  assert.ok(gap >= DELAY - 5, `gap ${gap} ms >= delay ${DELAY} ms`);
  await waitFor(async () => (await redis('EXISTS', lockKey(st.account.id))) === 0, { what: 'lock gone' });
  await assertReleased(st.relay);
});

test('a stream is released at its 2xx headers: the next turn starts while the stream still runs', async () => {
  const a = turn('mock-slow-chunks-30-150'); // headers at once, then 4.5 s of events
  const b = turn();
  const first = st.stream(a.body);
  await waitFor(async () => upstreamArrival(a.tag), { what: 'the stream reached the upstream' });
  const second = send(st.relay, b.body);
  const r2 = await second;
  assert.equal(r2.status, 200, r2.text);
  const r1 = await first;
  assert.equal(r1.status, 200);
  const at2 = upstreamArrival(b.tag);
  assert.ok(at2 < r1.endedAt, 'the second reached the upstream before the stream ended');
  assert.ok(at2 - upstreamArrival(a.tag) >= DELAY - 5, 'and still the delay after the first');
  await assertReleased(st.relay);
});

test('tool-result continuations and count_tokens do not queue', async () => {
  const hold = turn('mock-slow-first-byte-4000');
  const first = send(st.relay, hold.body);
  const owner = await heldBy(st.account.id);
  const r = await send(st.relay, continuation());
  assert.equal(r.status, 200, r.text);
  const c = await send(st.relay, turn().body, { path: '/api/v1/messages/count_tokens' });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.input_tokens, 42);
  assert.equal(await redis('GET', lockKey(st.account.id)), owner, 'answered while the first still held the turn');
  assert.equal((await first).status, 200);
  await assertReleased(st.relay);
});

test('a wait past USER_MESSAGE_QUEUE_TIMEOUT_MS answers 503 queue_timeout (JSON and stream)', async () => {
  const first = send(st.relay, turn(`mock-slow-first-byte-${TIMEOUT + 3000}`).body);
  await heldBy(st.account.id);
  const t0 = Date.now();
  const [r, s] = await Promise.all([send(st.relay, turn().body), st.stream(turn().body)]);
  const waited = Date.now() - t0;
  const want = { type: 'error', error: { type: 'queue_timeout', code: 'QUEUE_TIMEOUT', message: 'User message queue wait timeout, please retry later' } };
  assert.equal(r.status, 503, r.text);
  assert.equal(r.headers['x-user-message-queue-error'], 'queue_timeout');
  assert.deepEqual(r.json, want);
  assert.equal(s.status, 503);
  assert.equal(s.headers['x-user-message-queue-error'], 'queue_timeout');
  assert.match(s.headers['content-type'], /application\/json/);
  assert.deepEqual(JSON.parse(s.text), want);
  assert.ok(waited >= TIMEOUT - 100, `waited ${waited} ms`);
  assert.equal((await first).status, 200);
  await assertReleased(st.relay);
});

test('Redis refusing the turn answers 500 queue_backend_error and sends nothing upstream', async () => {
  const b = imageTurn(); // no session: no sticky-session write before the turn
  await redis('CONFIG', 'SET', 'maxmemory', '1'); // every write refused (noeviction)
  let r;
  try {
    r = await send(st.relay, b.body);
  } finally {
    await redis('CONFIG', 'SET', 'maxmemory', '0');
  }
  assert.equal(r.status, 500, r.text);
  assert.deepEqual(r.json, {
    type: 'error',
    error: { type: 'queue_backend_error', code: 'QUEUE_BACKEND_ERROR', message: 'Queue service temporarily unavailable, please retry later' },
  });
  assert.equal(upstreamArrival(b.tag), undefined);
  await assertReleased(st.relay);
});

test('a client that hangs up while waiting leaves no lock, no transaction and never reaches the upstream', async () => {
  const first = send(st.relay, turn('mock-slow-first-byte-1500').body);
  await heldBy(st.account.id);
  const gone = turn();
  const aborted = send(st.relay, gone.body, { timeout: 600 });
  await turnsWaiting(st.relay, 1);
  await assert.rejects(aborted);
  assert.equal((await first).status, 200);
  await waitFor(async () => (await redis('EXISTS', lockKey(st.account.id))) === 0, { what: 'lock gone' });
  await assertReleased(st.relay);
  await sleep(DELAY + 200);
  assert.equal(upstreamArrival(gone.tag), undefined, 'the abandoned turn was never sent');
  assert.equal(await redis('EXISTS', lockKey(st.account.id)), 0);
});

test('a failover gives the failed account its turn back and queues on the next one', async () => {
  const F = await createConsoleAccount(st.relay, st.token, { name: 'umq-fails', apiUrl: `${st.mock.url}/b/error-500`, priority: 1 });
  try {
    const r = await send(st.relay, turn().body);
    assert.equal(r.status, 200, r.text);
    await waitFor(async () => (await redis('EXISTS', lockKey(F.id), lockKey(st.account.id))) === 0, { what: 'both locks gone' });
    assert.ok(Number(await redis('GET', lastKey(F.id))) > 0, 'the failed account took its turn and gave it back');
    assert.ok(Number(await redis('GET', lastKey(st.account.id))) > 0, 'the next account took its own');
    await assertReleased(st.relay);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${F.id}`, { token: st.token });
  }
});

function continuation(model = 'claude-sonnet-4-5') {
  return {
    model,
    max_tokens: 64,
    messages: [
      { role: 'user', content: `what is 6*7 (${++seq})` },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'calc', input: { q: '6*7' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '42' }] },
    ],
  };
}

test('an account found full at the attempt (maxConcurrentTasks) gives its turn back before the next account', async () => {
  const A = await createConsoleAccount(st.relay, st.token, { name: 'umq-full', apiUrl: `${st.mock.url}/b/slow-first-byte-2000`, priority: 1, maxConcurrentTasks: 1 });
  try {
    // Relay B takes A's only slot (so relay A's own in-flight count does not skip A).
    await waitFor(async () => (await api(relayB, 'GET', '/admin/claude-console-accounts', { token: tokenB })).json.data.some((a) => a.id === A.id), { what: 'relay B sees A' });
    const holder = send(relayB, continuation());
    await waitFor(async () => Number(await redis('ZCARD', `concurrency:${A.id}`)) === 1, { what: "A's slot taken" });
    const r = await send(st.relay, turn().body); // takes A's turn, finds A full, goes to the other account
    assert.equal(r.status, 200, r.text);
    assert.equal(Number(await redis('EXISTS', lockKey(A.id))), 0, "A's turn given back while A is still busy");
    assert.equal((await holder).status, 200);
    await assertReleased(st.relay);
  } finally {
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${A.id}`, { token: st.token });
  }
});

test('an account that begins cooling while a user turn waits for it: the turn is scheduled on another account', async () => {
  const KEY2 = 'sk-ant-api03-mock-upstream-key-0002';
  const S2 = await createConsoleAccount(st.relay, st.token, { name: 'umq-second', apiUrl: st.mock.url, apiKey: KEY2, priority: 100 });
  const bound = await createKey(st.relay, st.token, { name: 'umq-dedicated', claudeConsoleAccountId: st.account.id });
  try {
    await sleep(DELAY);
    const first = send(st.relay, turn('mock-slow-first-byte-2500').body);
    await heldBy(st.account.id);
    const w = turn();
    const waiting = send(st.relay, w.body);
    await turnsWaiting(st.relay, 1);
    const c = await send(st.relay, continuation('mock-error-429'), { key: bound }); // not queued
    assert.equal(c.status, 429, c.text);
    const r = await waiting;
    assert.equal(r.status, 200, r.text);
    const rec = st.mock.requests().find((x) => x.path === '/v1/messages' && JSON.stringify(x.body || {}).includes(w.tag));
    assert.equal(rec.headers['x-api-key'], KEY2, 'answered by the other account');
    assert.match(st.relay.logs(), /began cooling while a user turn waited: scheduling again/);
    assert.equal((await first).status, 200);
    await waitFor(async () => (await redis('EXISTS', lockKey(st.account.id), lockKey(S2.id))) === 0, { what: 'locks gone' });
    await assertReleased(st.relay);
  } finally {
    await api(st.relay, 'POST', `/admin/claude-console-accounts/${st.account.id}/reset-status`, { token: st.token });
    await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${S2.id}`, { token: st.token });
  }
});

test('with the queue off no user_msg_queue_* key is touched; with it on, it is', async () => {
  await waitFor(async () => (await send(relayB, turn().body)).status === 200, { what: 'relay B serves' });
  const off = await monitored(async () => {
    for (const body of [turn().body, { ...turn().body, stream: true }]) {
      const r = await send(relayB, body);
      assert.equal(r.status, 200, r.text);
    }
    assert.equal((await send(relayB, turn().body, { path: '/api/v1/messages/count_tokens' })).status, 200);
  });
  assert.ok(off.includes('usage'), 'the monitor saw the relay (accounting)');
  assert.ok(!off.includes('user_msg_queue'), 'relay B (queue off) never touched the queue keys');
  const on = await monitored(async () => assert.equal((await send(st.relay, turn().body)).status, 200));
  assert.ok(on.includes(`user_msg_queue_lock:${st.account.id}`), 'relay A (queue on) did');
});

// Commands naming the queue's keys while one request runs (MONITOR shows scripts' commands too;
// the usage statistics flush every 2 s would make a commandstats diff noisy).
async function queueCommandsOf(relay, body = turn().body, path = '/api/v1/messages') {
  const text = await monitored(async () => assert.equal((await send(relay, body, { path })).status, 200));
  return text.split('\n').filter((l) => l.includes('user_msg_queue_'));
}

test('cost: a queued user turn adds 7 Redis commands in 2 round trips (acquire EVALSHA+MGET+SET, release EVALSHA+GET+DEL+SET); printed', async () => {
  await sleep(DELAY + 100); // no delay left from an earlier turn: no poll
  const plain = await queueCommandsOf(relayB);
  const queued = await queueCommandsOf(st.relay);
  const names = queued.map((l) => (/\] "([A-Z]+)"/.exec(l) || [])[1]);
  console.log(`usermsg_queue: commands_per_request off=${plain.length} on=${queued.length} (${names.join(' ')})`);
  assert.equal(plain.length, 0);
  assert.equal((await queueCommandsOf(st.relay, continuation())).length, 0, 'a continuation costs nothing');
  assert.equal((await queueCommandsOf(st.relay, turn().body, '/api/v1/messages/count_tokens')).length, 0, 'count_tokens neither');
  assert.deepEqual(names, ['EVALSHA', 'MGET', 'SET', 'EVALSHA', 'GET', 'DEL', 'SET']);
});

test("an account's userMessageQueue turns the queue on for it alone (relay B, queue off); the field is validated", async () => {
  const bad = await api(relayB, 'POST', '/admin/claude-console-accounts', {
    token: tokenB,
    body: { name: 'umq-bad', apiUrl: st.mock.url, apiKey: 'sk-ant-x', userMessageQueue: 'yes' },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /userMessageQueue must be a boolean/);
  const C = await createConsoleAccount(relayB, tokenB, { name: 'umq-switch', apiUrl: st.mock.url, userMessageQueue: true });
  try {
    assert.equal(C.data.userMessageQueue, true);
    const key = await createKey(relayB, tokenB, { name: 'umq-bound', claudeConsoleAccountId: C.id });
    const HOLD = 600;
    const a = turn(`mock-slow-first-byte-${HOLD}`);
    const b = turn();
    const first = send(relayB, a.body, { key });
    await heldBy(C.id);
    const second = send(relayB, b.body, { key });
    const [r1, r2] = await Promise.all([first, second]);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r2.status, 200, r2.text);
    const gap = upstreamArrival(b.tag) - (upstreamArrival(a.tag) + HOLD);
    assert.ok(gap >= DELAY_B - 5, `gap ${gap} ms >= relay B's delay ${DELAY_B} ms`);
    await waitFor(async () => (await redis('EXISTS', lockKey(C.id))) === 0, { what: 'lock gone' });
    await assertReleased(relayB);
  } finally {
    await api(relayB, 'DELETE', `/admin/claude-console-accounts/${C.id}`, { token: tokenB });
  }
});
