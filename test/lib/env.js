'use strict';
// Helpers for the integration tests: real redis-server, the mock upstream, the relay binary,
// the admin API, raw HTTP / SSE clients and a tiny RESP client.
//
// Every process started here is registered and killed on process exit, so a crashed test file
// never leaves redis-server or relay processes behind.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const crypto = require('node:crypto');
const { startMockUpstream, MOCK_USAGE, MOCK_COUNTED, MOCK_TEXT } = require('../mock/upstream');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TEST_ROOT = path.resolve(__dirname, '..');
const MOCK_ACCOUNT_KEY = 'sk-ant-api03-mock-upstream-key-0001';
const SANITIZER_RE = /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR: MemorySanitizer)/;

// ---------------------------------------------------------------- process bookkeeping

const liveChildren = new Set();
process.on('exit', () => {
  for (const c of liveChildren) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch (_) {
      /* already gone */
    }
  }
});

// A test runner that times a file out sends SIGTERM: take the children down with us.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    for (const c of liveChildren) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch (_) {
        /* already gone */
      }
    }
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15));
  });
}

function track(child) {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

// Registers an `after` hook that runs the pushed teardown functions in reverse order and
// rethrows the first failure. Returns push(fn).
function cleanupAfter(after) {
  const fns = [];
  after(async () => {
    const errs = [];
    for (const f of fns.reverse()) await f().catch((e) => errs.push(e));
    if (errs.length) throw errs[0];
  });
  return (fn) => fns.push(fn);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls fn() until it returns a truthy value (returned) or the timeout expires (throws).
async function waitFor(fn, { timeout = 2000, interval = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) {
      const detail = last instanceof Error ? `: ${last.message}` : last !== undefined ? `: last=${JSON.stringify(last)}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

function mkTmp(prefix = 'relay-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function rmTmp(dir) {
  if (!dir || process.env.KEEP_TMP) return;
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (_) {
    /* ignore */
  }
}

function randomHex(bytes) {
  return crypto.randomBytes(bytes).toString('hex');
}

function randomAlnum(n) {
  const abc = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const b = crypto.randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += abc[b[i] % abc.length];
  return s;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A port on which nothing listens (for "connection refused").
async function closedPort() {
  return freePort();
}

function waitExit(child, timeoutMs) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode !== null ? child.exitCode : child.signalCode);
      return;
    }
    let t = null;
    const onExit = (code, sig) => {
      if (t) clearTimeout(t);
      resolve(code !== null ? code : sig);
    };
    child.once('exit', onExit);
    if (timeoutMs) {
      t = setTimeout(() => {
        child.removeListener('exit', onExit);
        resolve(undefined);
      }, timeoutMs);
    }
  });
}

// ---------------------------------------------------------------- minimal RESP client

// Commands issued by this process through RespClient, by lowercase name (so a test can subtract
// its own polling from INFO commandstats).
const ownRedisCommands = {};

class RespClient {
  constructor(port, host = '127.0.0.1') {
    this.port = port;
    this.host = host;
    this.queue = [];
    this.buf = Buffer.alloc(0);
    this.sock = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port: this.port, host: this.host });
      s.once('connect', () => {
        s.removeListener('error', reject);
        s.on('error', (e) => this._failAll(e));
        resolve(this);
      });
      s.once('error', reject);
      s.on('data', (d) => this._onData(d));
      s.on('close', () => this._failAll(new Error('redis connection closed')));
      this.sock = s;
    });
  }

  _failAll(e) {
    const q = this.queue;
    this.queue = [];
    for (const p of q) p.reject(e);
  }

  // Parses one reply from this.buf at offset; returns [value, nextOffset] or null if incomplete.
  _parse(off) {
    const b = this.buf;
    if (off >= b.length) return null;
    const nl = b.indexOf('\r\n', off);
    if (nl < 0) return null;
    const type = String.fromCharCode(b[off]);
    const line = b.toString('utf8', off + 1, nl);
    const next = nl + 2;
    switch (type) {
      case '+':
        return [line, next];
      case '-': {
        const e = new Error(line);
        e.redisError = true;
        return [e, next];
      }
      case ':':
        return [Number(line), next];
      case '$': {
        const len = Number(line);
        if (len < 0) return [null, next];
        if (b.length < next + len + 2) return null;
        return [b.toString('utf8', next, next + len), next + len + 2];
      }
      case '*': {
        const n = Number(line);
        if (n < 0) return [null, next];
        const arr = [];
        let o = next;
        for (let i = 0; i < n; i++) {
          const r = this._parse(o);
          if (!r) return null;
          arr.push(r[0]);
          o = r[1];
        }
        return [arr, o];
      }
      default:
        throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)}`);
    }
  }

  _onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    while (this.queue.length) {
      const r = this._parse(off);
      if (!r) break;
      off = r[1];
      const p = this.queue.shift();
      if (r[0] instanceof Error) p.reject(r[0]);
      else p.resolve(r[0]);
    }
    this.buf = off >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }

  cmd(...args) {
    const name = String(args[0]).toLowerCase();
    ownRedisCommands[name] = (ownRedisCommands[name] || 0) + 1;
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const s = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(`$${s.length}\r\n`, s, '\r\n');
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      for (const p of parts) this.sock.write(p);
    });
  }

  close() {
    if (this.sock) this.sock.destroy();
    this.sock = null;
  }
}

