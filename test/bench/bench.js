'use strict';
// make bench: wrk against the relay and against an nginx proxy_pass baseline,
// both in front of the same mock upstream (test/mock/upstream.js, its own
// process). Prints a table and writes build/bench.json.
//
// Knobs (environment): BENCH_DURATION (s, default 10, max 120),
// BENCH_CONNECTIONS (default 32, max 512), RELAY_BIN (default build/relay),
// BENCH_ONLY=relay (skip nginx, e.g. while profiling the relay with perf).
// Every run is bounded: wrk gets -d and a timeout, the whole script a hard cap.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const env = require('../lib/env');

const ROOT = path.resolve(__dirname, '..', '..');
const DURATION = Math.min(Math.max(Number(process.env.BENCH_DURATION) || 10, 1), 120);
const CONNS = Math.min(Math.max(Number(process.env.BENCH_CONNECTIONS) || 32, 1), 512);
const HARD_CAP_MS = (DURATION * 6 + 120) * 1000;

const MESSAGE = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
const SCENARIOS = [
  { name: 'messages (JSON)', body: MESSAGE },
  { name: 'messages (SSE stream)', body: { ...MESSAGE, stream: true } },
];

function run(cmd, args, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err || out}`));
    });
  });
}

// A standalone mock so its event loop is not shared with this script.
async function startMock() {
  const port = await env.freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'test/mock/upstream.js'), '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('mock did not start')), 10000);
    child.stdout.on('data', (d) => {
      if (String(d).includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (c) => reject(new Error(`mock exited ${c}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      child.kill('SIGTERM');
    },
  };
}

async function startNginx(dir, mockPort) {
  const port = await env.freePort();
  const conf = `
worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream mock { server 127.0.0.1:${mockPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'inherit' });
  await env.waitFor(
    async () => {
      try {
        await env.httpRequest(`http://127.0.0.1:${port}/v1/models`, { timeout: 1000 });
        return true;
      } catch {
        return false;
      }
    },
    { timeout: 10000, what: 'nginx listening' },
  );
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGQUIT');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

function wrkScript(dir, body, apiKey) {
  const file = path.join(dir, `wrk-${Math.random().toString(16).slice(2)}.lua`);
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(JSON.stringify(body))}`,
    'wrk.headers["Content-Type"] = "application/json"',
    'wrk.headers["anthropic-version"] = "2023-06-01"',
    `wrk.headers["x-api-key"] = ${JSON.stringify(apiKey)}`,
  ].join('\n');
  fs.writeFileSync(file, lua);
  return file;
}

// wrk prints latencies like "1.23ms", "850.00us", "1.02s".
function toMs(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return { us: v / 1000, ms: v, s: v * 1000, m: v * 60000 }[m[2]];
}

function parseWrk(out) {
  const pct = (p) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? toMs(m[1]) : NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: rps ? Number(rps[1]) : 0,
    requests: total ? Number(total[1]) : 0,
    p50ms: pct(50),
    p99ms: pct(99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

async function wrk(url, script) {
  const threads = Math.min(2, CONNS);
  const out = await run('wrk', ['-t', String(threads), '-c', String(CONNS), '-d', `${DURATION}s`, '--latency', '--timeout', '10s', '-s', script, url], {
    timeoutMs: (DURATION + 30) * 1000,
  });
  return parseWrk(out);
}

function fmt(n, d = 0) {
  return Number.isFinite(n) ? n.toFixed(d) : '-';
}

async function main() {
  const hard = setTimeout(() => {
    console.error(`bench: gave up after ${HARD_CAP_MS / 1000} s`);
    process.exit(2);
  }, HARD_CAP_MS);
  const dir = env.mkTmp('relay-bench-');
  let st = null;
  let nginx = null;
  const results = [];
  try {
    const mock = await startMock();
    st = await env.stack({ mock, relayEnv: { LOG_LEVEL: 'warn' } });
    nginx = await startNginx(dir, mock.port);
    const relayUrl = `${st.relay.url}/api/v1/messages`;
    const nginxUrl = `${nginx.url}/v1/messages`;
    // Warm up both paths (connection pools, Lua scripts loaded).
    for (let i = 0; i < 20; i++) {
      await st.send(MESSAGE);
      await env.httpRequest(nginxUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: MESSAGE });
    }
    for (const sc of SCENARIOS) {
      const script = wrkScript(dir, sc.body, st.key.apiKey);
      const base = process.env.BENCH_ONLY === 'relay' ? { rps: NaN, p50ms: NaN, p99ms: NaN, non2xx: 0, socketErrors: 0 } : await wrk(nginxUrl, script);
      const relay = await wrk(relayUrl, script);
      results.push({ scenario: sc.name, nginx: base, relay });
    }
    const ps = env.procStatus(st.relay.pid);
    const summary = {
      date: new Date().toISOString(),
      durationSeconds: DURATION,
      connections: CONNS,
      cpus: require('node:os').cpus().length,
      relayRssKb: ps.rssKb,
      relayHwmKb: ps.hwmKb,
      relayThreads: ps.threads,
      results,
    };
    fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'build/bench.json'), JSON.stringify(summary, null, 2) + '\n');
    console.log(`bench: ${DURATION} s per run, ${CONNS} connections, ${summary.cpus} CPUs, same mock upstream`);
    console.log('scenario                 target   req/s     p50 ms   p99 ms   errors');
    for (const r of results) {
      for (const [who, x] of [['nginx', r.nginx], ['relay', r.relay]]) {
        console.log(
          `${r.scenario.padEnd(24)} ${who.padEnd(8)} ${fmt(x.rps).padStart(7)} ${fmt(x.p50ms, 2).padStart(9)} ${fmt(x.p99ms, 2).padStart(8)} ${String(x.non2xx + x.socketErrors).padStart(8)}`,
        );
      }
      console.log(`${''.padEnd(24)} relay/nginx throughput: ${fmt((100 * r.relay.rps) / r.nginx.rps)} %`);
    }
    console.log(`relay after the runs: RSS ${fmt(summary.relayRssKb / 1024, 1)} MB, peak ${fmt(summary.relayHwmKb / 1024, 1)} MB, ${summary.relayThreads} threads`);
    console.log('bench: written to build/bench.json');
    const errors = results.reduce((a, r) => a + r.relay.non2xx + r.relay.socketErrors, 0);
    if (errors) throw new Error(`relay answered ${errors} requests with an error`);
  } finally {
    if (nginx) await nginx.close();
    if (st) await st.teardown();
    env.rmTmp(dir);
    clearTimeout(hard);
  }
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
