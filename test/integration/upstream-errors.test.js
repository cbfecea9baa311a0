'use strict';
// Upstream failures: error statuses passed through (non-stream and stream, before the first byte),
// upstream timeout → 504, connection refused → 502, no schedulable account → 503.
//
// A relay may mark an account unavailable after an upstream 429/5xx/timeout, so every case that
// makes the upstream fail first adds a fresh console account pointing at the mock.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, api, httpRequest, messageBody, anthropicErrorProblem, createConsoleAccount, closedPort, MOCK_TEXT } = require('../lib/env');

let st; // REQUEST_TIMEOUT=1000, accounts -> mock
let dead; // only account -> a closed port

before(async () => {
  st = await stack({ relayEnv: { REQUEST_TIMEOUT: '1000' } });
  const port = await closedPort();
  dead = await stack({ account: { name: 'dead-upstream', apiUrl: `http://127.0.0.1:${port}` } });
});

after(async () => {
  const errs = [];
  for (const s of [st, dead]) if (s) await s.teardown().catch((e) => errs.push(e));
  if (errs.length) throw errs[0];
});

let accountSeq = 0;
async function freshAccount(s = st) {
  accountSeq++;
  return createConsoleAccount(s.relay, s.token, { name: `mock-${accountSeq}`, apiUrl: s.mock.url });
}

function assertErrorShape(r, status, what) {
  assert.equal(r.status, status, `${what}: status ${r.status}, body ${r.text.slice(0, 500)}`);
  assert.equal(anthropicErrorProblem(r.json), null, `${what}: Anthropic error shape: ${r.text.slice(0, 500)}`);
  assert.ok(r.headers['x-request-id'], `${what}: x-request-id`);
}

// Stream request whose answer is expected to be a plain (JSON) error response.
async function streamAsPlain(body, opts) {
  const r = await st.stream(body, opts);
  let json;
  try {
    json = JSON.parse(r.text);
  } catch (_) {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text: r.text, json, events: r.events };
}

const UPSTREAM_ERRORS = {
  400: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

for (const [status, type] of Object.entries(UPSTREAM_ERRORS)) {
  test(`upstream ${status} is passed through (non-stream and stream)`, async () => {
    const want = { type: 'error', error: { type, message: `mock error ${status}` } };
    await freshAccount();
    const a = await st.send(messageBody(`mock-error-${status}`));
    assertErrorShape(a, Number(status), `non-stream ${status}`);
    assert.deepEqual(a.json, want, `non-stream ${status}: upstream body kept`);

    await freshAccount();
    const b = await streamAsPlain(messageBody(`mock-error-${status}`));
    assertErrorShape(b, Number(status), `stream ${status}`);
    assert.deepEqual(b.json, want, `stream ${status}: upstream body kept`);

    // the relay keeps serving
    await freshAccount();
    const ok = await st.send(messageBody('claude-sonnet-4-5'));
    assert.equal(ok.status, 200, `after ${status}: ${ok.text.slice(0, 300)}`);
  });
}

test('a slow first byte within REQUEST_TIMEOUT is fine', async () => {
  await freshAccount();
  const r = await st.send(messageBody('mock-slow-first-byte-300'));
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.content[0].text, MOCK_TEXT);
});

test('upstream timeout (REQUEST_TIMEOUT=1000, mock-hang) → 504, upstream connection closed', async () => {
  for (const stream of [false, true]) {
    await freshAccount();
    st.mock.reset();
    const t0 = Date.now();
    const r = stream ? await streamAsPlain(messageBody('mock-hang'), { timeout: 20000 }) : await st.send(messageBody('mock-hang'), { timeout: 20000 });
    const took = Date.now() - t0;
    assertErrorShape(r, 504, `timeout (stream=${stream})`);
    assert.ok(took >= 900 && took < 8000, `answered after ${took} ms`);
    await st.mock.waitForAbort((a) => a.model === 'mock-hang', 3000);
  }
});

test('upstream connection refused → 502 api_error', async () => {
  const a = await dead.send(messageBody());
  assertErrorShape(a, 502, 'connection refused (non-stream)');
  assert.equal(a.json.error.type, 'api_error');
});

test('upstream connection refused on a stream request → 502 api_error', async () => {
  // a fresh dead account, in case the first one got marked unavailable
  const port = await closedPort();
  await createConsoleAccount(dead.relay, dead.token, { name: 'dead-3', apiUrl: `http://127.0.0.1:${port}` });
  const r = await dead.stream(messageBody());
  let json;
  try {
    json = JSON.parse(r.text);
  } catch (_) {
    json = undefined;
  }
  assertErrorShape({ ...r, json }, 502, 'connection refused (stream)');
  assert.equal(json.error.type, 'api_error');
});

test('no schedulable account → 503', async () => {
  const list = await api(dead.relay, 'GET', '/admin/claude-console-accounts', { token: dead.token });
  assert.equal(list.status, 200);
  for (const acc of list.json.data) {
    if (String(acc.schedulable) === 'false') continue;
    const t = await api(dead.relay, 'PUT', `/admin/claude-console-accounts/${acc.id}/toggle-schedulable`, { token: dead.token });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.schedulable, false);
  }
  const a = await dead.send(messageBody());
  assertErrorShape(a, 503, 'no account (non-stream)');
  const b = await dead.stream(messageBody());
  let json;
  try {
    json = JSON.parse(b.text);
  } catch (_) {
    json = undefined;
  }
  assertErrorShape({ ...b, json }, 503, 'no account (stream)');
  assert.equal(dead.mock.messageRequests().length, 0);
  const h = await httpRequest(dead.relay.url + '/health');
  assert.equal(h.status, 200);
});

test('relay is healthy after upstream failures', async () => {
  for (const s of [st, dead]) {
    const h = await httpRequest(s.relay.url + '/health');
    assert.equal(h.status, 200);
    assert.equal(s.relay.exited(), false);
  }
});