// One command on a fresh connection (tests poll Redis state with it).
function redisCmd(port, ...args) {
  return withResp(port, (c) => c.cmd(...args));
}

async function withResp(port, fn) {
  const c = await new RespClient(port).connect();
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

// Everything in the Redis instance: { key: {type, value} } (value is string / object / array).
async function dumpRedis(port) {
  return withResp(port, async (c) => {
    const keys = [];
    let cursor = '0';
    do {
      const [next, batch] = await c.cmd('SCAN', cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const out = {};
    for (const k of keys) {
      const type = await c.cmd('TYPE', k);
      let value = null;
      if (type === 'string') value = await c.cmd('GET', k);
      else if (type === 'hash') {
        const arr = await c.cmd('HGETALL', k);
        value = {};
        for (let i = 0; i < arr.length; i += 2) value[arr[i]] = arr[i + 1];
      } else if (type === 'list') value = await c.cmd('LRANGE', k, 0, -1);
      else if (type === 'set') value = await c.cmd('SMEMBERS', k);
      else if (type === 'zset') value = await c.cmd('ZRANGE', k, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await c.cmd('XRANGE', k, '-', '+');
      out[k] = { type, value };
    }
    return out;
  });
}

// Sum of `calls` over INFO commandstats, excluding commands in `exclude`.
async function redisCommandCalls(port, exclude = ['info']) {
  const info = await withResp(port, (c) => c.cmd('INFO', 'commandstats'));
  let total = 0;
  const per = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (!m) continue;
    per[m[1]] = Number(m[2]);
    if (!exclude.includes(m[1])) total += Number(m[2]);
  }
  return { total, per };
}

// ---------------------------------------------------------------- redis-server

// opts.args: extra redis-server arguments (e.g. ['--appendonly', 'yes']); opts.dir: reuse a
// data directory (then stop() leaves it in place).
async function startRedis({ bin = 'redis-server', port: wantPort, args = [], dir: keepDir } = {}) {
  const port = wantPort || (await freePort());
  const dir = keepDir || mkTmp('relay-redis-');
  let out = '';
  const proc = track(
    spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  proc.stdout.on('data', (d) => {
    if (out.length < 1e6) out += d;
  });
  proc.stderr.on('data', (d) => {
    if (out.length < 1e6) out += d;
  });
  const cli = (...args) =>
    new Promise((resolve, reject) => {
      execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', ...args.map(String)], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr}`));
        else resolve(stdout.replace(/\n$/, ''));
      });
    });
  let stopped = null;
  const handle = {
    port,
    proc,
    pid: proc.pid,
    dir,
    cli,
    cmd: (...args) => withResp(port, (c) => c.cmd(...args)),
    logs: () => out,
    dump: () => dumpRedis(port),
    commandCalls: (exclude) => redisCommandCalls(port, exclude),
    stop: (signal = 'SIGTERM') => {
      if (!stopped) {
        stopped = (async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill(signal);
            let code = await waitExit(proc, 5000);
            if (code === undefined) {
              proc.kill('SIGKILL');
              code = await waitExit(proc);
            }
          }
          if (!keepDir) rmTmp(dir);
          return proc.exitCode;
        })();
      }
      return stopped;
    },
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${out}`);
        return (await cli('ping')).trim() === 'PONG';
      },
      { timeout: 10000, interval: 50, what: `redis-server on port ${port}` },
    );
  } catch (e) {
    await handle.stop('SIGKILL');
    throw e;
  }
  return handle;
}

// ---------------------------------------------------------------- HTTP helpers

// Raw HTTP request with full control over headers (node:http; no fetch header filtering).
// Resolves {status, headers, text, json, rawHeaders}. `body` may be string/Buffer/object (JSON-encoded).
function httpRequest(url, { method = 'GET', headers = {}, body, timeout = 30000, agent = false, chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let payload = body;
    const h = { ...headers };
    if (payload !== undefined && payload !== null && !Buffer.isBuffer(payload) && typeof payload !== 'string') {
      payload = JSON.stringify(payload);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    if (payload !== undefined && payload !== null && !chunked && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
      h['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request({ method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: h, agent });
    let settled = false;
    let gotResponse = false;
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        req.destroy();
        reject(new Error(`HTTP ${method} ${url} timed out after ${timeout} ms`));
      }
    }, timeout);
    req.on('response', (res) => {
      gotResponse = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch (_) {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, text, json });
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.on('error', (e) => {
      // A server may answer early (e.g. 413) and close while we are still uploading: the
      // response already arrived, so ignore the upload error.
      if (gotResponse || settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    if (payload !== undefined && payload !== null) {
      if (chunked && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
        const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
        const step = 64 * 1024;
        let off = 0;
        const pump = () => {
          while (off < buf.length) {
            const part = buf.subarray(off, off + step);
            off += step;
            if (!req.write(part)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      } else {
        req.end(payload);
      }
    } else {
      req.end();
    }
  });
}

// Splits an SSE text into [{event, data, json}] (json = parsed data or undefined).
function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length && event === 'message') continue;
    const d = data.join('\n');
    let json;
    try {
      json = JSON.parse(d);
    } catch (_) {
      json = undefined;
    }
    events.push({ event, data: d, json });
  }
  return events;
}

// Streaming request: collects SSE events with their arrival time (ms since the request started).
// opts.onEvent(ev, ctl) may call ctl.abort() to destroy the client socket.
// Resolves {status, headers, events, text, startedAt, endedAt, aborted, error, complete}.
function sseRequest(url, { method = 'POST', headers = {}, body, timeout = 60000, agent = false, onEvent } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { 'content-type': 'application/json', accept: 'text/event-stream', ...headers, 'content-length': Buffer.byteLength(payload) };
    const startedAt = Date.now();
    const req = http.request({ method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: h, agent });
    const out = { status: 0, headers: {}, events: [], text: '', startedAt, endedAt: 0, aborted: false, abortedAt: 0, error: null, complete: false };
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      out.endedAt = Date.now();
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.error = new Error(`SSE ${url} timed out after ${timeout} ms`);
      req.destroy();
      done();
    }, timeout);
    const ctl = {
      abort: () => {
        if (out.aborted) return;
        out.aborted = true;
        out.abortedAt = Date.now();
        req.destroy();
        done();
      },
    };
    req.on('error', (e) => {
      if (!out.aborted) out.error = e;
      done();
    });
    req.on('response', (res) => {
      out.status = res.statusCode;
      out.headers = res.headers;
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk) => {
        const at = Date.now() - startedAt;
        out.text += chunk;
        pending += chunk;
        let m;
        while ((m = /\r?\n\r?\n/.exec(pending))) {
          const block = pending.slice(0, m.index + m[0].length);
          pending = pending.slice(m.index + m[0].length);
          for (const ev of parseSSE(block)) {
            ev.at = at;
            out.events.push(ev);
            if (onEvent) onEvent(ev, ctl);
            if (out.aborted) return;
          }
        }
      });
      res.on('end', () => {
        out.complete = true;
        if (pending.trim()) {
          for (const ev of parseSSE(pending)) {
            ev.at = Date.now() - startedAt;
            out.events.push(ev);
          }
        }
        done();
      });
      res.on('error', (e) => {
        if (!out.aborted) out.error = e;
        done();
      });
      res.on('close', () => {
        if (!out.complete && !out.aborted && !out.error) out.error = new Error('response closed before end');
        done();
      });
    });
    req.end(payload);
  });
}

// A minimal Anthropic messages body.
// Each body's first message differs (a counter): the relay hashes it into a sticky session
// (crs-relay-spec 4.1), so identical bodies would all stay on one account. Tests about sticky
// sessions pass their own messages or metadata.user_id.
let messageSeq = 0;
function messageBody(model = 'claude-sonnet-4-5', extra = {}) {
  return { model, max_tokens: 64, messages: [{ role: 'user', content: `Say hello. (${++messageSeq})` }], ...extra };
}

// Asserts-free check of the Anthropic error shape; returns a string describing the problem or null.
function anthropicErrorProblem(json) {
  if (!json || typeof json !== 'object') return 'body is not JSON';
  if (json.type !== 'error') return `type is ${JSON.stringify(json.type)}, want "error"`;
  if (!json.error || typeof json.error !== 'object') return 'no error object';
  if (typeof json.error.type !== 'string' || !json.error.type) return 'error.type missing';
  if (typeof json.error.message !== 'string') return 'error.message missing';
  return null;
}

// ---------------------------------------------------------------- relay process

function relayBinPath(bin) {
  const b = bin || process.env.RELAY_BIN || 'build/relay';
  return path.isAbsolute(b) ? b : path.resolve(REPO_ROOT, b);
}

async function startRelay({ redisPort, env = {}, bin, healthTimeout = 15000, port, cwd: keepCwd } = {}) {
  const binPath = relayBinPath(bin);
  if (!fs.existsSync(binPath)) throw new Error(`relay binary not found: ${binPath} (build it with make, or set RELAY_BIN)`);
  const relayPort = port || (await freePort());
  const cwd = keepCwd || mkTmp('relay-cwd-');
  const adminUser = 'admin';
  const adminPassword = randomAlnum(20);
  const childEnv = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: cwd,
    TMPDIR: cwd,
    LANG: 'C.UTF-8',
  };
  // Sanitizer knobs pass through.
  for (const k of Object.keys(process.env)) {
    if (/^(ASAN|UBSAN|LSAN|TSAN|MSAN)_OPTIONS$/.test(k) || k === 'LD_LIBRARY_PATH') childEnv[k] = process.env[k];
  }
  if (!childEnv.UBSAN_OPTIONS) childEnv.UBSAN_OPTIONS = 'print_stacktrace=1';
  Object.assign(childEnv, {
    PORT: String(relayPort),
    HOST: '127.0.0.1',
    JWT_SECRET: randomHex(32),
    ENCRYPTION_KEY: randomHex(32),
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redisPort),
    ADMIN_USERNAME: adminUser,
    ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: 'info',
  });
  for (const [k, v] of Object.entries(env || {})) {
    if (v === undefined || v === null) delete childEnv[k];
    else childEnv[k] = String(v);
  }

  const proc = track(spawn(binPath, [], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
  const LOG_CAP = 32 << 20;
  let logChunks = [];
  let logBytes = 0;
  let sanitizer = null; // text from the first sanitizer marker on
  let stderrTail = '';
  const addLog = (d) => {
    logChunks.push(d);
    logBytes += d.length;
    while (logBytes > LOG_CAP && logChunks.length > 1) logBytes -= logChunks.shift().length;
  };
  proc.stdout.on('data', addLog);
  proc.stderr.on('data', (d) => {
    addLog(d);
    const s = d.toString('utf8');
    if (sanitizer !== null) {
      if (sanitizer.length < 256 * 1024) sanitizer += s;
      return;
    }
    const hay = stderrTail + s;
    const m = SANITIZER_RE.exec(hay);
    if (m) {
      const lineStart = hay.lastIndexOf('\n', m.index) + 1;
      sanitizer = hay.slice(lineStart);
    } else {
      stderrTail = hay.slice(-200);
    }
  });
  const logs = () => Buffer.concat(logChunks).toString('utf8');
  const url = `http://127.0.0.1:${relayPort}`;
  let stopped = null;
  const relay = {
    port: relayPort,
    url,
    pid: proc.pid,
    proc,
    cwd,
    bin: binPath,
    env: childEnv,
    adminUser,
    adminPassword,
    logs,
    sanitizerReport: () => sanitizer,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    stop: (signal = 'SIGTERM', timeoutMs = 10000) => {
      if (!stopped) {
        stopped = (async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill(signal);
            let code = await waitExit(proc, timeoutMs);
            if (code === undefined) {
              proc.kill('SIGKILL');
              await waitExit(proc);
              relay.killedAfterTimeout = true;
            }
          }
          // Let the stderr pipe drain (sanitizer reports are written just before exit).
          await new Promise((r) => {
            if (proc.stderr.closed || proc.stderr.destroyed) return r();
            const t = setTimeout(r, 2000);
            proc.stderr.once('close', () => {
              clearTimeout(t);
              r();
            });
          });
          if (!keepCwd) rmTmp(cwd);
          return proc.exitCode !== null ? proc.exitCode : proc.signalCode;
        })();
      }
      return stopped;
    },
  };

  try {
    await waitFor(
      async () => {
        if (relay.exited()) throw new Error(`relay exited early (code ${proc.exitCode}, signal ${proc.signalCode})`);
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        return r.status === 200;
      },
      { timeout: healthTimeout, interval: 100, what: `relay /health on ${url}` },
    );
  } catch (e) {
    await relay.stop('SIGKILL', 2000);
    const err = new Error(`${e.message}\n---- relay log ----\n${logs().slice(-20000)}`);
    throw err;
  }
  return relay;
}

