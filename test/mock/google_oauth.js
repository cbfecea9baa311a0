'use strict';
// Mock Google OAuth token endpoint (oauth2.googleapis.com/token), mounted by test/mock/upstream.js:
// POST /oauth/google/token, application/x-www-form-urlencoded only (else 400 invalid_request).
//   authorization_code  code registered with expectCode(code, challenge, user?); code_verifier must
//                       hash (S256) to that challenge; client_id AND client_secret must be the
//                       client's (o.clientId / o.clientSecret: Gemini CLI's, the relay's defaults);
//                       redirect_uri must be o.redirectUri. One use per code.
//   refresh_token       a refresh token this mock issued and not revoked (Google does not rotate
//                       them: it stays valid), the client id and secret as above.
// Answers are Google's shape: {access_token, expires_in, scope, token_type: "Bearer", id_token}
// and refresh_token on the first exchange only. A refusal is 400 {error: "invalid_grant",
// error_description}; a wrong client 401 {error: "invalid_client"}.
// Access tokens are `ya29.g<hex>`: each is registered with Code Assist (codeAssist.alias) as the
// code's user (default "guser"), so the mock Code Assist accepts it and gives it the user's
// project (proj-<user>; a user beginning "noproj" has none), before and after a refresh.
// o: { expectCode, calls(), issued(), reset(), failRefresh, delayMs, expiresIn, idToken,
//      clientId, clientSecret, redirectUri, revoke(refreshToken) }.

const crypto = require('node:crypto');

const GEMINI_CLI_CLIENT_ID = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';
const GEMINI_CLI_CLIENT_SECRET = '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';
const GOOGLE_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

function sendJson(res, status, obj) {
  const data = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function makeGoogleOAuth(codeAssist) {
  const codes = new Map(); // code -> { challenge, user }
  const live = new Map(); // refresh token -> user
  const issued = [];
  const calls = [];
  const o = {
    failRefresh: false,
    delayMs: 0,
    expiresIn: 3599,
    idToken: true,
    clientId: GEMINI_CLI_CLIENT_ID,
    clientSecret: GEMINI_CLI_CLIENT_SECRET,
    redirectUri: 'https://codeassist.google.com/authcode',
    expectCode: (code, challenge, user) => codes.set(code, { challenge, user: user || 'guser' }),
    calls: () => calls.slice(),
    issued: () => issued.slice(),
    revoke: (rt) => live.delete(rt),
    reset: () => {
      calls.length = 0;
    },
  };
  const mint = (user, withRefresh) => {
    const tag = 'g' + crypto.randomBytes(12).toString('hex');
    codeAssist.alias(tag, user);
    const t = { access_token: `ya29.${tag}`, expires_in: o.expiresIn, scope: GOOGLE_SCOPE, token_type: 'Bearer' };
    if (withRefresh) {
      t.refresh_token = '1//0g' + crypto.randomBytes(16).toString('hex');
      live.set(t.refresh_token, user);
    }
    if (o.idToken) t.id_token = 'eyJhbGciOiJSUzI1NiJ9.' + Buffer.from(JSON.stringify({ sub: user })).toString('base64url') + '.sig';
    issued.push({ ...t, user });
    return t;
  };
  const invalid = (res, why) => sendJson(res, 400, { error: 'invalid_grant', error_description: why });
  const answer = (res, q) => {
    if (q.get('client_id') !== o.clientId || q.get('client_secret') !== o.clientSecret) {
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
    }
    if (q.get('grant_type') === 'authorization_code') {
      const want = codes.get(q.get('code'));
      if (!want) return invalid(res, 'Malformed auth code.');
      const got = crypto.createHash('sha256').update(String(q.get('code_verifier') || '')).digest('base64url');
      if (got !== want.challenge) return invalid(res, 'Invalid code verifier.');
      if (q.get('redirect_uri') !== o.redirectUri) return sendJson(res, 400, { error: 'redirect_uri_mismatch', error_description: 'Bad Request' });
      codes.delete(q.get('code'));
      return sendJson(res, 200, mint(want.user, true));
    }
    if (q.get('grant_type') === 'refresh_token') {
      const rt = q.get('refresh_token');
      if (o.failRefresh || !live.has(rt)) return invalid(res, 'Token has been expired or revoked.');
      return sendJson(res, 200, mint(live.get(rt), false)); // Google: no refresh_token on a refresh
    }
    return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + q.get('grant_type') });
  };
  o.handle = (res, raw, contentType) => {
    const q = new URLSearchParams(raw.toString('utf8'));
    calls.push({ grant_type: q.get('grant_type'), body: Object.fromEntries(q), contentType, at: Date.now() });
    if (!String(contentType || '').startsWith('application/x-www-form-urlencoded')) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'form body expected' });
    }
    if (o.delayMs) setTimeout(() => answer(res, q), o.delayMs);
    else answer(res, q);
  };
  return o;
}

module.exports = { makeGoogleOAuth, GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET, GOOGLE_SCOPE };
