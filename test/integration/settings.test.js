'use strict';
// Runtime settings (GET/PUT /admin/claude-relay-config, Redis STRING claude_relay_config): a PUT
// and GET round trip over the environment defaults, null back to the default, bad values refused
// with 400 naming the field and nothing stored, the original's other fields kept, the concurrent
// request queue switched on and off on a running relay, the user message queue too, the sticky
// TTL of the next binding, a second relay on the same Redis applying a change it did not make
// (relay:notify "settings"), and no Redis command while idle.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const env = require('../lib/env');
const { stack, api, login, createKey, messageBody, httpRequest, waitFor, sleep, cleanupAfter, redisCmd } = env;

const UI_DIR = path.join(env.REPO_ROOT, 'admin-ui', 'dist');
const ENV = { WEB_TITLE: 'Env Title', STICKY_SESSION_TTL_HOURS: '2', USER_MESSAGE_QUEUE_DELAY_MS: '300', ADMIN_UI_DIR: UI_DIR };
let st;
let second; // another relay process on the same Redis
let secondToken;
const defer = cleanupAfter(after);

before(async () => {
  execFileSync(process.execPath, [path.join(env.REPO_ROOT, 'admin-ui', 'build.mjs')], { stdio: 'ignore' }); // the CSP check serves it
  st = await stack({ env: ENV });
  defer(() => st.teardown());
  const adminPassword = st.relay.adminPassword; // each relay applies ADMIN_PASSWORD at start
  second = await env.startRelay({ redisPort: st.redis.port, env: { ...ENV, ADMIN_PASSWORD: adminPassword } });
  defer(async () => {
    await second.stop();
    const rep = second.sanitizerReport();
    if (rep) throw new Error(`sanitizer report in the second relay:\n${rep.slice(0, 20000)}`);
  });
  secondToken = await login(second, st.relay.adminUser, adminPassword);
});

const get = (relay = st.relay, token = st.token) => api(relay, 'GET', '/admin/claude-relay-config', { token });
const put = (body, relay = st.relay, token = st.token) => api(relay, 'PUT', '/admin/claude-relay-config', { token, body });
const stored = async () => {
  const s = await redisCmd(st.redis.port, 'GET', 'claude_relay_config');
  return s === null ? null : JSON.parse(s);
};
const RESET_ALL = {
  concurrentRequestQueueEnabled: null, concurrentRequestQueueTimeoutMs: null, userMessageQueueEnabled: null,
  userMessageQueueDelayMs: null, userMessageQueueTimeoutMs: null, stickySessionTtlHours: null, webTitle: null, webLogoUrl: null,
};

test('GET: the environment values, none overridden, while Redis holds nothing', async () => {
  const r = await get();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.deepEqual(r.json.overridden, []);
  assert.deepEqual(r.json.data, r.json.defaults);
  assert.equal(r.json.data.webTitle, 'Env Title');
  assert.equal(r.json.data.stickySessionTtlHours, 2);
  assert.equal(r.json.data.userMessageQueueDelayMs, 300);
  assert.equal(r.json.data.concurrentRequestQueueEnabled, false);
  assert.equal(r.json.data.concurrentRequestQueueTimeoutMs, 10000);
  assert.equal(r.json.data.webLogoUrl, '');
  assert.equal((await api(st.relay, 'GET', '/admin/claude-relay-config')).status, 401);
  assert.equal((await api(st.relay, 'PUT', '/admin/claude-relay-config', { body: { webTitle: 'x' } })).status, 401);
});

