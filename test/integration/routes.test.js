'use strict';
// Relay routes, key headers, what goes upstream (headers/body), non-stream passthrough,
// count_tokens, models, event_logging.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, httpRequest, messageBody, anthropicErrorProblem, MOCK_ACCOUNT_KEY, MOCK_TEXT, MOCK_USAGE } = require('../lib/env');

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

const MESSAGE_PATHS = ['/api/v1/messages', '/claude/v1/messages', '/v1/messages', '/v1/messages?beta=true', '/api/v1/messages?beta=true'];

function assertMockMessage(json, model) {
  assert.ok(json, 'JSON body');
  assert.match(json.id, /^msg_mock_/);
  assert.equal(json.type, 'message');
  assert.equal(json.role, 'assistant');
  assert.equal(json.model, model);
  assert.deepEqual(json.content, [{ type: 'text', text: MOCK_TEXT }]);
  assert.equal(json.stop_reason, 'end_turn');
  assert.equal(json.stop_sequence, null);
  assert.deepEqual(json.usage, { ...MOCK_USAGE, cache_creation: { ...MOCK_USAGE.cache_creation } });
}

test('non-stream messages on every route prefix are relayed', async () => {
  for (const p of MESSAGE_PATHS) {
    st.mock.reset();
    const r = await st.send(messageBody('claude-sonnet-4-5'), { path: p });
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 500)}`);
    assert.match(r.headers['content-type'] || '', /application\/json/, p);
    assert.ok(r.headers['x-request-id'], `${p}: x-request-id`);
    assertMockMessage(r.json, 'claude-sonnet-4-5');
    const ups = st.mock.messageRequests();
    assert.equal(ups.length, 1, `${p}: exactly one upstream request`);
    assert.equal(ups[0].path, '/v1/messages');
  }
});

test('stream messages on every route prefix are relayed', async () => {
  for (const p of MESSAGE_PATHS) {
    const r = await st.stream(messageBody('claude-sonnet-4-5'), { path: p });
    assert.equal(r.status, 200, p);
    assert.match(r.headers['content-type'] || '', /^text\/event-stream/, p);
    assert.equal(r.error, null, `${p}: ${r.error && r.error.message}`);
    const text = r.events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => e.json.delta.text)
      .join('');
    assert.equal(text, MOCK_TEXT, p);
    assert.equal(r.events[r.events.length - 1].event, 'message_stop', p);
  }
});

test('key is accepted in x-api-key and in Authorization: Bearer', async () => {
  const key = st.key.apiKey;
  const a = await st.send(messageBody(), { key: null, headers: { 'x-api-key': key } });
  assert.equal(a.status, 200, a.text);
  const b = await st.send(messageBody(), { key: null, headers: { authorization: `Bearer ${key}` } });
  assert.equal(b.status, 200, b.text);
});

test('upstream request carries the account key, client headers are filtered, body is unchanged', async () => {
  const key = st.key.apiKey;
  const body = {
    model: 'claude-opus-5-5',
    max_tokens: 1024,
    system: [{ type: 'text', text: 'You are terse. ✓ ünïcødé "quotes" \\ backslash', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Hi 👋 — line1\nline2\ttab' }] },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Again?' },
    ],
    metadata: { user_id: JSON.stringify({ device_id: 'd'.repeat(64), account_uuid: '', session_id: '3f2a0a4e-52f0-4a51-9f9b-7a8f4a1b2c3d' }) },
    temperature: 0.5,
    top_k: 3,
    stop_sequences: ['\n\nHuman:'],
    tools: [{ name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    thinking: { type: 'adaptive', display: 'omitted' },
    empty_obj: {},
    empty_arr: [],
    nul: null,
    big: 12345678901234,
    neg: -0.25,
  };
  const sent = {
    'x-api-key': key,
    authorization: `Bearer ${key}`,
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27',
    connection: 'keep-alive, x-hop-marker',
    'x-hop-marker': 'hop',
    'keep-alive': 'timeout=5, max=1000',
    te: 'trailers',
    trailer: 'x-trailer-marker',
    'proxy-authorization': 'Basic cHJveHl1c2VyOnByb3h5cGFzcw==',
    'proxy-connection': 'keep-alive',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    cookie: 'session=topsecretcookie',
  };
  // Node refuses a Trailer header on a content-length request, so the second variant uploads chunked.
  for (const [p, chunked] of [
    ['/api/v1/messages', false],
    ['/v1/messages?beta=true', true],
  ]) {
    st.mock.reset();
    const headers = { ...sent, 'content-type': 'application/json' };
    if (!chunked) delete headers.trailer;
    const r = await httpRequest(st.relay.url + p, { method: 'POST', headers, body: JSON.stringify(body), chunked });
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 500)}`);
    const ups = st.mock.messageRequests();
    assert.equal(ups.length, 1, p);
    const u = ups[0];
    const h = u.headers;
    assert.equal(u.path, '/v1/messages', p);
    assert.equal(h['x-api-key'], MOCK_ACCOUNT_KEY, `${p}: account key as x-api-key`);
    assert.equal(h.authorization, undefined, `${p}: no authorization header upstream`);
    const allHeaderText = JSON.stringify(u.rawHeaders);
    assert.ok(!allHeaderText.includes(key), `${p}: client cr_ key leaked upstream`);
    assert.ok(!allHeaderText.includes(key.slice(3)), `${p}: client key body leaked upstream`);
    assert.ok(!JSON.stringify(u.body).includes(key), `${p}: client key leaked in body`);
    assert.equal(h['anthropic-version'], sent['anthropic-version'], p);
    assert.equal(h['anthropic-beta'], sent['anthropic-beta'], p);
    assert.equal(h.host, `127.0.0.1:${st.mock.port}`, `${p}: host is the upstream's, not the relay's`);
    for (const name of ['x-hop-marker', 'trailer', 'proxy-authorization', 'proxy-connection', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'cookie']) {
      assert.equal(h[name], undefined, `${p}: header ${name} must not be forwarded (got ${JSON.stringify(h[name])})`);
    }
    // The relay's own HTTP client may set its own connection/keep-alive/te, but not the client's values.
    assert.ok(!/x-hop-marker/i.test(h.connection || ''), `${p}: client's connection header forwarded`);
    assert.notEqual(h['keep-alive'], sent['keep-alive'], `${p}: client's keep-alive header forwarded`);
    assert.notEqual(h.te, sent.te, `${p}: client's te header forwarded`);
    assert.ok(!allHeaderText.includes('topsecretcookie'), p);
    assert.ok(!allHeaderText.includes('203.0.113.7'), p);
    assert.deepEqual(u.body, body, `${p}: body forwarded semantically unchanged`);
  }
});