// Throws when the relay's stderr shows an ASan/UBSan report.
function assertNoSanitizerErrors(relay) {
  const rep = relay && relay.sanitizerReport();
  if (rep) throw new Error(`sanitizer report in relay stderr:\n${rep.slice(0, 20000)}`);
}

// /proc/<pid>/status → {rssKb, hwmKb, threads}
function procStatus(pid) {
  const txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (k) => {
    const m = new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(txt);
    return m ? Number(m[1]) : NaN;
  };
  return { rssKb: num('VmRSS'), hwmKb: num('VmHWM'), threads: num('Threads') };
}

// ---------------------------------------------------------------- admin API

// Generic JSON call. Returns {status, headers, json, text}.
async function api(relay, method, p, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  const init = { method, headers: h, signal: AbortSignal.timeout(15000) };
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(relay.url + p, init);
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (_) {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, json, text };
}

function fail(what, r) {
  return new Error(`${what} failed: HTTP ${r.status} ${r.text.slice(0, 2000)}`);
}

async function login(relay, username = relay.adminUser, password = relay.adminPassword) {
  const r = await api(relay, 'POST', '/web/auth/login', { body: { username, password } });
  if (r.status !== 200 || !r.json || !r.json.success || !r.json.token) throw fail('login', r);
  return r.json.token;
}

