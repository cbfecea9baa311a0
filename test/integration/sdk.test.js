'use strict';
// The official @anthropic-ai/sdk (1.12.0) against the relay.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');
const { stack, randomHex, MOCK_TEXT, MOCK_USAGE, MOCK_ACCOUNT_KEY } = require('../lib/env');

let st;
let client;

before(async () => {
  st = await stack();
  client = new Anthropic({ apiKey: st.key.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
});

after(async () => {
  if (st) await st.teardown();
});

function usageOf(u) {
  return {
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens,
    cache_creation: u.cache_creation && { ...u.cache_creation },
  };
}
const WANT_USAGE = { ...MOCK_USAGE, cache_creation: { ...MOCK_USAGE.cache_creation } };
const PARAMS = { model: 'claude-opus-5-5', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello.' }] };

test('messages.create (non-stream)', async () => {
  st.mock.reset();
  const msg = await client.messages.create(PARAMS);
  assert.equal(msg.type, 'message');
  assert.equal(msg.content[0].type, 'text');
  assert.equal(msg.content[0].text, MOCK_TEXT);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.deepEqual(usageOf(msg.usage), WANT_USAGE);
  const up = st.mock.messageRequests();
  assert.equal(up.length, 1);
  assert.equal(up[0].headers['x-api-key'], MOCK_ACCOUNT_KEY);
  assert.equal(up[0].headers.authorization, undefined);
  assert.equal(up[0].headers['anthropic-version'], '2026-10-21', 'SDK anthropic-version forwarded as-is');
});

test('messages.create with stream: true', async () => {
  const s = await client.messages.create({ ...PARAMS, stream: true });
  let text = '';
  const types = [];
  for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta') text += ev.delta.text;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(types[0], 'message_start');
  assert.equal(types[types.length - 1], 'message_stop');
});

test('messages.stream → finalMessage', async () => {
  const stream = client.messages.stream(PARAMS);
  let deltas = '';
  stream.on('text', (t) => {
    deltas += t;
  });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, MOCK_TEXT);
  assert.equal(deltas, MOCK_TEXT);
  assert.equal(final.stop_reason, 'end_turn');
  assert.deepEqual(usageOf(final.usage), WANT_USAGE);
});

test('messages.countTokens → 42', async () => {
  const r = await client.messages.countTokens({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'count me' }] });
  assert.equal(r.input_tokens, 42);
});

test('models.list returns at least one model', async () => {
  const page = await client.models.list();
  assert.ok(page.data.length >= 1);
  for (const m of page.data) {
    assert.equal(m.type, 'model');
    assert.equal(typeof m.id, 'string');
  }
});

test('upstream errors surface as the matching SDK error classes', async () => {
  await assert.rejects(client.messages.create({ ...PARAMS, model: 'mock-error-400' }), (e) => e instanceof Anthropic.BadRequestError && e.status === 400);
});

test('a bad key → AuthenticationError (401)', async () => {
  const bad = new Anthropic({ apiKey: 'cr_' + randomHex(32), baseURL: st.relay.url + '/api', maxRetries: 0 });
  await assert.rejects(bad.messages.create(PARAMS), (e) => {
    assert.ok(e instanceof Anthropic.AuthenticationError, `got ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
    assert.equal(e.status, 401);
    assert.equal(e.error && e.error.type, 'error');
    assert.equal(e.error.error.type, 'authentication_error');
    return true;
  });
  const badStream = bad.messages.stream(PARAMS);
  await assert.rejects(badStream.finalMessage(), (e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
});
