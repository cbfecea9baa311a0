'use strict';
// make bench: the relay and an nginx proxy_pass baseline side by side, both in front of the same
// C mock upstream (build/bench/mock_upstream), everything on loopback with random ports.
//
//   JSON and SSE at 1, 32 and 256 connections: wrk --latency, BENCH_DURATION s each (default 10)
//   1,000 and 5,000 concurrent slow streams (20 deltas 100 ms apart): build/bench/stream_load
//   opens N connections at once, times each stream and checks its events
//   then BENCH_IDLE_SECONDS (default 60) without traffic: Redis commands the relay sent
//
// Per run: req/s, p50/p99 latency, errors, CPU µs per request (/proc/<pid>/stat utime+stime),
// peak RSS (VmHWM, reset before each run through /proc/<pid>/clear_refs) and threads (sampled),
// Redis commands per request (INFO commandstats deltas less our own INFO), and the relay's
// figures as a ratio to nginx's. Prints one table, writes build/bench.json and, on a full run,
// docs/performance.md.
//
// Knobs: BENCH_ONLY=<comma list> of scenario ids or prefixes (json-1, json-32, json-256, sse-1,
// sse-32, sse-256, slow-1000, slow-5000, json, sse, slow, idle) and/or a target (relay, nginx),
// e.g. BENCH_ONLY=sse-256,relay (a partial run does not touch docs/performance.md);
// BENCH_DURATION (1..60 s), BENCH_IDLE_SECONDS (0..300), RELAY_BIN (default build/relay).
// Bounded: wrk gets -d and a kill timer, stream_load a --timeout-ms, the whole script a hard cap;
// every process started here is killed on exit, error or signal.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const env = require('../lib/env');

const ROOT = path.resolve(__dirname, '..', '..');
const MOCK_BIN = path.join(ROOT, 'build/bench/mock_upstream');
const LOAD_BIN = path.join(ROOT, 'build/bench/stream_load');
const num = (v, lo, hi, dflt) => {
  const n = Number(v);
  return v === undefined || v === '' || !Number.isFinite(n) ? dflt : Math.min(Math.max(n, lo), hi);
};
const DURATION = num(process.env.BENCH_DURATION, 1, 60, 10);
const IDLE_S = num(process.env.BENCH_IDLE_SECONDS, 0, 300, 60);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const SLOW = { deltas: 20, ms: 100 };
const STREAM_TIMEOUT_MS = 60000;

const MESSAGE = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
const SCENARIOS = [
  ...[1, 32, 256].map((c) => ({ id: `json-${c}`, label: `JSON, ${c} conn`, kind: 'wrk', conns: c, body: MESSAGE })),
  ...[1, 32, 256].map((c) => ({ id: `sse-${c}`, label: `SSE, ${c} conn`, kind: 'wrk', conns: c, body: { ...MESSAGE, stream: true } })),
  ...[1000, 5000].map((c) => ({
    id: `slow-${c}`,
    label: `${c} slow streams`,
    kind: 'streams',
    conns: c,
    body: { ...MESSAGE, model: `bench-slow-${SLOW.deltas}-${SLOW.ms}`, stream: true },
  })),
];

// ---------------------------------------------------------------- selection (BENCH_ONLY)

function selection(spec) {
  const tokens = (spec || '').split(',').map((s) => s.trim()).filter(Boolean);
  const targets = tokens.filter((t) => t === 'relay' || t === 'nginx');
  const picks = tokens.filter((t) => !targets.includes(t));
  for (const p of picks) {
    if (p !== 'idle' && !SCENARIOS.some((s) => s.id === p || s.id.startsWith(`${p}-`))) {
      throw new Error(`BENCH_ONLY: unknown scenario ${JSON.stringify(p)} (ids: ${SCENARIOS.map((s) => s.id).join(', ')}, idle)`);
    }
  }
  const scen = picks.length ? SCENARIOS.filter((s) => picks.some((p) => s.id === p || s.id.startsWith(`${p}-`))) : SCENARIOS;
  return {
    partial: tokens.length > 0,
    scenarios: scen,
    targets: targets.length ? targets : ['nginx', 'relay'],
    idle: (picks.length === 0 || picks.includes('idle')) && IDLE_S > 0 && (!targets.length || targets.includes('relay')),
  };
}

// ---------------------------------------------------------------- processes

