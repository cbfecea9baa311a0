'use strict';
// Issue 9 row 2: request bodies cannot take the relay's memory. A relay route without a
// well-formed key is refused from its headers (no body byte read); the telemetry sink takes
// 64 KiB; a chunked body is refused as soon as it passes the limit; all bodies together are
// capped by REQUEST_BODIES_MAX_MB (503). Each test prints what it measured (name=value).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { httpRequest, stack, mkTmp, rmTmp, startRelay, login, createConsoleAccount, createKey, procStatus, sleep, anthropicErrorProblem, MOCK_ACCOUNT_KEY } = require('../lib/env');

const MiB = 1024 * 1024;
let st; // default limits (REQUEST_MAX_SIZE_MB=100, REQUEST_BODIES_MAX_MB=256)
let small; // REQUEST_MAX_SIZE_MB=4, REQUEST_BODIES_MAX_MB=6, on the same Redis and mock
let smallKey;
let tmpDir;

before(async () => {
  st = await stack();
  small = await startRelay({ redisPort: st.redis.port, env: { REQUEST_MAX_SIZE_MB: 4, REQUEST_BODIES_MAX_MB: 6 } });
  const token = await login(small);
  await createConsoleAccount(small, token, { name: 'mock-small', apiUrl: st.mock.url, apiKey: MOCK_ACCOUNT_KEY });
  smallKey = (await createKey(small, token, { name: 'small' })).apiKey;
});

after(async () => {
  if (small) await small.stop();
  if (st) await st.teardown();
  rmTmp(tmpDir);
  if (small && small.sanitizerReport()) throw new Error(`sanitizer report:\n${small.sanitizerReport()}`);
});

// A JSON messages body of about `bytes` bytes.
function bigMessage(bytes) {
  const head = '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"';
  const tail = '"}]}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail);
}

// A file of `bytes` zero bytes (sparse: costs no disk).
function zeroFile(bytes) {
  if (!tmpDir) tmpDir = mkTmp('relay-bodies-');
  const f = path.join(tmpDir, `zero-${bytes}`);
  if (!fs.existsSync(f)) {
    fs.writeFileSync(f, '');
    fs.truncateSync(f, bytes);
  }
  return f;
}

// curl uploads `bytes` (a file streamed from disk: -T) and reads the answer while it sends,
// as a real client does. Resolves {status, json, sent (curl's size_upload), ms, raw}.
function curlPush(relay, p, { headers = {}, bytes, chunked = false } = {}) {
  const args = ['-s', '-X', 'POST', '-T', zeroFile(bytes), '-D', '-', '-w', '\n%{http_code} %{size_upload}', '-H', 'Content-Type: application/json', '-H', 'Expect:'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (chunked) args.push('-H', 'Transfer-Encoding: chunked');
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile('curl', [...args, relay.url + p], { maxBuffer: 1 << 20 }, (err, stdout) => {
      const m = /\n(\d{3}) (\d+)$/.exec(stdout);
      const bodyAt = stdout.indexOf('\r\n\r\n') + 4;
      let json;
      try {
        json = JSON.parse(stdout.slice(bodyAt, m ? m.index : undefined));
      } catch (_) {
        json = undefined;
      }
      resolve({ status: m ? Number(m[1]) : 0, sent: m ? Number(m[2]) : -1, json, ms: Date.now() - t0, raw: stdout.slice(0, 2000) });
    });
  });
}