async function createKey(relay, token, body = { name: 'test' }) {
  const r = await api(relay, 'POST', '/admin/api-keys', { token, body });
  if (r.status !== 200 && r.status !== 201) throw fail('create api key', r);
  if (!r.json || !r.json.success || !r.json.data || !r.json.data.id || !r.json.data.apiKey) throw fail('create api key (shape)', r);
  return { id: r.json.data.id, apiKey: r.json.data.apiKey, data: r.json.data };
}

async function updateKey(relay, token, id, body) {
  const r = await api(relay, 'PUT', `/admin/api-keys/${encodeURIComponent(id)}`, { token, body });
  if (r.status !== 200 || !r.json || !r.json.success) throw fail('update api key', r);
  return r.json;
}

async function createConsoleAccount(relay, token, { name = 'mock-console', apiUrl, apiKey = MOCK_ACCOUNT_KEY, priority = 50, schedulable = true, proxy = null, ...rest } = {}) {
  const body = { name, description: 'integration-test account', apiUrl, apiKey, priority, schedulable, proxy, ...rest };
  const r = await api(relay, 'POST', '/admin/claude-console-accounts', { token, body });
  if (r.status !== 200 && r.status !== 201) throw fail('create console account', r);
  if (!r.json || !r.json.success || !r.json.data || !r.json.data.id) throw fail('create console account (shape)', r);
  return { id: r.json.data.id, data: r.json.data };
}