const mine = new Set();
process.on('exit', () => {
  for (const c of mine) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch (_) {
      /* gone */
    }
  }
});

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  mine.add(child);
  child.once('exit', () => mine.delete(child));
  let err = '';
  child.stderr.on('data', (d) => {
    if (err.length < 65536) err += d;
  });
  child.stderrText = () => err;
  return child;
}

async function stop(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

// Runs cmd to completion (killed after timeoutMs); resolves stdout.
function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = start(cmd, args);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} exited ${code === null ? sig : code}: ${p.stderrText() || out}`));
    });
  });
}

async function startMock() {
  const child = start(MOCK_BIN, ['--port', '0', '--max-conns', '30000']);
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('mock_upstream did not start')), 5000);
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening (\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (c) => reject(new Error(`mock_upstream exited ${c}: ${child.stderrText()}`)));
  });
  return { child, port, url: `http://127.0.0.1:${port}` };
}

async function startNginx(dir, mockPort) {
  const port = await env.freePort();
  fs.chmodSync(dir, 0o755); // the workers (user nobody) create their temp dirs below it
  const conf = `
worker_processes 2;
worker_rlimit_nofile 40000;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_buffer_size 64k;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream mock { server 127.0.0.1:${mockPort}; keepalive 512; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = start('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir]);
  const url = `http://127.0.0.1:${port}`;
  await env.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${child.stderrText()}`);
      return (await env.httpRequest(`${url}/v1/models`, { timeout: 1000 })).status === 200;
    },
    { timeout: 10000, what: 'nginx listening' },
  );
  return { child, port, url, pids: () => [child.pid, ...childPids(child.pid)] };
}

// ---------------------------------------------------------------- /proc

function childPids(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch (_) {
      /* raced with an exit */
    }
  }
  return out;
}

function cpuTicks(pids) {
  let t = 0;
  for (const pid of pids) {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    t += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  }
  return t;
}

function statusSum(pids) {
  const s = { rssKb: 0, hwmKb: 0, threads: 0 };
  for (const pid of pids) {
    const p = env.procStatus(pid);
    s.rssKb += p.rssKb;
    s.hwmKb += p.hwmKb;
    s.threads += p.threads;
  }
  return s;
}

function resetPeak(pids) {
  for (const pid of pids) {
    try {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS
    } catch (_) {
      /* not permitted: the peak then covers the process's life; the sampled RSS still counts */
    }
  }
}

// Samples RSS and threads every 200 ms while a run lasts.
function sampler(pids) {
  const max = { rssKb: 0, threads: 0 };
  const tick = () => {
    try {
      const s = statusSum(pids);
      max.rssKb = Math.max(max.rssKb, s.rssKb);
      max.threads = Math.max(max.threads, s.threads);
    } catch (_) {
      /* a worker exited */
    }
  };
  tick();
  const t = setInterval(tick, 200);
  return () => {
    clearInterval(t);
    tick();
    return max;
  };
}

// ---------------------------------------------------------------- Redis

async function commandStats(resp) {
  const info = await resp.cmd('INFO', 'commandstats');
  const per = {};
  let total = 0;
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) {
      per[m[1]] = Number(m[2]);
      total += Number(m[2]);
    }
  }
  return { total, per };
}

// Commands between two snapshots, less the first snapshot's own INFO (counted once it ran).
function commandDelta(a, b) {
  const per = {};
  for (const [k, v] of Object.entries(b.per)) {
    const d = v - (a.per[k] || 0) - (k === 'info' ? 1 : 0);
    if (d > 0) per[k] = d;
  }
  return { total: b.total - a.total - 1, per };
}

// ---------------------------------------------------------------- load

function wrkScript(dir, body, headers) {
  const file = path.join(dir, `wrk-${Math.random().toString(16).slice(2)}.lua`);
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(JSON.stringify(body))}`, 'wrk.headers["Content-Type"] = "application/json"'];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// wrk prints latencies like "1.23ms", "850.00us", "1.02s".
function toMs(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]] : NaN;
}

function parseWrk(out) {
  const pct = (p) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? toMs(m[1]) : NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: rps ? Number(rps[1]) : 0,
    requests: total ? Number(total[1]) : 0,
    p50ms: pct(50),
    p99ms: pct(99),
    errors: (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
    errorDetail: [non2xx ? `non-2xx ${non2xx[1]}` : '', sock ? sock[0] : ''].filter(Boolean).join('; '),
  };
}

