'use strict';
// ENCRYPTION_KEY rotation on one Redis: with the old key as ENCRYPTION_KEY_OLD the relay keeps
// opening credentials sealed under it and re-seals them under the new key; an API key used during
// that window is re-indexed under the new key on first use. After that the old key can go.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const env = require('../lib/env');
const { startHttpProxy } = require('../mock/proxy');

const defer = env.cleanupAfter(after);

function kidOf(blob) {
  const m = /^s1:([0-9a-f]{8}):/.exec(blob || '');
  assert.ok(m, `not a sealed blob: ${blob}`);
  return m[1];
}

async function hashIndexKeys(port) {
  const dump = await env.dumpRedis(port);
  return Object.keys(dump).filter((k) => k.startsWith('api_key_hash:')).sort();
}

test('rotate ENCRYPTION_KEY: credentials re-sealed, used keys re-indexed, old key retired', { timeout: 90000 }, async () => {
  const redis = await env.startRedis();
  defer(() => redis.stop());
  const mock = await env.startMockUpstream({ port: 0 });
  defer(() => mock.close());
  const proxy = await startHttpProxy({ username: 'pu', password: 'proxy-secret' });
  defer(() => proxy.close());

  const keyA = env.randomHex(32);
  const keyB = env.randomHex(32);
  const adminPassword = env.randomAlnum(20);
  const start = async (extra) => {
    const r = await env.startRelay({ redisPort: redis.port, env: { ADMIN_PASSWORD: adminPassword, ...extra } });
    defer(() => r.stop());
    return r;
  };
  const send = (relay, apiKey) =>
    env.httpRequest(`${relay.url}/api/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' },
      body: env.messageBody(),
    });

  // 1. Everything made under key A.
  let relay = await start({ ENCRYPTION_KEY: keyA });
  let token = await env.login(relay, 'admin', adminPassword);
  const acc = await env.createConsoleAccount(relay, token, {
    apiUrl: mock.url,
    proxy: { type: 'http', host: '127.0.0.1', port: proxy.port, username: 'pu', password: 'proxy-secret' },
  });
  const used = await env.createKey(relay, token, { name: 'used-during-rotation' });
  const idle = await env.createKey(relay, token, { name: 'idle-during-rotation' });
  assert.equal((await send(relay, used.apiKey)).status, 200);
  const accKey = `claude_console_account:${acc.id}`;
  const before = (await env.dumpRedis(redis.port))[accKey].value;
  const kidA = kidOf(before.apiKey);
  assert.equal(kidOf(before.proxyPassword), kidA);
  const indexBefore = await hashIndexKeys(redis.port);
  assert.equal(indexBefore.length, 2);
  await relay.stop();

  // 2. New key B, A as the old key: credentials re-sealed under B by the maintenance refresh.
  relay = await start({ ENCRYPTION_KEY: keyB, ENCRYPTION_KEY_OLD: keyA });
  await env.waitFor(
    async () => {
      const rec = (await env.dumpRedis(redis.port))[accKey].value;
      return kidOf(rec.apiKey) !== kidA && kidOf(rec.proxyPassword) !== kidA;
    },
    { timeout: 15000, what: 'account credentials re-sealed under the new key' },
  );
  mock.reset();
  assert.equal((await send(relay, used.apiKey)).status, 200);
  assert.equal(mock.messageRequests()[0].headers['x-api-key'], env.MOCK_ACCOUNT_KEY);
  const indexAfter = await hashIndexKeys(redis.port);
  assert.equal(indexAfter.length, 2, 'one index entry per key, none left behind');
  assert.notDeepEqual(indexAfter, indexBefore, 'the used key was re-indexed');
  const usedRec = (await env.dumpRedis(redis.port))[`api_key:${used.id}`].value;
  assert.ok(indexAfter.includes(`api_key_hash:${usedRec.keyHash}`), 'record keyHash follows the index');
  await relay.stop();

  // 3. Only B: the used key and the account keep working, through the proxy with its password.
  relay = await start({ ENCRYPTION_KEY: keyB });
  const proxied = proxy.log.filter((e) => !e.rejected).length;
  mock.reset();
  assert.equal((await send(relay, used.apiKey)).status, 200);
  assert.equal(mock.messageRequests()[0].headers['x-api-key'], env.MOCK_ACCOUNT_KEY);
  assert.equal(proxy.log.filter((e) => !e.rejected).length, proxied + 1);
  // A key nobody used while ENCRYPTION_KEY_OLD was set is still indexed under A: it must be
  // re-issued (docs/operations.md says so); it fails closed, as an unknown key.
  const r = await send(relay, idle.apiKey);
  assert.equal(r.status, 401);
  token = await env.login(relay, 'admin', adminPassword);
  const h = await env.api(relay, 'GET', '/health');
  assert.equal(h.status, 200);
  env.assertNoSanitizerErrors(relay);
});