// ---------------------------------------------------------------- usage in Redis

const USAGE_FIELDS = ['requests', 'inputTokens', 'outputTokens', 'cacheCreateTokens', 'cacheReadTokens', 'ephemeral5mTokens', 'ephemeral1hTokens', 'allTokens'];

async function keyUsage(redisPort, keyId) {
  const arr = await withResp(redisPort, (c) => c.cmd('HGETALL', `api_key_usage:${keyId}`));
  const o = {};
  for (let i = 0; i < arr.length; i += 2) o[arr[i]] = Number(arr[i + 1]);
  return o;
}

function pickUsage(u) {
  const o = {};
  for (const f of USAGE_FIELDS) o[f] = u[f] === undefined ? 0 : u[f];
  return o;
}

// Waits until api_key_usage:<keyId>.requests >= n (default 2 s) and returns the usage fields.
// Nothing held by the relay any more: transactions, account in-flight counts, Redis leases,
// streams, upstream transfers and user turns waiting (the /health counters back to 0).
const HELD = ['transactions', 'accountLeases', 'concurrencyLeases', 'activeStreams', 'activeTransfers', 'userTurnsWaiting'];
async function assertReleased(relay, { timeout = 5000 } = {}) {
  await waitFor(
    async () => {
      const u = (await httpRequest(`${relay.url}/health`)).json.components.upstream;
      return HELD.every((k) => !u[k]) ? u : null;
    },
    { timeout, what: `every ${HELD.join(', ')} released` },
  );
}