async function loadWrk(sc, target, dir) {
  const script = wrkScript(dir, sc.body, target.headers);
  const args = ['-t', String(Math.min(2, sc.conns)), '-c', String(sc.conns), '-d', `${DURATION}s`, '--latency', '--timeout', '10s', '-s', script, target.url + target.path];
  return parseWrk(await run('wrk', args, (DURATION + 30) * 1000));
}

async function loadStreams(sc, target) {
  const args = ['--port', String(target.port), '--path', target.path, '--conns', String(sc.conns), '--body', JSON.stringify(sc.body), '--expect-deltas', String(SLOW.deltas), '--timeout-ms', String(STREAM_TIMEOUT_MS)];
  for (const [k, v] of Object.entries(target.headers)) args.push('--header', `${k}: ${v}`);
  const r = JSON.parse(await run(LOAD_BIN, args, STREAM_TIMEOUT_MS + 15000));
  return {
    rps: r.ok / (r.wallMs / 1000),
    requests: r.conns,
    p50ms: r.p50Ms < 0 ? NaN : r.p50Ms,
    p99ms: r.p99Ms < 0 ? NaN : r.p99Ms,
    errors: r.errors,
    errorDetail: r.errors ? `${r.firstError} (connect ${r.connectErrors}, io ${r.ioErrors}, http ${r.httpErrors}, incomplete ${r.incomplete}, content ${r.contentErrors}, timeout ${r.timeouts})` : '',
    stream: r,
  };
}

// One request through the target, checked, before its timed runs.
async function sanity(sc, target) {
  const body = sc.kind === 'streams' ? { ...sc.body, model: `bench-slow-3-10` } : sc.body;
  const r = await env.httpRequest(target.url + target.path, { method: 'POST', headers: target.headers, body, timeout: 10000 });
  const ok = r.status === 200 && (body.stream ? /event: message_stop/.test(r.text) && !/event: error/.test(r.text) : !!(r.json && r.json.usage));
  if (!ok) throw new Error(`${target.name} ${sc.id}: sanity request failed: HTTP ${r.status} ${r.text.slice(0, 500)}`);
}

async function measure(sc, target, ctx) {
  await sanity(sc, target);
  await env.sleep(1000); // let the previous run's connections and usage writes settle
  const pids = target.pids();
  resetPeak(pids);
  const cpu0 = cpuTicks(pids);
  const redis0 = target.name === 'relay' ? await commandStats(ctx.resp) : null;
  const done = sampler(pids);
  const load = sc.kind === 'wrk' ? await loadWrk(sc, target, ctx.dir) : await loadStreams(sc, target);
  const sampled = done();
  const cpu = cpuTicks(pids) - cpu0;
  const st = statusSum(target.pids());
  const redis = redis0 ? commandDelta(redis0, await commandStats(ctx.resp)) : null;
  const n = Math.max(load.requests, 1);
  return {
    ...load,
    cpuUsPerReq: (cpu * 1e6) / CLK_TCK / n,
    cpuSeconds: cpu / CLK_TCK,
    peakRssKb: Math.max(st.hwmKb, sampled.rssKb),
    threads: sampled.threads,
    redisPerReq: redis ? redis.total / n : NaN,
    redisPerCommand: redis ? Object.fromEntries(Object.entries(redis.per).map(([k, v]) => [k, +(v / n).toFixed(3)])) : null,
  };
}

async function idle(ctx, relayPid) {
  await env.sleep(5000); // the last run's usage flushes land before the window opens
  const a = await commandStats(ctx.resp);
  const cpu0 = cpuTicks([relayPid]);
  await env.sleep(IDLE_S * 1000);
  const cpu = cpuTicks([relayPid]) - cpu0;
  const d = commandDelta(a, await commandStats(ctx.resp));
  const rssEndKb = env.procStatus(relayPid).rssKb;
  return { seconds: IDLE_S, commands: d.total, perCommand: d.per, cpuMs: (cpu * 1000) / CLK_TCK, rssStartKb: ctx.relayStartRssKb, rssEndKb };
}

// ---------------------------------------------------------------- report

const f = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `×${(a / b).toFixed(2)}` : '–');

