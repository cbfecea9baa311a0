'use strict';
// Model price table: seeded into Redis from the built-in table, read and replaced through the
// admin API, shared with a second relay on the same Redis (which reloads on a version change),
// bad tables refused with 400 naming the model and field, admin session required;
// scripts/load-pricing.sh loads a file through the API.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const env = require('../lib/env');
const { stack, api, login, waitFor, mkTmp, rmTmp, cleanupAfter, REPO_ROOT } = env;

const RELOAD = { PRICING_RELOAD_INTERVAL: 1 };
let st;
let second; // another relay process on the same Redis
let secondToken;
const defer = cleanupAfter(after);

before(async () => {
  st = await stack({ account: false, key: false, env: RELOAD });
  defer(() => st.teardown());
  // Same admin password: each relay applies ADMIN_PASSWORD to the shared credentials at start.
  const adminPassword = st.relay.adminPassword;
  second = await env.startRelay({ redisPort: st.redis.port, env: { ...RELOAD, ADMIN_PASSWORD: adminPassword } });
  defer(async () => {
    await second.stop();
    const rep = second.sanitizerReport();
    if (rep) throw new Error(`sanitizer report in the second relay:\n${rep.slice(0, 20000)}`);
  });
  secondToken = await login(second, st.relay.adminUser, adminPassword);
});

const table = (suffix) => ({
  [`test-model-${suffix}`]: { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6, litellm_provider: 'test' },
  'claude-sonnet-4-5': { input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5, cache_read_input_token_cost: 3e-7 },
});

test('the built-in table is seeded into Redis and served by GET /admin/models/pricing', async () => {
  const stored = await st.redis.cmd('GET', 'model_pricing');
  assert.ok(stored && JSON.parse(stored)['claude-sonnet-4-5'], 'model_pricing holds the table');
  assert.ok(Number(await st.redis.cmd('GET', 'model_pricing:version')) >= 1, 'version counter set');
  const r = await api(st.relay, 'GET', '/admin/models/pricing', { token: st.token });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.success, true);
  assert.equal(Object.keys(r.json.data).length, 222);
  assert.equal(r.json.data['claude-sonnet-4-5'].input_cost_per_token, 3e-6);
  assert.equal(r.json.data['claude-opus-4-1'].cache_creation_input_token_cost_above_1hr, 3e-5);
  const s = await api(st.relay, 'GET', '/admin/models/pricing/status', { token: st.token });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.data.initialized, true);
  assert.equal(s.json.data.modelCount, 222);
  assert.equal(s.json.data.source, 'redis');
});

test('no admin session → 401 on every pricing route', async () => {
  for (const [method, p] of [['GET', '/admin/models/pricing'], ['GET', '/admin/models/pricing/status'], ['PUT', '/admin/models/pricing']]) {
    const r = await api(st.relay, method, p, method === 'PUT' ? { body: table('x') } : {});
    assert.equal(r.status, 401, `${method} ${p}: ${r.text}`);
  }
  const forged = await api(st.relay, 'PUT', '/admin/models/pricing', { token: env.randomHex(32), body: table('x') });
  assert.equal(forged.status, 401, forged.text);
});

