'use strict';
// Redis round trips per relayed request: INFO commandstats before/after 20 non-stream requests.
//
// Prints: redis_commands_per_request=X

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, messageBody, waitForUsage, sleep, ownRedisCommands, httpRequest } = require('../lib/env');

const REQUESTS = 20;
// One round trip on the request path for a cached key (the usage script) = 6 commandstats
// counts with the commands inside the script. The statistics flush (breakdowns and request
// logs, one script call every 2 s whatever the traffic) is not per request: its commands, which
// the relay counts in /health components.usage.statsCommands, are taken out and printed apart
// (before they were averaged in, and a flush landing in the window or not moved the figure). Every
// request here is one session (the same first message): its binding comes from the sticky
// cache (no GET), and account_last_used is written at most once a second per account. A new
// session adds one SET EX and one PUBLISH when it binds.
const LIMIT = 7;
const SAME = messageBody('claude-sonnet-4-5', { messages: [{ role: 'user', content: 'Say hello.' }] });

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

test(`<= ${LIMIT} Redis commands per non-stream request`, async () => {
  // warm-up (key lookup caches, account list, scripts loaded, ...)
  for (let i = 0; i < 2; i++) assert.equal((await st.send(SAME)).status, 200);
  await waitForUsage(st.redis.port, st.key.id, 2);
  await sleep(300);
  const statsCommands = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage;
  const stats0 = await statsCommands();
  const before = await st.redis.commandCalls();
  const ownBefore = { ...ownRedisCommands };
  for (let i = 0; i < REQUESTS; i++) {
    const r = await st.send(SAME);
    assert.equal(r.status, 200, r.text.slice(0, 300));
  }
  await waitForUsage(st.redis.port, st.key.id, REQUESTS + 2, 5000);
  await sleep(300);
  const afterCalls = await st.redis.commandCalls();
  const stats1 = await statsCommands(); // its PING comes after the snapshot
  const flushCommands = stats1.statsCommands - stats0.statsCommands;
  const flushes = stats1.statsFlushes - stats0.statsFlushes;
  // this process's own commands (usage polling) are not the relay's
  let pollCount = 0;
  for (const [k, v] of Object.entries(ownRedisCommands)) if (k !== 'info') pollCount += v - (ownBefore[k] || 0);
  const delta = afterCalls.total - before.total;
  const perCmd = {};
  for (const [k, v] of Object.entries(afterCalls.per)) {
    const d = v - (before.per[k] || 0);
    if (d) perCmd[k] = d;
  }
  const relayOnly = delta - pollCount - flushCommands;
  const x = relayOnly / REQUESTS;
  console.log(`redis_commands_per_request=${x.toFixed(2)}`);
  console.log(`redis-commands-stats-flush: flushes=${flushes} commands=${flushCommands}`);
  console.log(`redis-commands-detail: total_delta=${delta} test_polls=${pollCount} by_command=${JSON.stringify(perCmd)}`);
  assert.ok(x <= LIMIT, `${x.toFixed(2)} Redis commands per request > ${LIMIT}`);
  const ownGets = (ownRedisCommands.get || 0) - (ownBefore.get || 0);
  assert.equal((perCmd.get || 0) - ownGets, 0, 'the session binding is served from the sticky cache');
});