async function waitForUsage(redisPort, keyId, n = 1, timeout = 2000) {
  let last = {};
  try {
    await waitFor(
      async () => {
        last = await keyUsage(redisPort, keyId);
        return (last.requests || 0) >= n;
      },
      { timeout, interval: 25, what: `api_key_usage:${keyId}.requests >= ${n}` },
    );
  } catch (e) {
    e.message += ` (last: ${JSON.stringify(last)})`;
    throw e;
  }
  // allow the rest of the fields of this write to land (a pipeline/MULTI lands at once anyway)
  return pickUsage(await keyUsage(redisPort, keyId));
}

// ---------------------------------------------------------------- the whole stack

// Starts redis + mock + relay, logs in, creates a console account pointing at the mock (unless
// opts.account === false; opts.account may override fields, e.g. {apiUrl}) and a relay key.
async function stack(opts = {}) {
  const st = { redis: null, mock: null, relay: null, token: null, account: null, key: null };
  let tornDown = null;
  st.teardown = () => {
    if (!tornDown) {
      tornDown = (async () => {
        const errors = [];
        if (st.relay) {
          try {
            await st.relay.stop();
          } catch (e) {
            errors.push(e);
          }
        }
        if (st.mock) await st.mock.close().catch((e) => errors.push(e));
        if (st.redis) await st.redis.stop().catch((e) => errors.push(e));
        if (st.relay) {
          const rep = st.relay.sanitizerReport();
          if (rep) errors.push(new Error(`sanitizer report in relay stderr:\n${rep.slice(0, 20000)}`));
        }
        if (errors.length) throw errors[0];
      })();
    }
    return tornDown;
  };
  try {
    st.redis = opts.redis || (await startRedis());
    st.mock = opts.mock || (await startMockUpstream({ port: 0 }));
    st.relay = await startRelay({ redisPort: st.redis.port, env: opts.relayEnv || opts.env || {}, bin: opts.bin });
    st.token = await login(st.relay);
    if (opts.account !== false) {
      st.account = await createConsoleAccount(st.relay, st.token, { name: 'mock-upstream', apiUrl: st.mock.url, apiKey: MOCK_ACCOUNT_KEY, ...(opts.account || {}) });
    }
    if (opts.key !== false) st.key = await createKey(st.relay, st.token, { name: 'test', ...(opts.key || {}) });
  } catch (e) {
    await st.teardown().catch(() => {});
    throw e;
  }
  // Convenience: POST a message through the relay with this stack's key.
  st.send = (body, { path: p = '/api/v1/messages', headers = {}, key = st.key && st.key.apiKey, timeout } = {}) =>
    httpRequest(st.relay.url + p, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}), ...headers },
      body,
      timeout,
    });
  st.stream = (body, { path: p = '/api/v1/messages', headers = {}, key = st.key && st.key.apiKey, ...rest } = {}) =>
    sseRequest(st.relay.url + p, {
      headers: { 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}), ...headers },
      body: { ...body, stream: true },
      ...rest,
    });
  return st;
}

