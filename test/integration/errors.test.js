'use strict';
// Client-side errors: authentication, bad bodies, size limit, unknown routes. All in Anthropic error
// shape with X-Request-ID; the relay stays healthy afterwards.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { stack, httpRequest, messageBody, anthropicErrorProblem, createKey, updateKey, randomHex } = require('../lib/env');

let st;

before(async () => {
  st = await stack({ relayEnv: { REQUEST_MAX_SIZE_MB: '1' } });
});

after(async () => {
  if (st) await st.teardown();
});

function assertError(r, status, type, what) {
  assert.equal(r.status, status, `${what}: status ${r.status} body ${r.text.slice(0, 500)}`);
  assert.equal(anthropicErrorProblem(r.json), null, `${what}: Anthropic error shape: ${r.text.slice(0, 500)}`);
  if (type) assert.equal(r.json.error.type, type, `${what}: error.type`);
  assert.ok(r.headers['x-request-id'], `${what}: x-request-id header`);
}

function assertNoRetry401(r, what) {
  assertError(r, 401, 'authentication_error', what);
  assert.equal(r.headers['x-should-retry'], 'false', `${what}: x-should-retry: false`);
}

test('missing key → 401 authentication_error', async () => {
  for (const p of ['/api/v1/messages', '/v1/messages?beta=true', '/claude/v1/messages', '/api/v1/messages/count_tokens']) {
    const r = await st.send(messageBody(), { key: null, path: p });
    assertError(r, 401, 'authentication_error', `missing key on ${p}`);
  }
  const empty = await st.send(messageBody(), { key: null, headers: { authorization: 'Bearer ' } });
  assertError(empty, 401, 'authentication_error', 'empty bearer');
  const emptyX = await st.send(messageBody(), { key: null, headers: { 'x-api-key': '' } });
  assertError(emptyX, 401, 'authentication_error', 'empty x-api-key');
  assert.equal(st.mock.messageRequests().length, 0, 'nothing reached the upstream');
});

test('invalid and unknown keys → 401 with x-should-retry: false', async () => {
  st.mock.reset();
  const bad = [
    'not-a-relay-key',
    'cr_',
    'cr_' + randomHex(32),
    'cr_' + randomHex(32).toUpperCase(),
    st.key.apiKey.slice(0, -1),
    st.key.apiKey + '0',
    'sk-ant-api03-' + randomHex(20),
    'cr_' + 'z'.repeat(64),
    'cr_' + randomHex(2000),
  ];
  for (const k of bad) {
    const a = await st.send(messageBody(), { key: null, headers: { 'x-api-key': k } });
    assertNoRetry401(a, `x-api-key ${k.slice(0, 20)}…`);
    const b = await st.send(messageBody(), { key: null, headers: { authorization: `Bearer ${k}` } });
    assertNoRetry401(b, `bearer ${k.slice(0, 20)}…`);
    assert.ok(!a.text.includes(k.length > 8 ? k : '\u0000'), 'error body does not echo the key');
  }
  assert.equal(st.mock.messageRequests().length, 0, 'nothing reached the upstream');
});

test('disabled key → 401 with x-should-retry: false; re-enabled → 200', async () => {
  const k = await createKey(st.relay, st.token, { name: 'to-disable' });
  assert.equal((await st.send(messageBody(), { key: k.apiKey })).status, 200);
  await updateKey(st.relay, st.token, k.id, { isActive: false });
  assertNoRetry401(await st.send(messageBody(), { key: k.apiKey }), 'disabled key');
  assertNoRetry401(await st.stream(messageBody(), { key: k.apiKey }).then((r) => ({ ...r, text: r.text, json: safeJson(r.text) })), 'disabled key (stream)');
  await updateKey(st.relay, st.token, k.id, { isActive: true });
  assert.equal((await st.send(messageBody(), { key: k.apiKey })).status, 200);
});

test('expired key → 401 with x-should-retry: false', async () => {
  const k = await createKey(st.relay, st.token, { name: 'to-expire' });
  assert.equal((await st.send(messageBody(), { key: k.apiKey })).status, 200);
  await updateKey(st.relay, st.token, k.id, { expiresAt: new Date(Date.now() - 60_000).toISOString() });
  assertNoRetry401(await st.send(messageBody(), { key: k.apiKey }), 'expired key');
});