test('PUT then GET: stored over the defaults, shown by ui-settings and oem-settings; null returns the default', async () => {
  const r = await put({ webTitle: '中继 Relay', stickySessionTtlHours: 24, userMessageQueueDelayMs: 0, webLogoUrl: 'https://cdn.example.com/logo.png' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.webTitle, '中继 Relay');
  assert.equal(r.json.data.stickySessionTtlHours, 24);
  assert.equal(r.json.data.userMessageQueueDelayMs, 0);
  assert.equal(r.json.defaults.webTitle, 'Env Title');
  assert.deepEqual([...r.json.overridden].sort(), ['stickySessionTtlHours', 'userMessageQueueDelayMs', 'webLogoUrl', 'webTitle']);
  assert.deepEqual(await stored(), { webTitle: '中继 Relay', stickySessionTtlHours: 24, userMessageQueueDelayMs: 0, webLogoUrl: 'https://cdn.example.com/logo.png' });
  const g = await get();
  assert.deepEqual(g.json.data, r.json.data);
  const ui = await api(st.relay, 'GET', '/admin/ui-settings', { token: st.token });
  assert.equal(ui.json.data.webTitle, '中继 Relay');
  assert.equal(ui.json.data.stickySessionTtlHours, 24);
  assert.equal(ui.json.data.userMessageQueueDelayMs, 0);
  assert.equal(ui.json.data.webLogoUrl, 'https://cdn.example.com/logo.png');
  assert.equal((await api(st.relay, 'GET', '/admin/oem-settings')).json.data.siteName, '中继 Relay');
  // the UI page may load the new logo: it is the Content-Security-Policy's one foreign image source
  const page = await httpRequest(`${st.relay.url}/web`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-security-policy'], /img-src 'self' https:\/\/cdn\.example\.com\/logo\.png;/);

  const n = await put({ webTitle: null, stickySessionTtlHours: null, webLogoUrl: null });
  assert.equal(n.status, 200, n.text);
  assert.equal(n.json.data.webTitle, 'Env Title');
  assert.equal(n.json.data.stickySessionTtlHours, 2);
  assert.equal(n.json.data.webLogoUrl, '');
  assert.deepEqual(n.json.overridden, ['userMessageQueueDelayMs']);
  assert.deepEqual(await stored(), { userMessageQueueDelayMs: 0 });
  assert.equal((await put(RESET_ALL)).status, 200);
  assert.deepEqual((await get()).json.overridden, []);
});

test('bad values: 400 naming the field, nothing stored or applied', async () => {
  assert.equal((await put({ webTitle: 'Kept' })).status, 200);
  const before = await redisCmd(st.redis.port, 'GET', 'claude_relay_config');
  const cases = [
    [{ concurrentRequestQueueTimeoutMs: 100 }, 'concurrentRequestQueueTimeoutMs'],
    [{ concurrentRequestQueueTimeoutMs: 300001 }, 'concurrentRequestQueueTimeoutMs'],
    [{ concurrentRequestQueueTimeoutMs: 6000.5 }, 'concurrentRequestQueueTimeoutMs'],
    [{ concurrentRequestQueueEnabled: 'yes' }, 'concurrentRequestQueueEnabled'],
    [{ userMessageQueueDelayMs: 10001 }, 'userMessageQueueDelayMs'],
    [{ userMessageQueueDelayMs: -1 }, 'userMessageQueueDelayMs'],
    [{ userMessageQueueTimeoutMs: 999 }, 'userMessageQueueTimeoutMs'],
    [{ stickySessionTtlHours: 0 }, 'stickySessionTtlHours'],
    [{ stickySessionTtlHours: 8761 }, 'stickySessionTtlHours'],
    [{ webTitle: 'x'.repeat(101) }, 'webTitle'],
    [{ webTitle: '' }, 'webTitle'],
    [{ webTitle: 42 }, 'webTitle'],
    [{ webLogoUrl: 'javascript:alert(1)' }, 'webLogoUrl'],
    [{ webLogoUrl: "https://x.example/a.png; script-src 'unsafe-inline'" }, 'webLogoUrl'],
    [{ webLogoUrl: 'https://x.example/' + 'a'.repeat(500) }, 'webLogoUrl'],
    // the original's switches this relay does not implement
    [{ sessionBindingTtlDays: 2 }, 'sessionBindingTtlDays'],
    [{ claudeCodeOnlyEnabled: true }, 'claudeCodeOnlyEnabled'],
    [{ concurrentRequestQueueMaxSize: 5 }, 'concurrentRequestQueueMaxSize'],
    // one bad field spoils the whole change
    [{ webTitle: 'Changed', stickySessionTtlHours: 0 }, 'stickySessionTtlHours'],
  ];
  for (const [body, name] of cases) {
    const r = await put(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json.message.startsWith(name + ':'), `${JSON.stringify(body)}: ${r.text}`);
  }
  for (const body of ['[]', '"x"', 'not json']) {
    const r = await put(body);
    assert.equal(r.status, 400, `${body}: ${r.text}`);
  }
  assert.equal(await redisCmd(st.redis.port, 'GET', 'claude_relay_config'), before);
  const g = await get();
  assert.equal(g.json.data.webTitle, 'Kept');
  assert.equal(g.json.data.stickySessionTtlHours, 2);
  assert.deepEqual(g.json.overridden, ['webTitle']);
  assert.equal((await put(RESET_ALL)).status, 200);
});

test("the original's stored config: its fields kept, ours applied on notice, out-of-range ones ignored", async () => {
  await redisCmd(st.redis.port, 'SET', 'claude_relay_config', JSON.stringify({
    claudeCodeOnlyEnabled: false, sessionBindingTtlDays: 1, concurrentRequestQueueTimeoutMs: 20000,
    userMessageQueueDelayMs: 99999, updatedAt: '2026-01-01T00:00:00.000Z',
  }));
  // what an instance of ours sends after a change (another instance id: both relays reload)
  await redisCmd(st.redis.port, 'PUBLISH', 'relay:notify', 'settings 0000000000000000');
  for (const [relay, token] of [[st.relay, st.token], [second, secondToken]]) {
    await waitFor(async () => (await get(relay, token)).json.data.concurrentRequestQueueTimeoutMs === 20000,
      { timeout: 10000, what: 'stored timeout applied' });
    const g = await get(relay, token);
    assert.equal(g.json.data.userMessageQueueDelayMs, 300, 'out of range in Redis: the default applies');
    assert.deepEqual(g.json.overridden, ['concurrentRequestQueueTimeoutMs']);
  }
  assert.equal((await put({ stickySessionTtlHours: 5 })).status, 200);
  const s = await stored();
  assert.equal(s.claudeCodeOnlyEnabled, false);
  assert.equal(s.sessionBindingTtlDays, 1);
  assert.equal(s.updatedAt, '2026-01-01T00:00:00.000Z');
  assert.equal(s.stickySessionTtlHours, 5);
  await redisCmd(st.redis.port, 'DEL', 'claude_relay_config');
  assert.equal((await put(RESET_ALL)).status, 200);
});

// ------------------------------------------------------------------ the queue switch at work

function send(key, model = 'claude-sonnet-4-5') {
  return httpRequest(`${st.relay.url}/api/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key.apiKey, 'anthropic-version': '2023-06-01' },
    body: messageBody(model),
    timeout: 30000,
  });
}

// A streamed request holding the key's one slot; resolves ({done}) once it holds it.
async function holder(key, model) {
  const done = st.stream(messageBody(model), { key: key.apiKey });
  await waitFor(async () => Number(await redisCmd(st.redis.port, 'ZCARD', `concurrency:${key.id}`)) === 1, { what: 'slot held' });
  return { done };
}

const waiting = async (id) => Number((await redisCmd(st.redis.port, 'GET', `concurrency:queue:${id}`)) || 0);

test('the concurrent request queue switched on and off at runtime: 429 at once, then a wait for the slot, then 429 again', async () => {
  const key = await createKey(st.relay, st.token, { name: 'queue-switch', concurrencyLimit: 1 });
  // off (the environment default): over the limit is refused at once
  let { done: first } = await holder(key, 'mock-slow-chunks-25-100');
  let r = await send(key);
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'concurrency_limit_exceeded', r.text);
  assert.equal((await first).status, 200);

  assert.equal((await put({ concurrentRequestQueueEnabled: true, concurrentRequestQueueTimeoutMs: 30000 })).status, 200);
  ({ done: first } = await holder(key, 'mock-slow-chunks-4-100'));
  const queued = send(key);
  await waitFor(async () => (await waiting(key.id)) === 1, { what: 'the second request waits' });
  assert.equal((await first).status, 200);
  r = await queued;
  assert.equal(r.status, 200, r.text);
  const stats = await redisCmd(st.redis.port, 'HGET', `concurrency:queue:stats:${key.id}`, 'success');
  assert.equal(Number(stats), 1);

  assert.equal((await put({ concurrentRequestQueueEnabled: null, concurrentRequestQueueTimeoutMs: null })).status, 200);
  ({ done: first } = await holder(key, 'mock-slow-chunks-25-100'));
  r = await send(key);
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'concurrency_limit_exceeded', r.text);
  assert.equal((await first).status, 200);
});

test('the sticky session TTL applies to the next binding at once', async () => {
  const bind = async () => {
    const sid = require('node:crypto').randomUUID();
    const userId = JSON.stringify({ device_id: 'a'.repeat(64), account_uuid: '', session_id: sid });
    const r = await st.send(messageBody('claude-sonnet-4-5', { metadata: { user_id: userId } }));
    assert.equal(r.status, 200, r.text);
    return Number(await redisCmd(st.redis.port, 'TTL', `sticky_session:${sid}`));
  };
  let ttl = await bind();
  assert.ok(ttl > 7000 && ttl <= 7200, `STICKY_SESSION_TTL_HOURS=2: TTL ${ttl}`);
  assert.equal((await put({ stickySessionTtlHours: 30 })).status, 200);
  ttl = await bind();
  assert.ok(ttl > 107000 && ttl <= 108000, `30 h: TTL ${ttl}`);
  assert.equal((await put({ stickySessionTtlHours: null })).status, 200);
  ttl = await bind();
  assert.ok(ttl > 7000 && ttl <= 7200, `back to 2 h: TTL ${ttl}`);
});

test('the user message queue switched on at runtime takes the account\'s turn; off again, Redis never hears of it', async () => {
  const lastKey = `user_msg_queue_last:${st.account.id}`;
  const lockKey = `user_msg_queue_lock:${st.account.id}`;
  const userTurn = (tag) => st.send(messageBody('claude-sonnet-4-5', { messages: [{ role: 'user', content: `turn ${tag}` }] }));
  assert.equal((await userTurn('off-1')).status, 200);
  assert.equal(await redisCmd(st.redis.port, 'EXISTS', lastKey), 0, 'off (the default): no turn taken');
  assert.equal((await put({ userMessageQueueEnabled: true, userMessageQueueDelayMs: 0 })).status, 200);
  assert.equal((await userTurn('on-1')).status, 200);
  await waitFor(async () => (await redisCmd(st.redis.port, 'EXISTS', lastKey)) === 1, { what: 'the turn given back' });
  await waitFor(async () => (await redisCmd(st.redis.port, 'EXISTS', lockKey)) === 0, { what: 'the lock released' });
  assert.equal((await put({ userMessageQueueEnabled: null, userMessageQueueDelayMs: null })).status, 200);
  await redisCmd(st.redis.port, 'DEL', lastKey);
  assert.equal((await userTurn('off-2')).status, 200);
  await env.assertReleased(st.relay);
  assert.equal(await redisCmd(st.redis.port, 'EXISTS', lastKey), 0, 'off again: no turn taken');
});

test('two relays on one Redis: a PUT on one is applied on the other', async () => {
  const r = await put({ webTitle: 'From the first', concurrentRequestQueueEnabled: true });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await api(second, 'GET', '/admin/oem-settings')).json.data.siteName === 'From the first',
    { timeout: 10000, what: 'the second relay shows the new title' });
  const g = await get(second, secondToken);
  assert.equal(g.json.data.concurrentRequestQueueEnabled, true);
  assert.deepEqual([...g.json.overridden].sort(), ['concurrentRequestQueueEnabled', 'webTitle']);
  // and back, from the second one
  assert.equal((await put(RESET_ALL, second, secondToken)).status, 200);
  await waitFor(async () => (await get()).json.overridden.length === 0, { timeout: 10000, what: 'the first relay back to its defaults' });
  assert.equal((await get()).json.data.webTitle, 'Env Title');
});

test('idle relays send Redis nothing (the settings are read on notice only)', async () => {
  await sleep(2500); // anything still pending from the tests above (statistics flush) is written
  const before = await st.redis.commandCalls();
  await sleep(4500); // more than two maintenance intervals
  const afterCalls = await st.redis.commandCalls();
  const diff = {};
  for (const [k, v] of Object.entries(afterCalls.per)) if (k !== 'info' && v !== (before.per[k] || 0)) diff[k] = v - (before.per[k] || 0);
  assert.deepEqual(diff, {});
});
