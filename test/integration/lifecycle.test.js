'use strict';
// Process lifecycle: configuration errors, the private redis-server (persistence across
// restarts), Redis over TLS, admin bootstrap without preset credentials, graceful shutdown.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const env = require('../lib/env');

// Runs the relay expecting it to exit; returns {code, out}.
function runToExit(extraEnv, { timeout = 15000 } = {}) {
  const cwd = env.mkTmp('relay-exit-');
  const childEnv = { PATH: process.env.PATH, HOME: cwd, LANG: 'C.UTF-8', ...extraEnv };
  for (const k of Object.keys(process.env)) if (/_OPTIONS$/.test(k)) childEnv[k] = process.env[k];
  return new Promise((resolve) => {
    const p = spawn(env.relayBinPath(), [], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('exit', (code) => {
      clearTimeout(t);
      env.rmTmp(cwd);
      resolve({ code, out });
    });
  });
}

test('missing secrets: the customer\'s message, exit 1; every bad value reported at once', async () => {
  const r = await runToExit({ PORT: 'abc', REDIS_DB: '99', LOG_LEVEL: 'loud' });
  assert.equal(r.code, 1);
  assert.match(r.out, /Error: JWT_SECRET or ENCRYPTION_KEY is not set/);
  for (const v of ['PORT', 'REDIS_DB', 'LOG_LEVEL', 'JWT_SECRET', 'ENCRYPTION_KEY']) assert.match(r.out, new RegExp(`${v}:`));
  const short = await runToExit({ JWT_SECRET: 'short', ENCRYPTION_KEY: env.randomHex(32) });
  assert.equal(short.code, 1);
  assert.match(short.out, /JWT_SECRET: must be at least 32 characters/);
});

test('Redis unreachable at start: "Redis connection failed: host:port: reason", exit 1', async () => {
  const port = await env.closedPort();
  const r = await runToExit({
    JWT_SECRET: env.randomHex(32), ENCRYPTION_KEY: env.randomHex(32), REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port),
  });
  assert.equal(r.code, 1);
  assert.match(r.out, new RegExp(`Redis connection failed: 127\\.0\\.0\\.1:${port}: Connection refused`));
});

test('no Redis configured: private redis-server with RDB+AOF, data survives a restart, child stopped', async () => {
  const cwd = env.mkTmp('relay-embedded-');
  try {
    const noRedis = { REDIS_HOST: null, REDIS_PORT: null, ADMIN_USERNAME: null, ADMIN_PASSWORD: null };
    const relay = await env.startRelay({ redisPort: 0, env: noRedis, cwd });
    const init = JSON.parse(fs.readFileSync(path.join(cwd, 'data', 'init.json'), 'utf8'));
    assert.equal(fs.statSync(path.join(cwd, 'data', 'init.json')).mode & 0o777, 0o600);
    assert.match(init.adminUsername, /^cr_admin_[0-9a-f]{8}$/);
    assert.ok(init.adminPassword.length >= 20);
    assert.ok(relay.logs().includes(init.adminPassword), 'password printed once on first start');
    const token = await env.login(relay, init.adminUsername, init.adminPassword);
    const key = await env.createKey(relay, token, { name: 'persisted' });
    const pid = Number(/private redis-server started \(pid (\d+)/.exec(relay.logs())[1]);
    assert.equal(await relay.stop(), 0);
    assert.throws(() => process.kill(pid, 0), 'redis-server child is gone after the relay stops');
    const files = fs.readdirSync(path.join(cwd, 'data', 'redis'));
    assert.ok(files.includes('dump.rdb') || files.includes('appendonlydir'), files.join(','));

    const again = await env.startRelay({ redisPort: 0, env: noRedis, cwd });
    assert.ok(!again.logs().includes(init.adminPassword), 'password not printed again');
    const t2 = await env.login(again, init.adminUsername, init.adminPassword);
    const r = await env.api(again, 'GET', `/admin/api-keys/${key.id}`, { token: t2 });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.name, 'persisted');
    assert.equal(await again.stop(), 0);
    env.assertNoSanitizerErrors(relay);
    env.assertNoSanitizerErrors(again);
  } finally {
    env.rmTmp(cwd);
  }
});

function makeCerts(dir) {
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=relay-test-ca']);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
}

async function startTlsRedis(dir, password) {
  const port = await env.freePort();
  const p = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--tls-cert-file', 'server.crt', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.crt',
    '--tls-auth-clients', 'no', '--requirepass', password], { cwd: dir, stdio: 'ignore' });
  await env.waitFor(() => {
    try {
      execFileSync('redis-cli', ['--tls', '--cacert', path.join(dir, 'ca.crt'), '-p', String(port), '-a', password, '--no-auth-warning', 'ping'], { stdio: 'pipe' });
      return true;
    } catch (_) {
      return false;
    }
  }, { timeout: 10000, what: 'TLS redis-server' });
  return { port, stop: () => p.kill('SIGKILL') };
}

test('Redis over TLS (rediss:// with password and db): verified certificate; unknown CA refused', async () => {
  const dir = env.mkTmp('relay-tls-');
  const pw = env.randomAlnum(24);
  makeCerts(dir);
  const redis = await startTlsRedis(dir, pw);
  try {
    const url = `rediss://:${pw}@localhost:${redis.port}/3`;
    const relay = await env.startRelay({ redisPort: 0, env: { REDIS_HOST: null, REDIS_PORT: null, REDIS_URL: url, REDIS_TLS_CA_FILE: path.join(dir, 'ca.crt') } });
    const token = await env.login(relay);
    const key = await env.createKey(relay, token, { name: 'over-tls' });
    const h = await env.api(relay, 'GET', '/health');
    assert.equal(h.json.components.redis.status, 'healthy');
    const got = execFileSync('redis-cli', ['--tls', '--cacert', path.join(dir, 'ca.crt'), '-p', String(redis.port), '-a', pw, '--no-auth-warning',
      '-n', '3', 'HGET', `api_key:${key.id}`, 'name']).toString().trim();
    assert.equal(got, 'over-tls', 'written to db 3 over TLS');
    assert.ok(!relay.logs().includes(pw), 'Redis password never logged');
    assert.equal(await relay.stop(), 0);
    env.assertNoSanitizerErrors(relay);

    const bad = await runToExit({ JWT_SECRET: env.randomHex(32), ENCRYPTION_KEY: env.randomHex(32), REDIS_URL: url });
    assert.equal(bad.code, 1);
    assert.match(bad.out, /Redis connection failed: localhost:\d+: TLS handshake: certificate verify failed/);
    assert.ok(!bad.out.includes(pw));
  } finally {
    redis.stop();
    env.rmTmp(dir);
  }
});

test('SIGTERM: running streams finish, then a clean exit 0', async () => {
  const st = await env.stack();
  try {
    const streaming = env.sseRequest(`${st.relay.url}/api/v1/messages`, {
      headers: { 'x-api-key': st.key.apiKey },
      body: env.messageBody('mock-slow-chunks-10-100', { stream: true }),
    });
    await env.sleep(300);
    st.relay.proc.kill('SIGTERM');
    const res = await streaming;
    assert.equal(res.status, 200);
    assert.ok(res.events.some((e) => e.event === 'message_stop'), 'the stream ran to its end');
    assert.equal(await st.relay.stop(), 0);
    assert.match(st.relay.logs(), /shutting down/);
  } finally {
    await st.teardown();
  }
});