function safeJson(t) {
  try {
    return JSON.parse(t);
  } catch (_) {
    return undefined;
  }
}

test('non-JSON and empty bodies → 400 invalid_request_error', async () => {
  st.mock.reset();
  const cases = [
    ['not json at all', 'text'],
    ['{"model": "claude-sonnet-4-5", "messages": [', 'truncated'],
    ['', 'empty'],
    ['   \n ', 'whitespace'],
  ];
  for (const p of ['/api/v1/messages', '/v1/messages?beta=true']) {
    for (const [body, what] of cases) {
      const r = await httpRequest(st.relay.url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' },
        body,
      });
      assertError(r, 400, 'invalid_request_error', `${what} body on ${p}`);
    }
  }
  // no body at all (no content-length)
  const nob = await httpRequest(st.relay.url + '/api/v1/messages', { method: 'POST', headers: { 'x-api-key': st.key.apiKey } });
  assertError(nob, 400, 'invalid_request_error', 'no body');
  assert.equal(st.mock.messageRequests().length, 0, 'nothing reached the upstream');
});

test('body larger than REQUEST_MAX_SIZE_MB → 413 request_too_large', async () => {
  const big = JSON.stringify({ ...messageBody(), padding: 'x'.repeat(2 * 1024 * 1024) });
  const r = await httpRequest(st.relay.url + '/api/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': st.key.apiKey },
    body: big,
  });
  assertError(r, 413, 'request_too_large', 'content-length 2 MiB');
  // same without a content-length (chunked upload)
  const c = await httpRequest(st.relay.url + '/api/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': st.key.apiKey },
    body: big,
    chunked: true,
  });
  assertError(c, 413, 'request_too_large', 'chunked 2 MiB');
  // just under the limit is fine
  const ok = await st.send({ ...messageBody(), padding: 'x'.repeat(900 * 1024) });
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
});

test('unknown route → 404 not_found_error', async () => {
  for (const [method, p] of [
    ['GET', '/definitely/not/here'],
    ['POST', '/api/v1/nothing'],
    ['GET', '/api/v1/messages/x/y/z'],
    ['DELETE', '/v2/messages'],
  ]) {
    const r = await httpRequest(st.relay.url + p, { method, headers: { 'x-api-key': st.key.apiKey } });
    assertError(r, 404, 'not_found_error', `${method} ${p}`);
  }
});

test('garbage input does not crash the relay', async () => {
  const hdr = { 'content-type': 'application/json', 'x-api-key': st.key.apiKey };
  const inputs = [
    '[1,2,3]',
    '"just a string"',
    'null',
    '{"model": 42, "messages": "nope"}',
    '['.repeat(100000),
    '{"a":'.repeat(50000),
    Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"\\ud800"}]}',
  ];
  for (const body of inputs) {
    const r = await httpRequest(st.relay.url + '/api/v1/messages', { method: 'POST', headers: hdr, body });
    assert.ok(r.status >= 200 && r.status < 600);
    if (r.status >= 400) assert.equal(anthropicErrorProblem(r.json), null, `error shape for ${String(body).slice(0, 40)}`);
  }
  // raw protocol garbage
  await new Promise((resolve) => {
    const s = net.connect(st.relay.port, '127.0.0.1', () => {
      s.write('GARBAGE / HTTP/9.9\r\n\r\n\x00\x01\x02');
      s.end();
    });
    s.on('error', resolve);
    s.on('close', resolve);
    s.resume();
  });
  // huge header
  const hh = await httpRequest(st.relay.url + '/api/v1/messages', { method: 'POST', headers: { ...hdr, 'x-junk': 'j'.repeat(60000) }, body: messageBody() }).catch((e) => ({ status: 0, error: e }));
  assert.ok(hh.status === 0 || (hh.status >= 200 && hh.status < 600));
});

test('after all the bad input, /health is still 200 and requests still work', async () => {
  const h = await httpRequest(st.relay.url + '/health');
  assert.equal(h.status, 200, h.text);
  const r = await st.send(messageBody());
  assert.equal(r.status, 200);
  assert.equal(st.relay.exited(), false);
});
