'use strict';
// Claude subscription accounts (claude-official, /admin/claude-accounts): the provider's
// request shaping, the PKCE flow (generate-auth-url, exchange-code), and token refresh by the
// maintenance thread, single-flight across relays.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');
const { stack, startMockUpstream, api, dumpRedis, MOCK_TEXT } = require('../lib/env');

let st;
let mock;
let ENV;

before(async () => {
  mock = await startMockUpstream({ port: 0 });
  ENV = { CLAUDE_API_URL: mock.url };
  st = await stack({ mock, relayEnv: ENV, account: false });
});

after(async () => {
  if (st) await st.teardown();
});

const PARAMS = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] };

function sdk(relay = st.relay) {
  return new Anthropic({ apiKey: st.key.apiKey, baseURL: relay.url + '/api', maxRetries: 0 });
}

async function removeAccount(id) {
  const r = await api(st.relay, 'DELETE', `/admin/claude-accounts/${id}`, { token: st.token });
  assert.equal(r.status, 200, r.text);
}

test('an admin-made account: Bearer token, the OAuth beta merged into the client list, nothing secret shown or stored', async () => {
  const accessToken = 'sk-ant-oat01-' + 'a'.repeat(40) + 'TOK1';
  const refreshToken = 'sk-ant-ort01-' + 'b'.repeat(40) + 'REF1';
  let r = await api(st.relay, 'POST', '/admin/claude-accounts', { token: st.token, body: { name: 'manual', accessToken, refreshToken, expiresAt: Date.now() + 3600e3 } });
  assert.equal(r.status, 200, r.text);
  const acc = r.json.data;
  assert.equal(acc.platform, 'claude-official');
  assert.equal(acc.hasAccessToken, true);
  assert.equal(acc.hasRefreshToken, true);
  assert.ok(!r.text.includes(accessToken) && !r.text.includes(refreshToken));
  try {
    // Fields only the relay sets are refused, naming the field.
    for (const field of ['organization', 'lastRefreshAt']) {
      r = await api(st.relay, 'PUT', `/admin/claude-accounts/${acc.id}`, { token: st.token, body: { [field]: 'x' } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(field));
    }
    mock.reset();
    const client = new Anthropic({
      apiKey: st.key.apiKey,
      baseURL: st.relay.url + '/api',
      maxRetries: 0,
      defaultHeaders: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14, oauth-2025-04-20,fine-grained-tool-streaming-2025-05-14' },
    });
    const msg = await client.messages.create(PARAMS);
    assert.equal(msg.content[0].text, MOCK_TEXT);
    const seen = mock.messageRequests();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers.authorization, `Bearer ${accessToken}`);
    assert.equal(seen[0].headers['x-api-key'], undefined);
    assert.equal(seen[0].headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20');
    assert.equal(seen[0].url, '/v1/messages?beta=true');
    // Without a client list the beta is still sent.
    mock.reset();
    await sdk().messages.create(PARAMS);
    assert.equal(mock.messageRequests()[0].headers['anthropic-beta'], 'oauth-2025-04-20');
    const dump = JSON.stringify(await dumpRedis(st.redis.port));
    assert.ok(dump.includes(`claude_account:${acc.id}`));
    assert.ok(!dump.includes(accessToken) && !dump.includes(refreshToken), 'tokens sealed at rest');
  } finally {
    await removeAccount(acc.id);
  }
});
