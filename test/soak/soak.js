'use strict';
// `make soak`: a few minutes of mixed traffic with aborts against the release build
// (RELAY_BIN, default build/relay): streams, JSON answers, upstream errors, slow streams the
// client abandons, requests without a key, telemetry, health. Every 10 s it prints the relay's
// VmRSS and open fds; it fails when either grows past its bound over the value at the end of
// the warm-up. Not part of `make test`.
//   SOAK_SECONDS (default 180), SOAK_CLIENTS (16), SOAK_RSS_GROWTH_MB (32), SOAK_FD_GROWTH (16)

const fs = require('node:fs');
const { stack, messageBody, procStatus, sleep, httpRequest } = require('../lib/env');

const SECONDS = Number(process.env.SOAK_SECONDS || 180);
const CLIENTS = Number(process.env.SOAK_CLIENTS || 16);
const RSS_GROWTH_MB = Number(process.env.SOAK_RSS_GROWTH_MB || 32);
const FD_GROWTH = Number(process.env.SOAK_FD_GROWTH || 16);

const kinds = [
  (st) => st.stream(messageBody()),
  (st) => st.send(messageBody()),
  (st) => st.send(messageBody('mock-error-529')),
  (st) => st.stream(messageBody('mock-slow-chunks-20-20'), { onEvent: (ev, ctl) => ev.event === 'content_block_delta' && Math.random() < 0.2 && ctl.abort() }),
  (st) => st.stream(messageBody('mock-drop-after-4')),
  (st) => st.send(messageBody(), { key: null }),
  (st) => httpRequest(`${st.relay.url}/api/event_logging/batch`, { method: 'POST', body: { events: [] } }),
  (st) => httpRequest(`${st.relay.url}/health`),
];

async function main() {
  const st = await stack({ bin: process.env.RELAY_BIN || 'build/relay', relayEnv: { UPSTREAM_ERROR_OVERLOAD_TTL_SECONDS: 1 } });
  const fds = () => fs.readdirSync(`/proc/${st.relay.pid}/fd`).length;
  const counts = { ok: 0, failed: 0 };
  let stop = false;
  const client = async () => {
    while (!stop) {
      const r = await kinds[Math.floor(Math.random() * kinds.length)](st).catch(() => null);
      if (r && r.status) counts.ok++;
      else counts.failed++;
    }
  };
  const workers = Array.from({ length: CLIENTS }, client);
  const t0 = Date.now();
  let base = null;
  let failure = null;
  for (let t = 10; t <= SECONDS && !failure; t += 10) {
    await sleep(t0 + t * 1000 - Date.now());
    const s = { t, rssMb: procStatus(st.relay.pid).rssKb / 1024, fds: fds(), requests: counts.ok, noAnswer: counts.failed };
    if (!base) base = s; // the warm-up: pools and caches are full by now
    console.log(`soak t=${s.t}s rss_mb=${s.rssMb.toFixed(1)} fds=${s.fds} requests=${s.requests} no_answer=${s.noAnswer}`);
    if (s.rssMb > base.rssMb + RSS_GROWTH_MB) failure = `RSS grew from ${base.rssMb.toFixed(1)} to ${s.rssMb.toFixed(1)} MB`;
    if (s.fds > base.fds + FD_GROWTH) failure = `fds grew from ${base.fds} to ${s.fds}`;
    if (st.relay.exited()) failure = 'the relay exited';
  }
  stop = true;
  await Promise.all(workers);
  await sleep(1000);
  const end = { rssMb: procStatus(st.relay.pid).rssKb / 1024, fds: fds() };
  console.log(`soak end: rss_mb=${end.rssMb.toFixed(1)} fds=${end.fds} requests=${counts.ok}`);
  if (!failure && end.fds > base.fds + FD_GROWTH) failure = `fds after the load: ${end.fds} (base ${base.fds})`;
  await st.teardown();
  if (failure) {
    console.log(`soak: FAILED: ${failure}`);
    process.exit(1);
  }
  console.log('soak: ok');
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
