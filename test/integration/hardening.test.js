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
const { stack, mkTmp, rmTmp, httpRequest, messageBody, anthropicErrorProblem, sleep, waitFor } = require('../lib/env');

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