module.exports = {
  assertReleased,
  REPO_ROOT,
  cleanupAfter,
  TEST_ROOT,
  MOCK_ACCOUNT_KEY,
  MOCK_USAGE,
  MOCK_COUNTED,
  MOCK_TEXT,
  USAGE_FIELDS,
  sleep,
  waitFor,
  mkTmp,
  rmTmp,
  randomHex,
  randomAlnum,
  freePort,
  closedPort,
  startRedis,
  RespClient,
  redisCmd,
  ownRedisCommands,
  dumpRedis,
  redisCommandCalls,
  startMockUpstream,
  startRelay,
  relayBinPath,
  assertNoSanitizerErrors,
  procStatus,
  httpRequest,
  sseRequest,
  parseSSE,
  messageBody,
  anthropicErrorProblem,
  api,
  login,
  createKey,
  updateKey,
  createConsoleAccount,
  keyUsage,
  pickUsage,
  waitForUsage,
  stack,
};

// ---------------------------------------------------------------- Claude Code CLI

const CLAUDE_BIN = path.join(TEST_ROOT, 'node_modules', '.bin', 'claude');

// Runs `claude -p <prompt> --output-format json` non-interactively against baseUrl with a throwaway
// HOME/TMPDIR. Pass authToken (ANTHROPIC_AUTH_TOKEN) or apiKey (ANTHROPIC_API_KEY).
// Resolves {code, signal, stdout, stderr, json, durationMs, timedOut}.
// home: reuse a throwaway HOME (and cwd) from an earlier run, e.g. for `--continue`.
function runClaude({ baseUrl, authToken, apiKey, prompt = 'say hi', timeout = 90000, extraArgs = [], env = {}, home: reuseHome } = {}) {
  const home = reuseHome || mkTmp('relay-cc-home-');
  const tmp = mkTmp('relay-cc-tmp-');
  const ccTmp = mkTmp('relay-cc-cctmp-');
  const childEnv = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: tmp,
    CLAUDE_CODE_TMPDIR: ccTmp,
    SHELL: '/bin/sh',
    LANG: 'C.UTF-8',
    ANTHROPIC_BASE_URL: baseUrl,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_BUG_COMMAND: '1',
    ...env,
  };
  if (authToken !== undefined) childEnv.ANTHROPIC_AUTH_TOKEN = authToken;
  if (apiKey !== undefined) childEnv.ANTHROPIC_API_KEY = apiKey;
  const started = Date.now();
  return new Promise((resolve) => {
    const proc = track(spawn(CLAUDE_BIN, ['-p', prompt, '--output-format', 'json', ...extraArgs], { cwd: home, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.on('data', (d) => {
      if (stdout.length < 4e6) stdout += d;
    });
    proc.stderr.on('data', (d) => {
      if (stderr.length < 4e6) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeout);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      let json;
      try {
        json = JSON.parse(stdout.trim().split('\n').filter(Boolean).pop() || '');
      } catch (_) {
        json = undefined;
      }
      for (const d of reuseHome ? [tmp, ccTmp] : [home, tmp, ccTmp]) rmTmp(d);
      resolve({ code, signal, stdout, stderr, json, durationMs: Date.now() - started, timedOut });
    });
  });
}

module.exports.CLAUDE_BIN = CLAUDE_BIN;
module.exports.runClaude = runClaude;
