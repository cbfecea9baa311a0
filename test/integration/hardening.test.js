'use strict';
// Issue 9, the hardened front door: log injection, half-open connections, proxies and client
// addresses, login throttling, password-hash isolation, usage spool, port reuse, small protocol
// checks. Each test states the figure it measured (printed as name=value).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { stack, mkTmp, rmTmp, procStatus, startRedis, waitForUsage, httpRequest, messageBody, anthropicErrorProblem, sleep, waitFor } = require('../lib/env');

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

// Sends raw bytes, collects everything the server sends until it closes (or timeout ms).
function rawExchange(port, bytes, { timeout = 3000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const t = setTimeout(() => s.destroy(), timeout);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

function logFileText(relay) {
  const dir = path.join(relay.cwd, 'logs');
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}

test('row 9: a %0a in the path cannot forge a log line (stdout and log file)', async () => {
  const forged = 'FORGED-LINE INFO auth admin logged in from 1.2.3.4';
  const res = await rawExchange(st.relay.port, `GET /nope%0a${encodeURIComponent(forged)}%0d%1b[2J HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(res, /^HTTP\/1\.1 404/);
  await waitFor(() => st.relay.logs().includes('FORGED-LINE'), { what: 'the access line' });
  const outputs = { stdout: st.relay.logs(), file: await waitFor(() => logFileText(st.relay).includes('FORGED') && logFileText(st.relay)) };
  for (const [where, text] of Object.entries(outputs)) {
    const lines = text.split('\n');
    assert.ok(!lines.some((l) => l.startsWith('FORGED')), `${where}: a line starts with the forged text`);
    assert.ok(lines.some((l) => l.includes('/nope\\x0aFORGED-LINE')), `${where}: escaped path in the access line`);
    assert.ok(!text.includes('\x1b'), `${where}: raw ESC byte logged`);
  }
});

test('row 7: a second relay on the same port refuses to start ("address already in use")', async () => {
  const cwd = mkTmp('relay-second-');
  const proc = spawn(st.relay.bin, [], { cwd, env: { ...st.relay.env, HOME: cwd, TMPDIR: cwd }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const t0 = Date.now();
  const code = await new Promise((resolve) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve('still running after 10 s');
    }, 10000);
    proc.on('exit', (c, sig) => {
      clearTimeout(t);
      resolve(c !== null ? c : sig);
    });
  });
  rmTmp(cwd);
  console.log(`second_relay_exit=${code} after_ms=${Date.now() - t0}`);
  assert.notEqual(code, 0, `second relay: exit ${code}\n${out.slice(-2000)}`);
  assert.equal(typeof code, 'number', `second relay: ${code}`);
  assert.match(out, /address already in use/i);
  // the first one is untouched
  for (let i = 0; i < 20; i++) assert.equal((await httpRequest(st.relay.url + '/health', { agent: false })).status, 200);
});

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// Opens a connection, sends `bytes`, then closes it normally (FIN) without waiting for an answer.
function sendAndClose(port, bytes) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(bytes));
    s.on('error', () => {});
    s.on('finish', () => {
      s.destroy();
      resolve();
    });
    s.on('close', resolve);
  });
}

// Opens n connections that send `bytes` and stay open; resolves with the sockets once connected.
async function openIdle(port, n, bytes = '') {
  const socks = [];
  for (let i = 0; i < n; i++) {
    socks.push(
      await new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          if (bytes) s.write(bytes);
          resolve(s);
        });
        s.closedByPeer = false;
        s.on('end', () => (s.closedByPeer = true));
        s.on('close', () => (s.closedByPeer = true));
        s.on('error', () => (s.closedByPeer = true));
        s.resume();
      }),
    );
  }
  return socks;
}

test('row 1: 300 half-open-then-closed connections free their fds within seconds; /health answers throughout', { timeout: 60000 }, async () => {
  const pid = st.relay.pid;
  await sleep(200);
  const base = fdCount(pid);
  const partials = [
    'POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Le',
    'POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":',
    'GET /health HTTP/1.1\r\nHo',
  ];
  let healthFailures = 0;
  let healthCalls = 0;
  let stop = false;
  const prober = (async () => {
    while (!stop) {
      const h = await httpRequest(st.relay.url + '/health', { timeout: 2000 }).catch((e) => ({ status: 0, e }));
      healthCalls++;
      if (h.status !== 200) healthFailures++;
      await sleep(100);
    }
  })();
  const N = 300;
  for (let i = 0; i < N; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => sendAndClose(st.relay.port, partials[(i + j) % partials.length])));
  }
  const peak = fdCount(pid);
  const t0 = Date.now();
  let after = peak;
  try {
    await waitFor(() => (after = fdCount(pid)) <= base + 3, { timeout: 5000, interval: 100, what: `fd count back to ${base}` });
  } finally {
    stop = true;
    await prober;
  }
  console.log(`half_open: connections=${N} fds_base=${base} fds_after_send=${peak} fds_after=${after} back_in_ms=${Date.now() - t0} health_calls=${healthCalls} health_failures=${healthFailures}`);
  assert.equal(healthFailures, 0, '/health failed while the connections were closing');
  assert.ok(healthCalls >= 1);
});

test('row 1: limits — short header timeout, long streams uncut, per-address cap, global cap answers 503', { timeout: 60000 }, async () => {
  const s2 = await stack({ relayEnv: { REQUEST_HEADER_TIMEOUT: '1000', MAX_CONNECTIONS: '16', MAX_CONNECTIONS_PER_IP: '0' } });
  try {
    // a client that never finishes its headers is cut after the header timeout
    const [slow] = await openIdle(s2.relay.port, 1, 'POST /api/v1/messages HTTP/1.1\r\nHost: x\r\n');
    const t0 = Date.now();
    await waitFor(() => slow.closedByPeer, { timeout: 4000, interval: 50, what: 'slow header client closed' });
    console.log(`header_timeout_cut_ms=${Date.now() - t0}`);
    // ... but a stream whose events are further apart than that timeout is not
    const r = await s2.stream(messageBody('mock-slow-chunks-2-1800'), { timeout: 20000 });
    assert.equal(r.status, 200);
    assert.ok(r.events.some((e) => e.event === 'message_stop'), `stream completed: ${r.text.slice(-300)}`);
    const slowJson = await s2.send(messageBody('mock-slow-first-byte-1800'), { timeout: 20000 });
    assert.equal(slowJson.status, 200, slowJson.text);
    // above MAX_CONNECTIONS: a clear 503, not a silent hang in the backlog
    const idle = await openIdle(s2.relay.port, 20);
    await sleep(200);
    const res = await rawExchange(s2.relay.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 3000 });
    for (const s of idle) s.destroy();
    assert.match(res, /^HTTP\/1\.1 503/, res.slice(0, 300));
    const body = JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4));
    assert.equal(anthropicErrorProblem(body), null);
    assert.match(body.error.message, /connections/i);
    await waitFor(async () => (await httpRequest(s2.relay.url + '/health')).status === 200, { timeout: 5000, what: 'healthy after the idle clients left' });
  } finally {
    await s2.teardown();
  }
  const s3 = await stack({ relayEnv: { MAX_CONNECTIONS_PER_IP: '8' } });
  try {
    await sleep(5000); // the setup's keep-alive connections (fetch) idle out first
    const socks = await openIdle(s3.relay.port, 14);
    await waitFor(() => socks.filter((s) => s.closedByPeer).length >= 6, { timeout: 3000, what: 'connections over the per-address cap closed' });
    const refused = socks.filter((s) => s.closedByPeer).length;
    for (const s of socks) s.destroy();
    console.log(`per_ip_cap=8 opened=14 refused=${refused}`);
    await waitFor(async () => (await httpRequest(s3.relay.url + '/health')).status === 200, { timeout: 5000, what: 'healthy again' });
  } finally {
    await s3.teardown();
  }
});

async function badLogin(relay, headers = {}, username = relay.adminUser) {
  return httpRequest(relay.url + '/web/auth/login', { method: 'POST', headers, body: { username, password: 'wrong-password-123' } });
}

test('row 3: TRUST_PROXY uses the address the proxy appended (rightmost), TRUST_PROXY_HOPS counts proxies', async () => {
  const s2 = await stack({ relayEnv: { TRUST_PROXY: 'true' }, account: false, key: false });
  const s3 = await stack({ relayEnv: { TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }, account: false, key: false });
  try {
    await badLogin(s2.relay, { 'x-forwarded-for': '6.6.6.6, 203.0.113.5' });
    await waitFor(() => /failed admin login[^\n]* from 203\.0\.113\.5/.test(s2.relay.logs()), { what: 'login failure logged with the proxy-appended address' });
    assert.ok(!/from 6\.6\.6\.6/.test(s2.relay.logs()), 'the client-written entry was used');
    // two headers are one list; the last proxy's entry is the last one
    await badLogin(s2.relay, { 'x-forwarded-for': ['9.9.9.9', '198.51.100.7'] });
    await waitFor(() => /from 198\.51\.100\.7/.test(s2.relay.logs()), { what: 'second header used' });
    await badLogin(s3.relay, { 'x-forwarded-for': '6.6.6.6, 192.0.2.44, 10.0.0.2' });
    await waitFor(() => /failed admin login[^\n]* from 192\.0\.2\.44/.test(s3.relay.logs()), { what: 'hops=2 → second from the right' });
  } finally {
    await s2.teardown();
    await s3.teardown();
  }
});

// A login that retries while the relay says 503 (all password-check slots busy).
async function loginAttempt(relay, password, xff) {
  for (let i = 0; i < 200; i++) {
    const r = await httpRequest(relay.url + '/web/auth/login', { method: 'POST', headers: { 'x-forwarded-for': xff }, body: { username: relay.adminUser, password } });
    if (r.status !== 503) return r;
    await sleep(20 + Math.random() * 30);
  }
  throw new Error('login stayed 503');
}

test('row 4: 13 parallel wrong logins → exactly 10 checked; delays grow instead of a lock-out; the right password still gets in', { timeout: 60000 }, async () => {
  const s2 = await stack({ relayEnv: { TRUST_PROXY: 'true' }, account: false, key: false });
  try {
    const rs = await Promise.all(Array.from({ length: 13 }, () => loginAttempt(s2.relay, 'wrong-password-123', '10.0.0.1')));
    const counts = {};
    for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
    console.log(`parallel_wrong_logins=13 statuses=${JSON.stringify(counts)}`);
    assert.deepEqual(counts, { 401: 10, 429: 3 });
    const throttled = rs.find((r) => r.status === 429);
    const retry = Number(throttled.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
    // another address, same user name: not delayed at all
    const other = await loginAttempt(s2.relay, s2.relay.adminPassword, '10.0.0.2');
    assert.equal(other.status, 200, other.text);
    // the same address: only the current (short) delay, then the right password works
    let r = await loginAttempt(s2.relay, s2.relay.adminPassword, '10.0.0.1');
    const t0 = Date.now();
    if (r.status === 429) {
      await sleep(Number(r.headers['retry-after']) * 1000 + 50);
      r = await loginAttempt(s2.relay, s2.relay.adminPassword, '10.0.0.1');
    }
    console.log(`right_password_after_10_failures: status=${r.status} waited_ms=${Date.now() - t0}`);
    assert.equal(r.status, 200, r.text);
    // the success cleared the record: the next typo is not delayed
    assert.equal((await loginAttempt(s2.relay, 'wrong-password-123', '10.0.0.1')).status, 401);
    // the records exist, under a keyed hash of the user name
    const keys = (await s2.redis.cli('KEYS', 'login_throttle*')).split('\n').filter(Boolean);
    assert.ok(keys.some((k) => k.startsWith('login_throttle:')) && keys.some((k) => k.startsWith('login_throttle_addr:')), `keys: ${keys}`);
    assert.ok(!keys.some((k) => k.includes(s2.relay.adminUser)), 'user name is hashed in key names');
  } finally {
    await s2.teardown();
  }
});

test('row 5: 32 parallel logins do not slow relay requests (bounded password hashing)', { timeout: 60000 }, async () => {
  const s2 = await stack({ bin: process.env.RELAY_BIN_RELEASE || 'build/relay' });
  try {
    const pid = s2.relay.pid;
    for (let i = 0; i < 3; i++) await s2.send(messageBody());
    const base = procStatus(pid);
    const lat = [];
    let stop = false;
    const relayLoop = (async () => {
      while (!stop) {
        const t = Date.now();
        const r = await s2.send(messageBody());
        lat.push(Date.now() - t);
        assert.equal(r.status, 200);
      }
    })();
    const t0 = Date.now();
    const rs = await Promise.all(
      Array.from({ length: 32 }, () => httpRequest(s2.relay.url + '/web/auth/login', { method: 'POST', body: { username: s2.relay.adminUser, password: s2.relay.adminPassword } })),
    );
    const loginsMs = Date.now() - t0;
    await sleep(300);
    stop = true;
    await relayLoop;
    const end = procStatus(pid);
    const counts = {};
    for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
    lat.sort((a, b) => a - b);
    const max = lat[lat.length - 1];
    const p50 = lat[Math.floor(lat.length / 2)];
    const hwmGrowMb = (end.hwmKb - base.hwmKb) / 1024;
    console.log(`parallel_logins=32 statuses=${JSON.stringify(counts)} logins_ms=${loginsMs} relay_requests=${lat.length} relay_p50_ms=${p50} relay_max_ms=${max} rss_base_mb=${(base.rssKb / 1024).toFixed(1)} hwm_growth_mb=${hwmGrowMb.toFixed(1)}`);
    assert.ok((counts[200] || 0) >= 1, 'some logins succeeded');
    assert.equal((counts[200] || 0) + (counts[503] || 0), 32, 'only 200 or 503 (busy, Retry-After)');
    const busy = rs.find((r) => r.status === 503);
    if (busy) assert.equal(busy.headers['retry-after'], '1');
    assert.ok(max < 500, `relay max latency ${max} ms during the logins`);
    assert.ok(hwmGrowMb < 150, `VmHWM grew ${hwmGrowMb.toFixed(1)} MB`);
  } finally {
    await s2.teardown();
  }
});

test('row 6: Redis kill -9 while 20 streams run, restarted after they finish → no usage lost (spool + retry)', { timeout: 60000 }, async () => {
  const s2 = await stack();
  let redis2 = null;
  try {
    const port = s2.redis.port;
    const streams = Array.from({ length: 20 }, () => s2.stream(messageBody('mock-slow-chunks-4-300'), { timeout: 20000 }));
    await sleep(400);
    s2.redis.proc.kill('SIGKILL');
    const results = await Promise.all(streams);
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill(200),
    );
    assert.ok(results.every((r) => r.events.some((e) => e.event === 'message_stop')), 'all 20 streams completed');
    const down = await waitFor(
      async () => {
        const h = await httpRequest(s2.relay.url + '/health');
        return h.json && h.json.components.usage.spooled === 20 && h.json;
      },
      { timeout: 5000, what: '/health shows 20 spooled usages' },
    );
    assert.equal(down.components.usage.dropped, 0);
    await sleep(1500);
    redis2 = await startRedis({ port });
    const t0 = Date.now();
    const u = await waitForUsage(port, s2.key.id, 20, 15000);
    console.log(`usage_after_redis_restart: requests=${u.requests} output_tokens=${u.outputTokens} landed_ms=${Date.now() - t0}`);
    assert.equal(u.requests, 20);
    assert.equal(u.outputTokens, 20 * 4);
    const h = await waitFor(async () => {
      const r = await httpRequest(s2.relay.url + '/health');
      return r.status === 200 && r.json.components.usage.spooled === 0 && r.json;
    }, { timeout: 5000, what: 'healthy, spool empty' });
    assert.equal(h.components.usage.dropped, 0);
  } finally {
    await s2.teardown();
    if (redis2) await redis2.stop();
  }
});

test('row 10: /health answers within 1 s while Redis is paused (SIGSTOP), and HEAD /health is 200 without a body', { timeout: 30000 }, async () => {
  const head = await httpRequest(st.relay.url + '/health', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  const s2 = await stack({ account: false, key: false });
  try {
    process.kill(s2.redis.pid, 'SIGSTOP');
    const t0 = Date.now();
    const times = [];
    let first503 = null;
    try {
      // the cached probe may be up to a second old; after that every answer is 503
      while (Date.now() - t0 < 4000) {
        const t = Date.now();
        const h = await httpRequest(s2.relay.url + '/health', { timeout: 4000 });
        times.push(Date.now() - t);
        if (h.status === 503 && first503 === null) first503 = Date.now() - t0;
        if (first503 !== null) assert.equal(h.status, 503, 'stays 503 while Redis is paused');
        await sleep(150);
      }
    } finally {
      process.kill(s2.redis.pid, 'SIGCONT');
    }
    console.log(`health_with_redis_paused: first_503_after_ms=${first503} answer_ms_max=${Math.max(...times)} answers=${times.length}`);
    assert.ok(first503 !== null && first503 < 2500, `first 503 after ${first503} ms`);
    assert.ok(Math.max(...times) < 1200, `slowest /health ${Math.max(...times)} ms`);
    await waitFor(async () => (await httpRequest(s2.relay.url + '/health')).status === 200, { timeout: 10000, what: 'healthy after SIGCONT' });
  } finally {
    await s2.teardown();
  }
});

test('row 10: duplicate Content-Length → 400 and close; duplicate JSON keys → 400 in Anthropic shape', async () => {
  const dupCl = await rawExchange(
    st.relay.port,
    `POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ${st.key.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}`,
  );
  assert.match(dupCl, /^HTTP\/1\.1 400 /, dupCl.slice(0, 200));
  assert.match(dupCl, /connection: close/i);
  assert.match(dupCl, /Duplicate Content-Length/);
  assert.equal((dupCl.match(/HTTP\/1\.1 /g) || []).length, 1, 'one response only');
  st.mock.reset();
  const body = '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"model":"claude-opus-5-5"}';
  const r = await st.send(body, { headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(anthropicErrorProblem(r.json), null, r.text);
  assert.equal(r.json.error.type, 'invalid_request_error');
  const nested = '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"a","content":"b"}]}';
  assert.equal((await st.send(nested, { headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal(st.mock.messageRequests().length, 0, 'nothing reached the upstream');
  assert.equal((await st.send(messageBody())).status, 200, 'a normal body still passes');
});

test('row 10: a symlink in the admin-ui folder is not followed', async () => {
  const ui = path.join(st.relay.cwd, 'ui');
  fs.mkdirSync(ui, { recursive: true });
  fs.writeFileSync(path.join(ui, 'index.html'), '<html>ok</html>');
  fs.writeFileSync(path.join(st.relay.cwd, 'secret.txt'), 'TOP-SECRET-CONTENT');
  fs.symlinkSync(path.join(st.relay.cwd, 'secret.txt'), path.join(ui, 'leak.js'));
  const s2 = await stack({ relayEnv: { ADMIN_UI_DIR: ui }, account: false, key: false });
  try {
    assert.equal((await httpRequest(s2.relay.url + '/web/index.html')).status, 200);
    const r = await httpRequest(s2.relay.url + '/web/leak.js');
    assert.equal(r.status, 404, r.text);
    assert.ok(!r.text.includes('TOP-SECRET'), 'symlink target served');
  } finally {
    await s2.teardown();
  }
});

// libmicrohttpd's per-connection pool (CONNECTION_MEMORY, sized for 5,000 streams in little
// memory) must still hold a browser's or SDK's request headers: 9 KB of them get through, a
// header block far past the pool is refused (431), and the relay serves the next request.
test('row 10: 9 KB of request headers are served; 20 KB are refused with 431', async () => {
  const headers = { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' };
  for (let i = 0; i < 9; i++) headers[`x-pad-${i}`] = 'p'.repeat(1000);
  const ok = await httpRequest(`${st.relay.url}/api/v1/messages`, { method: 'POST', headers, body: messageBody() });
  assert.equal(ok.status, 200, ok.text);
  const big = await rawExchange(st.relay.port, `GET /health HTTP/1.1\r\nHost: x\r\nx-pad: ${'q'.repeat(20000)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431 /, big.slice(0, 100));
  assert.equal((await st.send(messageBody())).status, 200);
});