test('PUT replaces the table; GET reflects it; the second relay sees it after its reload', async () => {
  const before = Number(await st.redis.cmd('GET', 'model_pricing:version'));
  const r = await api(st.relay, 'PUT', '/admin/models/pricing', { token: st.token, body: table('a') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.equal(r.json.data.modelCount, 2);
  assert.equal(r.json.data.version, before + 1);
  const g = await api(st.relay, 'GET', '/admin/models/pricing', { token: st.token });
  assert.deepEqual(Object.keys(g.json.data).sort(), ['claude-sonnet-4-5', 'test-model-a']);
  assert.equal(g.json.data['test-model-a'].output_cost_per_token, 2e-6);
  assert.deepEqual(JSON.parse(await st.redis.cmd('GET', 'model_pricing')), g.json.data);
  // the second process only learns of it through its version check
  const seen = await waitFor(
    async () => {
      const x = await api(second, 'GET', '/admin/models/pricing', { token: secondToken });
      return x.json && x.json.data['test-model-a'] ? x.json : null;
    },
    { timeout: 8000, interval: 200, what: 'the second relay to reload the table' },
  );
  assert.equal(Object.keys(seen.data).length, 2);
  const s = await api(second, 'GET', '/admin/models/pricing/status', { token: secondToken });
  assert.equal(s.json.data.version, before + 1);
  assert.ok(second.logs().includes('price table loaded from Redis'), 'reload logged');
});

test('bad tables → 400 naming the model and field; nothing changes', async () => {
  const cases = [
    ['{not json', /not valid JSON/],
    [[1, 2], /JSON object/],
    [{}, /no models/],
    [{ 'bad-model': 5 }, /bad-model.*object/],
    [{ 'bad-model': { input_cost_per_token: -1, output_cost_per_token: 1e-6 } }, /bad-model.*input_cost_per_token/],
    [{ ok: { input_cost_per_token: 1e-6, output_cost_per_token: 1e-6 }, 'bad-model': { output_cost_per_token: '3e-6' } }, /bad-model.*output_cost_per_token/],
    [{ 'bad-model': { cache_read_input_token_cost: 7 } }, /bad-model.*cache_read_input_token_cost/],
  ];
  const version = await st.redis.cmd('GET', 'model_pricing:version');
  for (const [body, re] of cases) {
    const r = await api(st.relay, 'PUT', '/admin/models/pricing', { token: st.token, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error, 'Invalid pricing table');
    assert.match(r.json.message, re);
  }
  assert.equal(await st.redis.cmd('GET', 'model_pricing:version'), version, 'no write on a bad table');
  const g = await api(st.relay, 'GET', '/admin/models/pricing', { token: st.token });
  assert.ok(g.json.data['test-model-a'], 'previous table still served');
});

test('a broken table written to Redis by hand is ignored; the last good table stays', async () => {
  await st.redis.cmd('SET', 'model_pricing', '{"broken":');
  await st.redis.cmd('INCR', 'model_pricing:version');
  await waitFor(() => second.logs().includes('is not a valid table'), { timeout: 8000, what: 'the warning' });
  const g = await api(second, 'GET', '/admin/models/pricing', { token: secondToken });
  assert.equal(g.status, 200);
  assert.ok(g.json.data['test-model-a'], 'last good table still served');
});

test('scripts/load-pricing.sh loads a file through the admin API (back to the built-in table)', async () => {
  const file = path.join(REPO_ROOT, 'server/store/model_prices.json');
  const out = await new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(REPO_ROOT, 'scripts/load-pricing.sh'), '-r', st.relay.url, file],
      { env: { PATH: process.env.PATH, ADMIN_USERNAME: st.relay.adminUser, ADMIN_PASSWORD: st.relay.adminPassword }, timeout: 20000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  assert.match(out, /"success":true/);
  const g = await api(st.relay, 'GET', '/admin/models/pricing', { token: st.token });
  assert.equal(Object.keys(g.json.data).length, 222);
  await waitFor(
    async () => {
      const x = await api(second, 'GET', '/admin/models/pricing', { token: secondToken });
      return x.json && Object.keys(x.json.data).length === 222;
    },
    { timeout: 8000, interval: 200, what: 'the second relay to reload the built-in table' },
  );
  const bad = mkTmp('pricing-');
  try {
    fs.writeFileSync(path.join(bad, 'bad.json'), '{"m": {"input_cost_per_token": "x"}}');
    const code = await new Promise((resolve) => {
      execFile('bash', [path.join(REPO_ROOT, 'scripts/load-pricing.sh'), '-r', st.relay.url, path.join(bad, 'bad.json')], {
        env: { PATH: process.env.PATH, ADMIN_USERNAME: st.relay.adminUser, ADMIN_PASSWORD: st.relay.adminPassword },
      }, (err) => resolve(err ? err.code : 0));
    });
    assert.equal(code, 1, 'a refused table fails the script');
  } finally {
    rmTmp(bad);
  }
});
