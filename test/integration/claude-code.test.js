'use strict';
// The real Claude Code CLI (2.1.330, `claude -p`) against the relay, offline.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, runClaude, randomHex, createConsoleAccount, api, mkTmp, rmTmp, MOCK_TEXT, MOCK_ACCOUNT_KEY } = require('../lib/env');

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

test('a two-turn session (claude -p, then --continue) stays on one account of three; a 429 there rebinds it once', { timeout: 300000 }, async () => {
  const ids = [];
  for (const tag of ['cc-a', 'cc-b', 'cc-c']) ids.push((await createConsoleAccount(st.relay, st.token, { name: tag, apiUrl: `${st.mock.url}/b/${tag}` })).id);
  // The stack's own account would be a fourth: pause it for this test.
  await api(st.relay, 'PUT', `/admin/claude-console-accounts/${st.account.id}`, { token: st.token, body: { schedulable: false } });
  const home = mkTmp('relay-cc-session-');
  const turn = async (prompt, extraArgs = []) => {
    const m = st.mock.requests().length;
    const r = await runClaude({ baseUrl: st.relay.url + '/api', apiKey: st.key.apiKey, prompt, home, extraArgs, timeout: 90000 });
    assert.equal(r.code, 0, describe(r));
    assert.ok(String(r.json && r.json.result).includes(MOCK_TEXT), describe(r));
    const reqs = st.mock.requests().slice(m).filter((q) => q.path === '/v1/messages');
    return { tags: reqs.map((q) => q.behave), sessions: reqs.map((q) => sessionOf(q.body)) };
  };
  try {
    const one = await turn('first question');
    const two = await turn('second question', ['--continue']);
    const sessions = new Set([...one.sessions, ...two.sessions].filter(Boolean));
    assert.equal(sessions.size, 1, `one Claude Code session: ${[...sessions].join()}`);
    const all = [...one.tags, ...two.tags];
    assert.equal(new Set(all).size, 1, `both turns on one account: ${all.join()}`);
    const bound = all[0];
    const boundId = ids[['cc-a', 'cc-b', 'cc-c'].indexOf(bound)];
    // That account starts answering 429: the session moves once and goes on there.
    const up = await api(st.relay, 'PUT', `/admin/claude-console-accounts/${boundId}`, { token: st.token, body: { apiUrl: `${st.mock.url}/b/error-429` } });
    assert.equal(up.status, 200, up.text);
    const three = await turn('third question', ['--continue']);
    assert.equal(three.tags[0], 'error-429', three.tags.join());
    const after429 = three.tags.slice(1);
    assert.ok(after429.length >= 1 && new Set(after429).size === 1 && after429[0] !== bound, three.tags.join());
    const sid = [...sessions][0];
    const lines = st.relay.logs().split('\n').filter((l) => l.includes(`sticky session ${sid.slice(0, 8)} rebound`));
    assert.equal(lines.length, 1, lines.join('\n'));
  } finally {
    rmTmp(home);
    for (const id of ids) await api(st.relay, 'DELETE', `/admin/claude-console-accounts/${id}`, { token: st.token });
    await api(st.relay, 'PUT', `/admin/claude-console-accounts/${st.account.id}`, { token: st.token, body: { schedulable: true } });
  }
});

// The session id Claude Code puts in metadata.user_id (JSON form or the older string form).
function sessionOf(body) {
  const u = body && body.metadata && body.metadata.user_id;
  if (typeof u !== 'string') return null;
  try {
    return JSON.parse(u).session_id || null;
  } catch (_) {
    const m = u.match(/_session_([0-9a-f-]{36})$/);
    return m ? m[1] : null;
  }
}