// Node client for a body that pauses: sends the head and `body` up to holdAt bytes, then
// the rest after resume(). Resolves {status, raw}.
function heldPush(port, p, { headers = {}, body, holdAt }) {
  const h = { Host: 'relay', 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers };
  const head = `POST ${p} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
  let resume;
  const resumed = new Promise((r) => (resume = r));
  const done = new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(head);
      s.write(body.subarray(0, holdAt));
      resumed.then(() => s.write(body.subarray(holdAt)));
    });
    let raw = '';
    s.on('data', (d) => (raw += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
      resolve({ status: m ? Number(m[1]) : 0, raw });
    });
  });
  return { done, resume: () => resume() };
}

// Runs fn while sampling the relay's VmRSS; returns [result, peakGrowthMb].
async function withRss(relay, fn) {
  const base = procStatus(relay.pid).rssKb;
  let peak = base;
  let on = true;
  const sampler = (async () => {
    while (on) {
      peak = Math.max(peak, procStatus(relay.pid).rssKb);
      await sleep(20);
    }
  })();
  const r = await fn();
  await sleep(200);
  on = false;
  await sampler;
  peak = Math.max(peak, procStatus(relay.pid).rssKb);
  return [r, (peak - base) / 1024, base / 1024];
}

const EIGHT = [...Array(8).keys()];

test('row 2: 8 clients sending 99 MiB without a key: 401 from the headers, body not read, RSS flat', async () => {
  const variants = [{}, { 'x-api-key': 'cr_not-a-key' }, { authorization: 'Bearer ' + 'cr_' + 'A'.repeat(64) }];
  const [results, growMb, baseMb] = await withRss(st.relay, () =>
    Promise.all(EIGHT.map((i) => curlPush(st.relay, i % 2 ? '/v1/messages' : '/api/v1/messages', { headers: variants[i % 3], bytes: 99 * MiB }))),
  );
  const maxSent = Math.max(...results.map((r) => r.sent));
  const answered = results.filter((r) => r.status === 401).length;
  console.log(`nokey_clients=8 answered_401=${answered} rss_base_mb=${baseMb.toFixed(1)} rss_growth_mb=${growMb.toFixed(1)} max_body_bytes_sent=${maxSent} max_ms=${Math.max(...results.map((r) => r.ms))}`);
  // The relay answers and closes without reading the body; the kernel then resets the
  // connection (unread bytes), and a client still writing may see the reset before it has
  // read the answer (status 0). It never gets anything else, and most read the 401.
  assert.ok(answered >= 4, `only ${answered} of 8 clients read the 401`);
  for (const r of results.filter((x) => x.status !== 0)) {
    assert.equal(r.status, 401, r.raw.slice(0, 300));
    assert.equal(anthropicErrorProblem(r.json), null);
    assert.equal(r.json.error.type, 'authentication_error');
    assert.match(r.raw, /x-should-retry: false/i);
  }
  for (const r of results) assert.ok(r.sent < 16 * MiB, `a refused client sent ${r.sent} body bytes`);
  assert.ok(growMb < 40, `relay RSS grew by ${growMb.toFixed(1)} MB`);
  const h = await fetch(`${st.relay.url}/health`);
  assert.equal(h.status, 200);
});

test('row 2: 8 clients sending 99 MiB to the telemetry sink: 413 at once, RSS flat; small batches still 200', async () => {
  const paths = ['/api/event_logging/batch', '/api/api/event_logging/batch', '/claude/api/event_logging/batch'];
  const [results, growMb] = await withRss(st.relay, () =>
    Promise.all(EIGHT.map((i) => curlPush(st.relay, paths[i % 3], { bytes: 99 * MiB, chunked: i % 2 === 1 }))),
  );
  const maxSent = Math.max(...results.map((r) => r.sent));
  console.log(`telemetry_clients=8 rss_growth_mb=${growMb.toFixed(1)} max_body_bytes_sent=${maxSent}`);
  const answered = results.filter((r) => r.status === 413).length;
  console.log(`telemetry_answered_413=${answered}`);
  assert.ok(answered >= 4, `only ${answered} of 8 clients read the 413`);
  for (const r of results.filter((x) => x.status !== 0)) {
    assert.equal(r.status, 413, r.raw.slice(0, 300));
    assert.equal(r.json.error.type, 'request_too_large');
  }
  for (const r of results) assert.ok(r.sent < 16 * MiB, `telemetry client sent ${r.sent} body bytes`);
  assert.ok(growMb < 40, `relay RSS grew by ${growMb.toFixed(1)} MB`);
  const ok = await httpRequest(`${st.relay.url}/api/event_logging/batch`, { method: 'POST', body: { events: ['x'.repeat(30000)] } });
  assert.equal(ok.status, 200);
});

test('row 2: an oversized chunked body gets 413 after about the limit is read, not after all of it', async () => {
  const r = await curlPush(small, '/api/v1/messages', { headers: { 'x-api-key': smallKey }, bytes: 64 * MiB, chunked: true });
  console.log(`chunked_limit_mb=4 body_mb=64 sent_before_413_mb=${(r.sent / MiB).toFixed(2)} ms=${r.ms}`);
  assert.equal(r.status, 413, r.raw.slice(0, 300));
  assert.equal(r.json.error.type, 'request_too_large');
  // what the client got into the socket: the relay's 4 MiB plus kernel socket buffers
  assert.ok(r.sent <= 4 * MiB + 12 * MiB, `the relay read ${r.sent} bytes of a chunked body over a 4 MiB limit`);
  const h = await fetch(`${small.url}/health`);
  assert.equal(h.status, 200);
});

test('row 2: REQUEST_BODIES_MAX_MB caps all bodies together: 503 before or during the body, budget given back', async () => {
  const a = heldPush(small.port, '/api/v1/messages', { headers: { 'x-api-key': smallKey }, body: bigMessage(3.5 * MiB | 0), holdAt: 3 * MiB });
  await sleep(500); // the relay holds ~3 MiB of A
  const b = await curlPush(small, '/api/v1/messages', { headers: { 'x-api-key': smallKey }, bytes: 3.5 * MiB | 0 });
  const c = await curlPush(small, '/api/v1/messages', { headers: { 'x-api-key': smallKey }, bytes: 4000000, chunked: true });
  await sleep(200); // C's budget goes back when its request ends
  a.resume();
  const ra = await a.done;
  const d = await httpRequest(`${small.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': smallKey }, body: bigMessage(3.5 * MiB | 0) });
  console.log(`bodies_cap_mb=6 declared_over=${b.status} chunked_over=${c.status} holder=${ra.status} after=${d.status}`);
  for (const r of [b, c]) {
    assert.equal(r.status, 503, r.raw.slice(0, 300));
    assert.equal(anthropicErrorProblem(r.json), null);
    assert.match(r.raw, /retry-after: 1/i);
  }
  assert.equal(ra.status, 200, ra.raw.slice(0, 300));
  assert.equal(d.status, 200, d.text);
});
