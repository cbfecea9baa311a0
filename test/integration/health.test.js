'use strict';
// GET /health: shape, no secrets, and 503 once Redis is gone (last, on its own stack).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, httpRequest, messageBody, startRedis, waitFor } = require('../lib/env');

let st;
let redis2;

before(async () => {
  st = await stack();
});

after(async () => {
  const errs = [];
  if (st) await st.teardown().catch((e) => errs.push(e));
  if (redis2) await redis2.stop().catch((e) => errs.push(e));
  if (errs.length) throw errs[0];
});

test('GET /health (no auth) → 200 with status, version, uptime, redis component', async () => {
  // some traffic first, so any cached state exists
  assert.equal((await st.send(messageBody())).status, 200);
  const r = await httpRequest(st.relay.url + '/health');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'] || '', /application\/json/);
  const j = r.json;
  assert.equal(j.status, 'healthy');
  assert.equal(typeof j.version, 'string');
  assert.ok(j.version.length > 0);
  assert.equal(typeof j.uptime, 'number');
  assert.ok(j.uptime >= 0);
  assert.ok(j.components && j.components.redis, 'components.redis');
  assert.equal(j.components.redis.status, 'healthy');
  assert.ok(j.components.redis.latency !== undefined, 'components.redis.latency');
  assert.ok(!r.text.includes('cr_'), 'no cr_ in /health');
  assert.ok(!r.text.includes('sk-ant'), 'no sk-ant in /health');
  assert.ok(!r.text.includes(st.relay.adminPassword), 'no admin password in /health');
});

test('/health uptime grows', async () => {
  const a = (await httpRequest(st.relay.url + '/health')).json.uptime;
  await new Promise((r) => setTimeout(r, 1100));
  const b = (await httpRequest(st.relay.url + '/health')).json.uptime;
  assert.ok(b > a, `uptime ${a} → ${b}`);
});

test('Redis stopped → /health 503 within ~5 s, relay keeps running', async () => {
  const port = st.redis.port;
  await st.redis.stop();
  const t0 = Date.now();
  const r = await waitFor(
    async () => {
      const h = await httpRequest(st.relay.url + '/health', { timeout: 3000 });
      return h.status === 503 ? h : null;
    },
    { timeout: 6000, interval: 100, what: '/health → 503' },
  );
  console.log(`health_503_after_redis_stop_ms=${Date.now() - t0}`);
  assert.ok(r.json, '503 body is JSON');
  assert.ok(!r.text.includes('cr_') && !r.text.includes('sk-ant'));
  assert.equal(st.relay.exited(), false, 'relay still running without Redis');
  // a relay request is answered (whatever the status) instead of hanging
  const m = await st.send(messageBody(), { timeout: 15000 });
  assert.ok(m.status >= 200 && m.status < 600, `relay request without Redis: ${m.status}`);
  assert.ok(m.headers['x-request-id']);
  if (m.status >= 400) assert.equal(m.json && m.json.type, 'error', `error shape: ${m.text.slice(0, 300)}`);

  // Redis comes back on the same port → healthy again
  redis2 = await startRedis({ port });
  await waitFor(
    async () => {
      const h = await httpRequest(st.relay.url + '/health', { timeout: 3000 });
      return h.status === 200;
    },
    { timeout: 15000, interval: 200, what: '/health → 200 after Redis is back' },
  );
});
