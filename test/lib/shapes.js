'use strict';
// The error shapes a client API answers in, asserted the same way by every test file that
// speaks it (one copy instead of one a file).

const assert = require('node:assert/strict');

// OpenAI's {"error":{"message","type","param","code"}} with this status (and code when given).
function assertOpenAIError(r, status, code) {
  assert.equal(r.status, status, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(typeof j.error.message, 'string');
  assert.equal(typeof j.error.type, 'string');
  assert.ok('param' in j.error && 'code' in j.error, r.text);
  if (code !== undefined) assert.equal(j.error.code, code, r.text);
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

// Google's {"error":{"code","message","status"}} with this HTTP status (and status name when given).
function assertGoogleError(r, status, statusName) {
  assert.equal(r.status, status, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error, 'object', r.text);
  assert.equal(j.error.code, status, r.text);
  assert.equal(typeof j.error.message, 'string');
  if (statusName) assert.equal(j.error.status, statusName, r.text);
  assert.equal(j.type, undefined, 'not the Anthropic shape');
  return j;
}

module.exports = { assertOpenAIError, assertGoogleError };
