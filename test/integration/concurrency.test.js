'use strict';
// Concurrency proof: 1,000 concurrent slow streams through the release binary, with bounded memory
// and a fixed number of threads.
//
// Prints: concurrency: streams=1000 ok=N rss_peak_mb=X threads=T duration_s=D

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { stack, sseRequest, messageBody, procStatus, waitForUsage, sleep } = require('../lib/env');

const N = Number(process.env.CONCURRENCY_STREAMS || 1000);
const CHUNKS = 20;
const MODEL = `mock-slow-chunks-${CHUNKS}-100`;
// Sanitizer builds (the TSan step of make test) need more: CONCURRENCY_RSS_LIMIT_MB.
const RSS_LIMIT_MB = Number(process.env.CONCURRENCY_RSS_LIMIT_MB || 128);

let st;

before(async () => {
  // Every client here has the address 127.0.0.1: lift the per-address cap (MAX_CONNECTIONS_PER_IP).
  st = await stack({ bin: process.env.RELAY_BIN_RELEASE || 'build/relay', relayEnv: { MAX_CONNECTIONS_PER_IP: '0' } });
});

after(async () => {
  if (st) await st.teardown();
});

test(`${N} concurrent streams: all complete, VmHWM < ${RSS_LIMIT_MB} MB, thread count constant`, { timeout: 120000 }, async () => {
  const pid = st.relay.pid;
  const url = st.relay.url + '/api/v1/messages';
  const headers = { 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' };

  // Warm-up: one stream so lazily created threads/pools exist before the baseline.
  const warm = await sseRequest(url, { headers, body: { ...messageBody('mock-slow-chunks-2-10'), stream: true } });
  assert.equal(warm.status, 200);
  await sleep(300);
  const base = procStatus(pid);
  const baseThreads = base.threads;

  const samples = [base];
  const sampler = setInterval(() => {
    try {
      samples.push(procStatus(pid));
    } catch (_) {
      /* process gone: reported below */
    }
  }, 200);

  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const t0 = Date.now();
  let results;
  try {
    results = await Promise.all(
      Array.from({ length: N }, () => sseRequest(url, { headers, body: { ...messageBody(MODEL), stream: true }, agent, timeout: 90000 })),
    );
  } finally {
    clearInterval(sampler);
    agent.destroy();
  }
  const duration = (Date.now() - t0) / 1000;
  const end = procStatus(pid);
  samples.push(end);

  const problems = [];
  let ok = 0;
  for (const r of results) {
    const deltas = r.events.filter((e) => e.event === 'content_block_delta').length;
    const stop = r.events.some((e) => e.event === 'message_stop');
    const errEv = r.events.some((e) => e.event === 'error');
    if (r.status === 200 && !r.error && deltas === CHUNKS && stop && !errEv) ok++;
    else if (problems.length < 5) problems.push(`status=${r.status} deltas=${deltas} stop=${stop} errorEvent=${errEv} error=${r.error && r.error.message}`);
  }
  const peakMb = end.hwmKb / 1024;
  const threadSet = [...new Set(samples.map((s) => s.threads))];
  const maxRssMb = Math.max(...samples.map((s) => s.rssKb)) / 1024;
  console.log(`concurrency: streams=${N} ok=${ok} rss_peak_mb=${peakMb.toFixed(1)} threads=${baseThreads} duration_s=${duration.toFixed(2)}`);
  console.log(`concurrency-detail: samples=${samples.length} max_vmrss_mb=${maxRssMb.toFixed(1)} thread_counts_seen=${threadSet.join(',')} upstream_requests=${st.mock.messageRequests().length}`);

  assert.equal(ok, N, `ok=${ok}/${N}; first problems:\n${problems.join('\n')}`);
  assert.ok(peakMb < RSS_LIMIT_MB, `VmHWM ${peakMb.toFixed(1)} MB >= ${RSS_LIMIT_MB} MB`);
  assert.deepEqual(threadSet, [baseThreads], `thread count changed during the load: seen ${threadSet}`);
  assert.ok(samples.length >= 5, 'sampler ran');

  // usage accounting kept up (warm-up + N)
  const u = await waitForUsage(st.redis.port, st.key.id, N + 1, 15000);
  assert.equal(u.requests, N + 1);
  assert.equal(u.outputTokens, 2 + N * CHUNKS);
});
