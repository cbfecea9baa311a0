'use strict';
// Redis commands per relay request, as the provider test files measure them (one copy instead
// of one a file): INFO commandstats over n requests, minus this test process's own polls.

const assert = require('node:assert/strict');
const { waitForUsage, sleep, ownRedisCommands, httpRequest } = require('./env');

// send() makes one request (200 expected). billed: the requests are metered, so the window waits
// for their usage to land (unbilled calls such as countTokens have none to wait for).
async function redisCommandsPerRequest(st, key, n, send, { billed = true } = {}) {
  for (let i = 0; i < 2; i++) assert.equal((await send()).status, 200);
  const done = billed ? (await waitForUsage(st.redis.port, key.id, 2)).requests : 0;
  // Past one statistics flush (every 2 s): earlier requests' pending breakdowns land before the
  // window opens, so it holds only these requests' share.
  await sleep(2300);
  // the statistics flush is taken out (printed by redis-commands.test.js): not per request
  const flushed = async () => (await httpRequest(`${st.relay.url}/health`)).json.components.usage.statsCommands;
  const flush0 = await flushed();
  const before = await st.redis.commandCalls();
  const own = { ...ownRedisCommands };
  for (let i = 0; i < n; i++) assert.equal((await send()).status, 200);
  if (billed) await waitForUsage(st.redis.port, key.id, done + n, 5000);
  await sleep(300);
  const after = await st.redis.commandCalls();
  const flush = (await flushed()) - flush0;
  let polls = 0;
  for (const [k, v] of Object.entries(ownRedisCommands)) if (k !== 'info') polls += v - (own[k] || 0);
  const perRequest = (after.total - before.total - polls - flush) / n;
  if (perRequest > 7) { // say where an unusual figure came from (a failing assertion shows only it)
    const diff = {};
    for (const [k, v] of Object.entries(after.per)) if (v !== (before.per[k] || 0)) diff[k] = v - (before.per[k] || 0);
    console.log(`redis commands over ${n} requests: ${JSON.stringify(diff)} (own polls ${polls}, flush ${flush})`);
  }
  return perRequest;
}

module.exports = { redisCommandsPerRequest };