function tableRows(results) {
  const head = ['scenario', 'target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/req', 'peak RSS MB', 'threads', 'Redis cmd/req'];
  const rows = [];
  for (const r of results) {
    for (const who of ['nginx', 'relay']) {
      const x = r[who];
      if (!x) continue;
      rows.push([r.label, who, f(x.rps), f(x.p50ms, x.p50ms < 10 ? 2 : 0), f(x.p99ms, x.p99ms < 10 ? 2 : 0), f(x.errors), f(x.cpuUsPerReq), f(x.peakRssKb / 1024, 1), f(x.threads), who === 'relay' ? f(x.redisPerReq, 2) : '–']);
    }
    if (r.nginx && r.relay) {
      const a = r.relay;
      const b = r.nginx;
      rows.push([r.label, 'relay ÷ nginx', ratio(a.rps, b.rps), ratio(a.p50ms, b.p50ms), ratio(a.p99ms, b.p99ms), '', ratio(a.cpuUsPerReq, b.cpuUsPerReq), ratio(a.peakRssKb, b.peakRssKb), ratio(a.threads, b.threads), '']);
    }
  }
  return { head, rows };
}

function textTable({ head, rows }) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable({ head, rows }) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function version(cmd, args, re) {
  try {
    const r = require('node:child_process').spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
    const text = `${r.stdout || ''}${r.stderr || ''}`;
    const m = re.exec(text);
    return m ? m[1] : text.split('\n')[0].trim() || '?';
  } catch (_) {
    return '?';
  }
}

function machine() {
  const cpuModel = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || os.cpus()[0]?.model || '?';
  return {
    cores: os.cpus().length,
    cpu: cpuModel.trim(),
    memGb: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    gcc: version('gcc', ['--version'], /^gcc.*?(\d+\.\d+\.\d+)/m),
    libmicrohttpd: version('pkg-config', ['--modversion', 'libmicrohttpd'], /(\S+)/),
    libcurl: version('pkg-config', ['--modversion', 'libcurl'], /(\S+)/),
    hiredis: version('pkg-config', ['--modversion', 'hiredis'], /(\S+)/),
    nginx: version('nginx', ['-v'], /nginx\/(\S+)/),
    wrk: version('wrk', ['-v'], /wrk (\S+)/),
    redis: version('redis-server', ['--version'], /v=(\S+)/),
    node: process.version,
    commit: version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], /(\S+)/),
  };
}