test('non-stream: a large upstream body is passed through intact', async () => {
  const r = await st.send(messageBody('mock-big-4000000'), { timeout: 30000 });
  assert.equal(r.status, 200);
  assert.equal(r.json.content[0].text.length, 4000000);
  assert.ok(/^x+$/.test(r.json.content[0].text));
});

test('count_tokens on every prefix is relayed', async () => {
  for (const p of ['/api/v1/messages/count_tokens', '/claude/v1/messages/count_tokens', '/v1/messages/count_tokens', '/v1/messages/count_tokens?beta=true']) {
    st.mock.reset();
    const r = await st.send({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'count me' }] }, { path: p });
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 500)}`);
    assert.deepEqual(r.json, { input_tokens: 42 }, p);
    const ups = st.mock.requests().filter((q) => q.path === '/v1/messages/count_tokens');
    assert.equal(ups.length, 1, `${p}: one upstream count_tokens request`);
    assert.equal(ups[0].headers['x-api-key'], MOCK_ACCOUNT_KEY);
    assert.ok(!JSON.stringify(ups[0].rawHeaders).includes(st.key.apiKey));
  }
});

test('GET /v1/models returns the Anthropic list shape', async () => {
  for (const p of ['/api/v1/models', '/v1/models']) {
    const r = await httpRequest(st.relay.url + p, { headers: { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' } });
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 500)}`);
    const j = r.json;
    assert.ok(Array.isArray(j.data) && j.data.length >= 1, p);
    for (const m of j.data) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.type, 'model');
      assert.equal(typeof m.display_name, 'string');
      assert.equal(typeof m.created_at, 'string');
      assert.ok(!Number.isNaN(Date.parse(m.created_at)), `created_at ${m.created_at}`);
    }
    assert.equal(j.has_more, false);
    assert.equal(j.first_id, j.data[0].id);
    assert.equal(j.last_id, j.data[j.data.length - 1].id);
  }
});

test('event_logging batch endpoints answer 200 {"success":true} without auth', async () => {
  for (const p of ['/api/event_logging/batch', '/api/api/event_logging/batch']) {
    const r = await httpRequest(st.relay.url + p, { method: 'POST', body: { events: [{ event_name: 'x', ts: Date.now() }] } });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.deepEqual(r.json, { success: true });
  }
});

test('every response carries X-Request-ID, errors included', async () => {
  const ok = await st.send(messageBody());
  const bad = await st.send(messageBody(), { key: 'cr_' + '0'.repeat(64) });
  const nf = await httpRequest(st.relay.url + '/no/such/route');
  for (const r of [ok, bad, nf]) assert.ok(r.headers['x-request-id'], `status ${r.status}`);
  assert.notEqual(ok.headers['x-request-id'], bad.headers['x-request-id']);
  assert.equal(anthropicErrorProblem(bad.json), null);
});
