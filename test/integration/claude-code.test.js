'use strict';
// The real Claude Code CLI (2.1.330, `claude -p`) against the relay, offline.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, runClaude, randomHex, MOCK_TEXT, MOCK_ACCOUNT_KEY } = require('../lib/env');

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

function describe(r) {
  return `code=${r.code} signal=${r.signal} timedOut=${r.timedOut} ${r.durationMs} ms\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
}

function assertUpstream(what) {
  const streams = st.mock.messageRequests().filter((q) => q.body && q.body.stream === true);
  assert.ok(streams.length >= 1, `${what}: the mock received a stream request`);
  const h = streams[0].headers;
  assert.equal(h['x-api-key'], MOCK_ACCOUNT_KEY, `${what}: account key upstream`);
  assert.equal(h.authorization, undefined, `${what}: no authorization upstream`);
  assert.ok(!JSON.stringify(streams[0].rawHeaders).includes(st.key.apiKey), `${what}: cr_ key not forwarded`);
  assert.match(h['anthropic-beta'] || '', /claude-code-20250219/, `${what}: Claude Code's anthropic-beta forwarded`);
  assert.ok(Array.isArray(streams[0].body.messages), `${what}: body forwarded`);
}

test('claude -p with ANTHROPIC_AUTH_TOKEN', { timeout: 100000 }, async () => {
  st.mock.reset();
  const r = await runClaude({ baseUrl: st.relay.url + '/api', authToken: st.key.apiKey, prompt: 'say hi', timeout: 90000 });
  assert.equal(r.timedOut, false, describe(r));
  assert.equal(r.code, 0, describe(r));
  assert.ok(r.json, `JSON result: ${describe(r)}`);
  assert.ok(String(r.json.result).includes(MOCK_TEXT), `result text: ${JSON.stringify(r.json).slice(0, 1000)}`);
  assert.equal(r.json.usage && r.json.usage.input_tokens, 11, 'usage passed back to the CLI');
  assertUpstream('AUTH_TOKEN');
});

test('claude -p with ANTHROPIC_API_KEY', { timeout: 100000 }, async () => {
  st.mock.reset();
  const r = await runClaude({ baseUrl: st.relay.url + '/api', apiKey: st.key.apiKey, prompt: 'say hi', timeout: 90000 });
  assert.equal(r.timedOut, false, describe(r));
  assert.equal(r.code, 0, describe(r));
  assert.ok(r.json && String(r.json.result).includes(MOCK_TEXT), describe(r));
  assertUpstream('API_KEY');
});

test('claude -p with a bad key exits non-zero within 30 s (x-should-retry: false)', { timeout: 80000 }, async () => {
  for (const variant of ['authToken', 'apiKey']) {
    const r = await runClaude({ baseUrl: st.relay.url + '/api', [variant]: 'cr_' + randomHex(32), prompt: 'say hi', timeout: 30000 });
    assert.equal(r.timedOut, false, `${variant}: still running after 30 s (retrying 401?) ${describe(r)}`);
    assert.notEqual(r.code, 0, `${variant}: ${describe(r)}`);
  }
});