function topCommands(per, n = 6) {
  return Object.entries(per || {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

function ttfb(st) {
  return `first byte ${f(st.ttfbP50Ms)} / ${f(st.ttfbP99Ms)} ms, fastest stream ${f(st.minMs)} ms, slowest ${f(st.maxMs)} ms`;
}

function markdown(summary, table) {
  const m = summary.machine;
  const idleLine = summary.idle
    ? `**Idle:** in ${summary.idle.seconds} s without traffic the relay sent **${summary.idle.commands} Redis commands** (${topCommands(summary.idle.perCommand) || 'none'}) and used ${f(summary.idle.cpuMs)} ms of CPU; its RSS was ${f(summary.idle.rssStartKb / 1024, 1)} MB when started and ${f(summary.idle.rssEndKb / 1024, 1)} MB at the end of the idle window, after all the runs.`
    : 'Idle: not measured in this run.';
  const redisLines = summary.results
    .filter((r) => r.relay && r.relay.redisPerCommand)
    .map((r) => `- ${r.label}: ${topCommands(r.relay.redisPerCommand) || 'none'}`)
    .join('\n');
  const errLines = summary.results
    .flatMap((r) => ['nginx', 'relay'].filter((w) => r[w] && r[w].errors).map((w) => `- ${r.label}, ${w}: ${r[w].errors} — ${r[w].errorDetail}`))
    .join('\n');
  const ttfbLines = summary.results
    .flatMap((r) => ['nginx', 'relay'].filter((w) => r[w] && r[w].stream).map((w) => `- ${r.label}, ${w}: ${ttfb(r[w].stream)}`))
    .join('\n');
  return `# Performance

Measured by \`make bench\` (scripts/bench.sh → test/bench/bench.js) on ${summary.date.slice(0, 10)},
relay commit \`${m.commit}\`. Regenerate with \`make bench\`; one scenario with e.g.
\`BENCH_ONLY=sse-256 make bench\` (see the knobs at the top of test/bench/bench.js).

**These numbers are noisy.** The machine has ${m.cores} cores shared with other engineers' builds
and tests, and the load generator (wrk or stream_load), the mock upstream, Redis and the proxy
under test all run on those same cores. Read ratios and orders of magnitude, not the third digit.

${mdTable(table)}

${idleLine}

Slow streams, time from connect to the first response byte (p50 / p99) and the fastest stream
(a stream cannot take less than ${(summary.slow.deltas * summary.slow.ms) / 1000} s; anything above that is connection set-up, queueing and CPU):

${ttfbLines || '- not measured in this run'}

Errors: ${errLines ? `\n\n${errLines}` : 'none.'}

Redis commands per request, relay, by command:

${redisLines || '- none'}

## Machine

| | |
|---|---|
| cores | ${m.cores} (${m.cpu}), ${m.memGb} GiB |
| kernel | ${m.kernel} |
| gcc | ${m.gcc} |
| libmicrohttpd | ${m.libmicrohttpd} |
| libcurl | ${m.libcurl} |
| hiredis | ${m.hiredis} |
| nginx | ${m.nginx} |
| wrk | ${m.wrk} |
| redis | ${m.redis} |
| node (orchestration only) | ${m.node} |

## How measured

- **Set-up**, all on 127.0.0.1 with random ports: redis-server; the C mock upstream
  (\`test/bench/mock_upstream.c\`, one epoll thread: canned Messages JSON with usage, or a chunked
  22-event SSE stream); the release relay \`build/relay\` (one Console account pointing at the mock,
  one real API key, usage accounting on, \`LOG_LEVEL=warn\`, \`MAX_CONNECTIONS_PER_IP=0\`,
  \`MAX_CONNECTIONS=15000\`, other settings at their defaults); nginx ${m.nginx} with 2 workers,
  \`proxy_pass\` to the same mock with an upstream \`keepalive 512\` pool, \`proxy_buffering off\`,
  \`listen ... backlog=4096\`, no access log. The relay is called at \`/api/v1/messages\`
  with its key, nginx at \`/v1/messages\`; both forward to the mock's \`/v1/messages\`.
- **JSON / SSE rows:** \`wrk -t2 -c<N> -d${summary.durationSeconds}s --latency\` (\`-t1\` for 1 connection), keep-alive,
  the same request body; latency is the whole response (for SSE: until the last chunk).
  One checked request through each proxy precedes its runs.
- **Slow streams:** \`build/bench/stream_load\` opens N connections at once, each sending one
  request for model \`bench-slow-${summary.slow.deltas}-${summary.slow.ms}\` (${summary.slow.deltas} deltas ${summary.slow.ms} ms apart, so a stream
  cannot be shorter than ${(summary.slow.deltas * summary.slow.ms) / 1000} s) with \`Connection: close\`, and times each stream from its
  connect to its last byte. A stream is an error unless it is a 200 with exactly ${summary.slow.deltas}
  \`content_block_delta\` events, one \`message_stop\` and no \`error\` event. req/s there is
  completed streams over the wave's wall time.
- **CPU µs/req:** utime+stime deltas from \`/proc/<pid>/stat\` (${CLK_TCK} Hz ticks) over the run, divided
  by the requests completed; for nginx the master and workers summed.
- **Peak RSS:** \`VmHWM\` after resetting it through \`/proc/<pid>/clear_refs\` before the run (nginx:
  summed over its processes, shared pages counted in each). **Threads:** the most seen while
  sampling \`/proc/<pid>/status\` every 200 ms (nginx: its processes).
- **Redis cmd/req:** \`INFO commandstats\` before and after the run, less the bench's own INFO,
  divided by the requests; it includes the relay's background jobs during the run.
- **Idle:** after a 5 s pause, the commands counted the same way over ${summary.idle ? summary.idle.seconds : IDLE_S} s without traffic.
- Ratios are relay ÷ nginx: above 1 means the relay needs more (time, CPU, memory), except req/s
  where above 1 means the relay did more.
`;
}

// ---------------------------------------------------------------- main

async function main(sel) {
  const dir = env.mkTmp('relay-bench-');
  const ctx = { dir, resp: null };
  let redis = null;
  let relay = null;
  let mock = null;
  let nginx = null;
  try {
    redis = await env.startRedis();
    mock = await startMock();
    const targets = {};
    if (sel.targets.includes('relay') || sel.idle) {
      relay = await env.startRelay({ redisPort: redis.port, env: { LOG_LEVEL: 'warn', MAX_CONNECTIONS_PER_IP: 0, MAX_CONNECTIONS: 15000 } });
      const token = await env.login(relay);
      await env.createConsoleAccount(relay, token, { name: 'bench-mock', apiUrl: mock.url, apiKey: env.MOCK_ACCOUNT_KEY });
      const key = await env.createKey(relay, token, { name: 'bench' });
      const headers = { 'anthropic-version': '2023-06-01', 'x-api-key': key.apiKey };
      ctx.relayStartRssKb = env.procStatus(relay.pid).rssKb; // started, one account and key, no load yet
      targets.relay = { name: 'relay', url: relay.url, port: relay.port, path: '/api/v1/messages', headers, pids: () => [relay.pid] };
    }
    if (sel.targets.includes('nginx')) {
      nginx = await startNginx(dir, mock.port);
      targets.nginx = { name: 'nginx', url: nginx.url, port: nginx.port, path: '/v1/messages', headers: { 'anthropic-version': '2023-06-01', 'x-api-key': 'sk-ant-bench-direct' }, pids: nginx.pids };
    }
    ctx.resp = await new env.RespClient(redis.port).connect();
    const results = [];
    for (const sc of sel.scenarios) {
      const r = { id: sc.id, label: sc.label };
      for (const who of ['nginx', 'relay']) {
        if (!targets[who]) continue;
        process.stderr.write(`bench: ${sc.id} ${who} ...\n`);
        r[who] = await measure(sc, targets[who], ctx);
        if (relay && relay.exited()) throw new Error(`relay died during ${sc.id}:\n${relay.logs().slice(-4000)}`);
      }
      results.push(r);
    }
    let idleResult = null;
    if (sel.idle && relay) {
      process.stderr.write(`bench: idle ${IDLE_S} s ...\n`);
      idleResult = await idle(ctx, relay.pid);
    }
    const summary = { date: new Date().toISOString(), durationSeconds: DURATION, slow: SLOW, machine: machine(), results, idle: idleResult, only: process.env.BENCH_ONLY || null };
    return { summary, relayLogs: relay ? relay.logs() : '' };
  } finally {
    if (ctx.resp) ctx.resp.close();
    if (nginx) await stop(nginx.child, 'SIGQUIT');
    if (relay) await relay.stop();
    if (mock) await stop(mock.child);
    if (redis) await redis.stop();
    env.rmTmp(dir);
  }
}

function hardCap(sel) {
  const perRun = sel.scenarios.reduce((a, s) => a + (s.kind === 'wrk' ? DURATION + 15 : STREAM_TIMEOUT_MS / 1000 + 20), 0);
  return (perRun * sel.targets.length + (sel.idle ? IDLE_S + 10 : 0) + 90) * 1000;
}

(async () => {
  let sel;
  try {
    sel = selection(process.env.BENCH_ONLY);
  } catch (e) {
    console.error(`bench: ${e.message}`);
    process.exit(2);
  }
  const cap = hardCap(sel);
  const hard = setTimeout(() => {
    console.error(`bench: gave up after ${Math.round(cap / 1000)} s`);
    process.exit(2); // the exit handlers kill every child
  }, cap);
  try {
    const { summary } = await main(sel);
    const table = tableRows(summary.results);
    fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'build/bench.json'), JSON.stringify(summary, null, 2) + '\n');
    console.log(`bench: ${DURATION} s per wrk run, ${summary.machine.cores} cores (shared: noisy), same C mock upstream`);
    console.log(textTable(table));
    if (summary.idle) console.log(`idle ${summary.idle.seconds} s: relay sent ${summary.idle.commands} Redis commands (${topCommands(summary.idle.perCommand) || 'none'}), ${f(summary.idle.cpuMs)} ms CPU, RSS ${f(summary.idle.rssStartKb / 1024, 1)} MB at start, ${f(summary.idle.rssEndKb / 1024, 1)} MB after the runs`);
    for (const r of summary.results) for (const w of ['nginx', 'relay']) if (r[w] && r[w].stream) console.log(`${r.label}, ${w}: ${ttfb(r[w].stream)}`);
    for (const r of summary.results) for (const w of ['nginx', 'relay']) if (r[w] && r[w].errors) console.log(`errors: ${r.label} ${w}: ${r[w].errorDetail}`);
    console.log('bench: written to build/bench.json');
    if (!sel.partial) {
      fs.writeFileSync(path.join(ROOT, 'docs/performance.md'), markdown(summary, table));
      console.log('bench: written to docs/performance.md');
    }
    const relayErrors = summary.results.reduce((a, r) => a + (r.relay ? r.relay.errors : 0), 0);
    clearTimeout(hard);
    if (relayErrors) {
      console.error(`bench: the relay answered ${relayErrors} requests with an error (see above)`);
      process.exit(1);
    }
  } catch (e) {
    console.error(`bench: ${e.stack || e.message}`);
    process.exit(1);
  }
})();
