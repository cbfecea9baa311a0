'use strict';
// Per-account upstream proxies: an account with an HTTP or SOCKS5 proxy (with credentials) reaches
// the upstream through it; the proxy password is sealed and never returned; a proxy that refuses the
// credentials or is down gives the client a 502 in Anthropic's error shape, never the proxy's answer.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { cleanupAfter, stack, api, messageBody, anthropicErrorProblem, dumpRedis, closedPort, MOCK_TEXT, MOCK_ACCOUNT_KEY } = require('../lib/env');
const { startHttpProxy, startSocks5Proxy } = require('../mock/proxy');

const defer = cleanupAfter(after);

async function stackWithProxy(proxy) {
  const st = await stack({ account: { name: 'proxied', proxy } });
  defer(() => st.teardown());
  return st;
}

function assertAnswered(r, st) {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.content[0].text, MOCK_TEXT);
  const seen = st.mock.messageRequests().at(-1);
  assert.equal(seen.headers['x-api-key'], MOCK_ACCOUNT_KEY);
}

test('HTTP proxy with credentials: upstream reached through CONNECT, password sealed and hidden', async () => {
  const proxy = await startHttpProxy({ username: 'puser', password: 'p@ss:word/1' });
  defer(() => proxy.close());
  const st = await stackWithProxy({ type: 'http', host: '127.0.0.1', port: proxy.port, username: 'puser', password: 'p@ss:word/1' });

  assertAnswered(await st.send(messageBody()), st);
  const used = proxy.log.filter((e) => e.kind === 'connect' && !e.rejected);
  assert.equal(used.length, 1, JSON.stringify(proxy.log));
  assert.equal(used[0].url, `127.0.0.1:${st.mock.port}`);

  const got = await api(st.relay, 'GET', '/admin/claude-console-accounts', { token: st.token });
  const acc = got.json.data.find((a) => a.id === st.account.id);
  assert.equal(acc.proxy.type, 'http');
  assert.equal(acc.proxy.username, 'puser');
  assert.equal(acc.proxy.hasPassword, true);
  assert.ok(!JSON.stringify(got.json).includes('p@ss:word/1'), 'proxy password returned by the admin API');
  const dump = JSON.stringify(await dumpRedis(st.redis.port));
  assert.ok(!dump.includes('p@ss:word/1'), 'proxy password stored in clear');
});

test('SOCKS5 proxy with username/password: upstream reached through it, streaming too', async () => {
  const proxy = await startSocks5Proxy({ username: 'suser', password: 'secret-5' });
  defer(() => proxy.close());
  const st = await stackWithProxy({ type: 'socks5', host: '127.0.0.1', port: proxy.port, username: 'suser', password: 'secret-5' });

  assertAnswered(await st.send(messageBody()), st);
  const s = await st.stream(messageBody());
  assert.equal(s.status, 200);
  assert.ok(s.events.some((e) => e.event === 'message_stop'));
  const ok = proxy.log.filter((e) => !e.rejected);
  assert.ok(ok.length >= 1, JSON.stringify(proxy.log));
  assert.equal(ok[0].user, 'suser');
  assert.equal(ok[0].port, st.mock.port);
});

test('proxy refusing the credentials → 502 api_error, not the proxy 407', async () => {
  const proxy = await startHttpProxy({ username: 'right', password: 'right' });
  defer(() => proxy.close());
  const st = await stackWithProxy({ type: 'http', host: '127.0.0.1', port: proxy.port, username: 'wrong', password: 'wrong' });
  const r = await st.send(messageBody());
  assert.equal(r.status, 502, r.text);
  assert.equal(anthropicErrorProblem(r.json), null, r.text);
  assert.equal(r.json.error.type, 'api_error');
  assert.ok(proxy.log.some((e) => e.rejected));
  assert.equal(st.mock.messageRequests().length, 0, 'upstream reached despite the refused proxy');
});

test('SOCKS5 proxy with a wrong password and a proxy that is down → 502', async () => {
  const proxy = await startSocks5Proxy({ username: 'suser', password: 'right' });
  defer(() => proxy.close());
  const st = await stackWithProxy({ type: 'socks5', host: '127.0.0.1', port: proxy.port, username: 'suser', password: 'nope' });
  const r = await st.send(messageBody());
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.type, 'error');

  const down = await stackWithProxy({ type: 'socks5', host: '127.0.0.1', port: await closedPort() });
  const r2 = await down.send(messageBody());
  assert.equal(r2.status, 502, r2.text);
  assert.equal(r2.json.error.type, 'api_error');
  const h = await api(down.relay, 'GET', '/health');
  assert.equal(h.status, 200);
});
