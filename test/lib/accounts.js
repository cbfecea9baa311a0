'use strict';
// The admin CRUD of one account type (/admin/<type>-accounts) and the key-leak check, shared by
// the provider test files (gemini, openai, gemini-code-assist, chat) instead of a copy in each.

const assert = require('node:assert/strict');
const { api } = require('./env');

// stackOf() returns the file's stack ({ relay, token }); it is called at each use because a test
// file makes its stack in before().
function adminAccounts(type, stackOf) {
  const base = `/admin/${type}-accounts`;
  return {
    base,
    // A new account (priority 50, schedulable unless body says otherwise); its admin record.
    async create(body) {
      const st = stackOf();
      const r = await api(st.relay, 'POST', base, { token: st.token, body: { priority: 50, schedulable: true, ...body } });
      assert.ok(r.status === 200 || r.status === 201, r.text);
      return r.json.data;
    },
    // The account's admin record as the list shows it (undefined when gone).
    async get(id, relay = stackOf().relay, token = stackOf().token) {
      const r = await api(relay, 'GET', base, { token });
      assert.equal(r.status, 200, r.text);
      return r.json.data.find((a) => a.id === id);
    },
    // Delete it (an account record or its id); cleanup, so the answer is not asserted.
    async remove(acc) {
      const st = stackOf();
      return api(st.relay, 'DELETE', `${base}/${typeof acc === 'string' ? acc : acc.id}`, { token: st.token });
    },
  };
}

// No header or body the upstream saw carries the relay key.
function assertKeyNotForwarded(reqs, relayKey) {
  for (const r of reqs) {
    assert.ok(!JSON.stringify(r.headers).includes(relayKey), 'the cr_ key reached the upstream headers');
    assert.ok(!JSON.stringify(r.body).includes(relayKey), 'the cr_ key reached the upstream body');
  }
}

module.exports = { adminAccounts, assertKeyNotForwarded };
