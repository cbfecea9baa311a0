'use strict';
// Mock Anthropic upstream speaking the real wire protocol (node:http only).
//
//   const { startMockUpstream, MOCK_USAGE } = require('./mock/upstream');
//   const mock = await startMockUpstream({ port: 0 });
//   mock.url, mock.requests(), mock.reset(), mock.aborts(), mock.close()
//
// Standalone: node test/mock/upstream.js --port 4000   (prints "listening <port>")
//
// Behaviour of POST /v1/messages is selected by the body's `model`:
//   <any other model>            normal answer (JSON or SSE when stream:true)
//   mock-error-<status>          Anthropic error JSON with that status (429 adds retry-after: 7)
//   mock-error-<status>-<words>  the same with the message "<words>" (dashes as spaces), no
//                                retry-after (e.g. mock-error-400-account-is-disabled)
//   mock-slow-first-byte-<ms>    wait <ms> before the headers, then a normal answer
//   mock-slow-chunks-<n>-<ms>    SSE with n content_block_delta events <ms> apart (output_tokens = n)
//   mock-drop-after-<k>          SSE: the first k events, then the socket is destroyed (no message_stop)
//   mock-hang                    never answers (until the client goes away)
//   mock-big-<bytes>             non-stream answer whose text is <bytes> bytes long
//   mock-ratelimit-<s>           429 with anthropic-ratelimit-unified-reset = now + <s> s (no retry-after)
//   mock-ratelimit-claim-<c>-<s> the same, naming the limit hit: anthropic-ratelimit-unified-representative-claim: <c>
//   mock-usage-<n>               (as a /b/ behaviour) non-stream answer for the request's model with
//                                <n> input tokens, 13 output, no cache
//   mock-huge-event-<bytes>      SSE: message_start, then one content_block_delta whose text is <bytes>
//                                bytes long (written in 64 KiB pieces), then the normal rest
//   mock-garbage                 answers with bytes that are not HTTP, then closes
//   mock-reset-after-<k>         SSE: the first k events, then a TCP reset (SO_LINGER 0)
//   mock-end-after-<k>           SSE: the first k events, then a clean end (no message_stop)
//   mock-truncated-chunked       JSON answer, chunked, whose socket closes in the middle of a chunk
// Per account: a base URL of <mock>/b/<behaviour> makes every request under it behave as the
// model mock-<behaviour> would (e.g. /b/error-429, /b/slow-first-byte-3000, /b/drop-after-3),
// so one account can fail while another, on the plain URL, answers normally. Recorded requests
// carry `behave`.
// OAuth: POST /v1/oauth/token (JSON) - authorization_code (the code must have been registered
// with mock.oauth.expectCode(code, challenge); the code_verifier must hash to that S256
// challenge) and refresh_token (a refresh token this mock issued and not yet used: rotated;
// else 400 invalid_grant). mock.oauth: { expectCode, calls(), issued(), failRefresh, delayMs,
// expiresIn }. GET /api/oauth/profile and /api/oauth/usage (Bearer: an issued access token,
// or one given to acceptToken; the OAuth beta required): mock.oauth.{profileStatus,
// profileAnswer, usageFail, usageFor, sideCalls(what)} - each call records its Authorization.
// mock.setAnswerHeaders({...}) adds those headers to every 2xx answer (e.g. the unified 5-hour
// window headers); setAnswerHeaders({}) stops it.
// OpenAI Responses: POST /v1/responses (and /v1/responses/compact): a response object (JSON), or
// with stream:true the real event sequence (response.created, response.in_progress,
// response.output_item.added, response.content_part.added, response.output_text.delta x5,
// response.output_text.done, response.content_part.done, response.output_item.done,
// response.completed with OAI_USAGE). Behaviours (model or /b/): error-<status> (OpenAI error
// JSON; 429 adds retry-after: 7), ratelimit-<s> (429 with error.resets_in_seconds = s, no
// retry-after), drop-after-<k>, hang, slow-first-byte-<ms>. mock.responsesRequests().
// Tool calls: model mock-tool-<name> (Messages) answers a text block then a tool_use of <name> with
// input MOCK_TOOL_INPUT (stop_reason tool_use; streamed: input_json_delta pieces MOCK_TOOL_ARGS_CHUNKS);
// on /v1/responses a function_call item (JSON, or output_item.added +
// function_call_arguments.delta pieces + .done + output_item.done). On /v1/responses a model
// gpt-mock-<behaviour> behaves as mock-<behaviour> (chat completions pick the OpenAI pool by gpt-*).
// Gemini Code Assist: POST /v1internal:<method> (see ./code_assist.js): mock.codeAssist,
// mock.codeAssistRequests(method).
// OpenAI (ChatGPT) OAuth: POST /oauth/openai/token (application/x-www-form-urlencoded only) -
// authorization_code (code registered with mock.openaiOAuth.expectCode(code, challenge, claims?),
// code_verifier hashing to it) and refresh_token (rotated; with omitRefresh the answer carries
// neither refresh_token nor id_token and the old refresh token stays valid). Answers carry an
// HS256 id_token whose claims hold https://api.openai.com/auth {chatgpt_account_id,
// chatgpt_user_id, chatgpt_plan_type}. mock.openaiOAuth: { expectCode, calls(), issued(),
// failRefresh, delayMs, expiresIn, omitRefresh, behave (Map chatgpt account id -> behaviour) }.
// Codex backend: POST /backend-api/codex/responses (and /compact): Bearer must be a live issued
// access token and chatgpt-account-id its account (else 401); store must be false (compact: no
// store); then as /v1/responses (the account's behave entry, else the body's model), 2xx answers
// with x-codex-primary-used-percent: 42, x-codex-primary-reset-after-seconds: 3600 and
// x-codex-primary-window-minutes: 300. A behave of midstream-limit-<s> streams response.created,
// then event: error {error:{type:usage_limit_reached, resets_in_seconds:s}} and response.failed.
// mock.codexRequests().
// Gemini API: POST /v1beta|v1/models/<m>:generateContent|streamGenerateContent|countTokens, GET the
// models (test/mock/gemini.js; needs x-goog-api-key). mock.geminiRequests().
// Also: POST /v1/messages/count_tokens -> {"input_tokens":42}; GET /v1/models;
//       GET|DELETE /__mock/requests, GET|DELETE /__mock/aborts.

const http = require('node:http');
const { makeCodeAssist, GCA_TEXT, GCA_USAGE, GCA_COUNTED } = require('./code_assist');
const crypto = require('node:crypto');
const { handleGemini, releaseHeld, GEMINI_USAGE, GEMINI_COUNTED, GEMINI_TEXT_CHUNKS } = require('./gemini');

const MOCK_TEXT = 'Hello from the mock upstream.';
const MOCK_TEXT_CHUNKS = ['Hello', ' from', ' the', ' mock', ' upstream.'];
// The SSE event names of a normal streamed answer, in order (what Anthropic sends).
const MOCK_EVENT_NAMES = Object.freeze([
  'message_start',
  'content_block_start',
  'ping',
  ...MOCK_TEXT_CHUNKS.map(() => 'content_block_delta'),
  'content_block_stop',
  'message_delta',
  'message_stop',
]);
const MOCK_USAGE = Object.freeze({
  input_tokens: 11,
  output_tokens: 13,
  cache_creation_input_tokens: 7,
  cache_read_input_tokens: 5,
  cache_creation: Object.freeze({ ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 }),
});
// What the relay is expected to count for one normal request.
const MOCK_COUNTED = Object.freeze({
  requests: 1,
  inputTokens: 11,
  outputTokens: 13,
  cacheCreateTokens: 7,
  cacheReadTokens: 5,
  ephemeral5mTokens: 3,
  ephemeral1hTokens: 4,
  allTokens: 36,
});
const COUNT_TOKENS_RESULT = 42;
const MOCK_TOOL_INPUT = Object.freeze({ city: 'Paris' });
const MOCK_TOOL_ARGS_CHUNKS = ['{"city":', '"Paris"}'];
const MOCK_TOOL_TEXT = 'Let me check.';
const MOCK_MODELS = [
  { type: 'model', id: 'claude-opus-5-5', display_name: 'Claude Opus 5.5', created_at: '2026-09-01T00:00:00Z' },
  { type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
];

const ERROR_TYPES = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'api_error',
  529: 'overloaded_error',
};

const MAX_RECORDED = 20000;

// OpenAI Responses usage of a normal answer, and what the relay is expected to count: OpenAI's
// input_tokens include the cached ones, counted once as cache reads.
const OAI_USAGE = Object.freeze({
  input_tokens: 20,
  input_tokens_details: Object.freeze({ cached_tokens: 4 }),
  output_tokens: 9,
  output_tokens_details: Object.freeze({ reasoning_tokens: 3 }),
  total_tokens: 29,
});
const OAI_COUNTED = Object.freeze({
  requests: 1,
  inputTokens: 16,
  outputTokens: 9,
  cacheCreateTokens: 0,
  cacheReadTokens: 4,
  allTokens: 29,
});
const OAI_ERROR_TYPES = { 400: 'invalid_request_error', 401: 'invalid_request_error', 403: 'permission_denied', 404: 'invalid_request_error', 429: 'rate_limit_error' };

function oaiResponse(model, text, status) {
  const msgId = rid('msg_');
  return {
    id: rid('resp_'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: status || 'completed',
    model,
    output: text === null ? [] : [{ id: msgId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: status && status !== 'completed' ? null : JSON.parse(JSON.stringify(OAI_USAGE)),
  };
}

// The event sequence of a streamed Responses answer.
function oaiFrames(model, chunks) {
  const done = oaiResponse(model, chunks.join(''));
  const item = done.output[0];
  const start = { ...oaiResponse(model, null, 'in_progress'), id: done.id };
  let seq = 0;
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const frames = [
    ev('response.created', { response: start }),
    ev('response.in_progress', { response: start }),
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
  ];
  for (const c of chunks) frames.push(ev('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta: c }));
  frames.push(ev('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text: chunks.join('') }));
  frames.push(ev('response.content_part.done', { item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] }));
  frames.push(ev('response.output_item.done', { output_index: 0, item }));
  frames.push(ev('response.completed', { response: done }));
  return frames;
}

// A Responses answer calling tool `name` (JSON), and its event sequence.
function oaiToolResponse(model, name) {
  const done = oaiResponse(model, null);
  done.output = [{ id: rid('fc_'), type: 'function_call', status: 'completed', call_id: rid('call_'), name, arguments: MOCK_TOOL_ARGS_CHUNKS.join('') }];
  done.usage = JSON.parse(JSON.stringify(OAI_USAGE));
  return done;
}

function oaiToolFrames(model, name) {
  const done = oaiToolResponse(model, name);
  const item = done.output[0];
  const start = { ...oaiResponse(model, null, 'in_progress'), id: done.id };
  let seq = 0;
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const frames = [
    ev('response.created', { response: start }),
    ev('response.in_progress', { response: start }),
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } }),
  ];
  for (const c of MOCK_TOOL_ARGS_CHUNKS) frames.push(ev('response.function_call_arguments.delta', { item_id: item.id, output_index: 0, delta: c }));
  frames.push(ev('response.function_call_arguments.done', { item_id: item.id, output_index: 0, arguments: item.arguments }));
  frames.push(ev('response.output_item.done', { output_index: 0, item }));
  frames.push(ev('response.completed', { response: done }));
  return frames;
}

function rid(prefix) {
  return prefix + crypto.randomBytes(12).toString('hex');
}

function usageCopy(overrides) {
  return {
    input_tokens: MOCK_USAGE.input_tokens,
    output_tokens: MOCK_USAGE.output_tokens,
    cache_creation_input_tokens: MOCK_USAGE.cache_creation_input_tokens,
    cache_read_input_tokens: MOCK_USAGE.cache_read_input_tokens,
    cache_creation: {
      ephemeral_5m_input_tokens: MOCK_USAGE.cache_creation.ephemeral_5m_input_tokens,
      ephemeral_1h_input_tokens: MOCK_USAGE.cache_creation.ephemeral_1h_input_tokens,
    },
    ...(overrides || {}),
  };
}

function messageJson(model, text, usageOverrides) {
  return {
    id: rid('msg_mock_'),
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: usageCopy(usageOverrides),
  };
}

function toolMessageJson(model, name) {
  const m = messageJson(model, MOCK_TOOL_TEXT);
  m.content.push({ type: 'tool_use', id: rid('toolu_'), name, input: { ...MOCK_TOOL_INPUT } });
  m.stop_reason = 'tool_use';
  return m;
}

// A streamed answer: a text block, then a tool_use block whose input comes as input_json_delta pieces.
function toolStreamFrames(model, name) {
  const frames = streamFrames(model, [MOCK_TOOL_TEXT], MOCK_USAGE.output_tokens);
  const tail = frames.splice(frames.length - 2, 2); // message_delta, message_stop
  frames.push(sse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: rid('toolu_'), name, input: {} } }));
  for (const c of MOCK_TOOL_ARGS_CHUNKS) frames.push(sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: c } }));
  frames.push(sse('content_block_stop', { type: 'content_block_stop', index: 1 }));
  tail[0] = sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: MOCK_USAGE.output_tokens } });
  return frames.concat(tail);
}

function sse(event, data) {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

// The full list of SSE frames for a streamed answer made of `chunks`.
function streamFrames(model, chunks, outputTokens) {
  const frames = [];
  frames.push(
    sse('message_start', {
      type: 'message_start',
      message: {
        id: rid('msg_mock_'),
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usageCopy({ output_tokens: 1 }),
      },
    }),
  );
  frames.push(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
  frames.push(sse('ping', { type: 'ping' }));
  for (const c of chunks) {
    frames.push(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: c } }));
  }
  frames.push(sse('content_block_stop', { type: 'content_block_stop', index: 0 }));
  frames.push(
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
  );
  frames.push(sse('message_stop', { type: 'message_stop' }));
  return frames;
}

function parseModel(model) {
  if (typeof model !== 'string') return { kind: 'normal' };
  let m;
  if ((m = /^mock-error-(\d{3})$/.exec(model))) return { kind: 'error', status: Number(m[1]) };
  if ((m = /^mock-error-(\d{3})-([a-z0-9-]+)$/.exec(model))) return { kind: 'error', status: Number(m[1]), message: m[2].replace(/-/g, ' ') };
  if ((m = /^mock-slow-first-byte-(\d+)$/.exec(model))) return { kind: 'slow-first-byte', ms: Number(m[1]) };
  if ((m = /^mock-slow-chunks-(\d+)-(\d+)$/.exec(model))) return { kind: 'slow-chunks', n: Number(m[1]), ms: Number(m[2]) };
  if ((m = /^mock-drop-after-(\d+)$/.exec(model))) return { kind: 'drop-after', k: Number(m[1]) };
  if (model === 'mock-hang') return { kind: 'hang' };
  if ((m = /^mock-big-(\d+)$/.exec(model))) return { kind: 'big', bytes: Number(m[1]) };
  if ((m = /^mock-ratelimit-(\d+)$/.exec(model))) return { kind: 'ratelimit', s: Number(m[1]) };
  if ((m = /^mock-ratelimit-claim-([a-z0-9_]+)-(\d+)$/.exec(model))) return { kind: 'ratelimit', s: Number(m[2]), claim: m[1] };
  if ((m = /^mock-usage-(\d+)$/.exec(model))) return { kind: 'usage', input: Number(m[1]) };
  if ((m = /^mock-huge-event-(\d+)$/.exec(model))) return { kind: 'huge-event', bytes: Number(m[1]) };
  if (model === 'mock-garbage') return { kind: 'garbage' };
  if ((m = /^mock-reset-after-(\d+)$/.exec(model))) return { kind: 'reset-after', k: Number(m[1]) };
  if (model === 'mock-truncated-chunked') return { kind: 'truncated-chunked' };
  if ((m = /^mock-tool-([A-Za-z0-9_]+)$/.exec(model))) return { kind: 'tool', name: m[1] };
  if ((m = /^mock-end-after-(\d+)$/.exec(model))) return { kind: 'end-after', k: Number(m[1]) };
  return { kind: 'normal' };
}

// The OAuth token endpoint's state (see the header).
function makeOAuth() {
  const codes = new Map(); // code -> S256 challenge
  const live = new Set(); // refresh tokens not yet used
  const issued = [];
  const calls = [];
  const o = {
    failRefresh: false,
    refreshStatus: 0, // e.g. 500: every refresh_token grant answers it (a token endpoint outage)
    delayMs: 0,
    expiresIn: 3600,
    expectCode: (code, challenge) => codes.set(code, challenge),
    calls: () => calls.slice(),
    issued: () => issued.slice(),
    reset: () => {
      calls.length = 0;
      sideCalls.length = 0;
    },
  };
  // GET /api/oauth/profile and /api/oauth/usage with `Authorization: Bearer <token>`: a token
  // this mock issued and not yet rotated away (or one named by o.acceptToken) gets the answer,
  // any other 401. profileStatus / usageFail (a Set of tokens) make them fail with 500.
  const access = new Set();
  o.profileStatus = 0;
  o.profileAnswer = () => ({
    account: { uuid: 'acct-mock-uuid', email_address: 'mock@example.com', full_name: 'Mock User', has_claude_max: true, has_claude_pro: false },
    organization: { uuid: 'org-mock-uuid', name: 'Mock Org', organization_type: 'claude_max', rate_limit_tier: 'default_claude_max_20x' },
  });
  o.defaultProfileAnswer = o.profileAnswer;
  o.usageFail = new Set();
  o.usageFor = new Map(); // token -> answer
  const sideCalls = [];
  o.sideCalls = (what) => sideCalls.filter((c) => !what || c.what === what);
  o.acceptToken = (t) => access.add(t);
  o.handleSide = (res, what, headers) => {
    const auth = String(headers.authorization || '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    sideCalls.push({ what, token, authorization: auth, beta: headers['anthropic-beta'], userAgent: headers['user-agent'], at: Date.now() });
    if (!access.has(token)) return sendJsonRaw(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'Invalid bearer token' } });
    if (headers['anthropic-beta'] !== 'oauth-2025-04-20') return sendJsonRaw(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'OAuth beta header missing' } });
    if (what === 'profile') {
      if (o.profileStatus) return sendJsonRaw(res, o.profileStatus, { type: 'error', error: { type: 'api_error', message: 'profile unavailable' } });
      return sendJsonRaw(res, 200, o.profileAnswer(token));
    }
    if (o.usageFail.has(token)) return sendJsonRaw(res, 500, { type: 'error', error: { type: 'api_error', message: 'usage unavailable' } });
    const answer = o.usageFor.get(token) || {
      five_hour: { utilization: 12, resets_at: new Date(Date.now() + 3600e3).toISOString() },
      seven_day: { utilization: 34, resets_at: new Date(Date.now() + 5 * 86400e3).toISOString() },
      seven_day_sonnet: null,
      seven_day_opus: null,
    };
    return sendJsonRaw(res, 200, answer);
  };
  // A request naming expires_in is a setup token: long-lived, inference only, no refresh token.
  const mint = (expiresIn) => {
    const t = {
      access_token: 'sk-ant-oat01-mock' + crypto.randomBytes(16).toString('hex'),
      refresh_token: 'sk-ant-ort01-mock' + crypto.randomBytes(16).toString('hex'),
      expires_in: expiresIn || o.expiresIn,
      token_type: 'Bearer',
      scope: expiresIn ? 'user:inference' : 'user:inference user:profile',
      organization: { uuid: 'org-mock-uuid', name: 'Mock Org' },
      account: { uuid: 'acct-mock-uuid', email_address: 'mock@example.com' },
    };
    if (expiresIn) delete t.refresh_token;
    else live.add(t.refresh_token);
    access.add(t.access_token);
    issued.push(t);
    return t;
  };
  const invalid = (res, why) => sendJsonRaw(res, 400, { error: 'invalid_grant', error_description: why });
  const answer = (res, body) => {
    if (!body || typeof body !== 'object') return sendJsonRaw(res, 400, { error: 'invalid_request', error_description: 'JSON body expected' });
    if (body.grant_type === 'authorization_code') {
      const challenge = codes.get(body.code);
      if (!challenge) return invalid(res, 'unknown code');
      const got = crypto.createHash('sha256').update(String(body.code_verifier || '')).digest('base64url');
      if (got !== challenge) return invalid(res, 'code_verifier does not match the challenge');
      codes.delete(body.code);
      return sendJsonRaw(res, 200, mint(Number.isInteger(body.expires_in) ? body.expires_in : 0));
    }
    if (body.grant_type === 'refresh_token') {
      if (o.refreshStatus) return sendJsonRaw(res, o.refreshStatus, { error: 'server_error', error_description: 'mock: token endpoint down' });
      if (o.failRefresh || !live.has(body.refresh_token)) return invalid(res, 'Refresh token not found or invalid');
      live.delete(body.refresh_token);
      return sendJsonRaw(res, 200, mint());
    }
    return sendJsonRaw(res, 400, { error: 'unsupported_grant_type' });
  };
  o.handle = (res, body) => {
    calls.push({ grant_type: body && body.grant_type, body, at: Date.now() });
    if (o.delayMs) setTimeout(() => answer(res, body), o.delayMs);
    else answer(res, body);
  };
  return o;
}

// An HS256 JWT (key "mock") with these claims.
function mockJwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'HS256', typ: 'JWT' });
  const body = enc(claims);
  const sig = crypto.createHmac('sha256', 'mock').update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// The OpenAI token endpoint's state and the Codex backend's bearer check (see the header).
function makeOpenAIOAuth() {
  const codes = new Map(); // code -> { challenge, claims }
  const live = new Map(); // refresh token -> claims
  const access = new Map(); // live access token -> chatgpt account id
  const issued = [];
  const calls = [];
  const o = {
    failRefresh: false,
    delayMs: 0,
    expiresIn: 3600,
    omitRefresh: false,
    behave: new Map(),
    expectCode: (code, challenge, claims) => codes.set(code, { challenge, claims: claims || {} }),
    calls: () => calls.slice(),
    issued: () => issued.slice(),
    reset: () => {
      calls.length = 0;
    },
  };
  const mint = (claims, withRefresh = true) => {
    const c = {
      chatgpt_account_id: claims.chatgpt_account_id || 'acct-' + crypto.randomBytes(6).toString('hex'),
      chatgpt_user_id: claims.chatgpt_user_id || 'user-' + crypto.randomBytes(6).toString('hex'),
      chatgpt_plan_type: claims.chatgpt_plan_type || 'plus',
      email: claims.email || 'codex@example.com',
    };
    const t = { access_token: 'oai-at-' + crypto.randomBytes(16).toString('hex'), expires_in: o.expiresIn, token_type: 'Bearer', accountId: c.chatgpt_account_id };
    if (withRefresh) {
      t.refresh_token = 'oai-rt-' + crypto.randomBytes(16).toString('hex');
      t.id_token = mockJwt({ iss: 'https://auth.openai.com', email: c.email, 'https://api.openai.com/auth': { chatgpt_account_id: c.chatgpt_account_id, chatgpt_user_id: c.chatgpt_user_id, chatgpt_plan_type: c.chatgpt_plan_type } });
      live.set(t.refresh_token, c);
    }
    access.set(t.access_token, c.chatgpt_account_id);
    issued.push(t);
    return t;
  };
  const invalid = (res, why) => sendJsonRaw(res, 400, { error: 'invalid_grant', error_description: why });
  const answer = (res, q) => {
    if (q.get('grant_type') === 'authorization_code') {
      const want = codes.get(q.get('code'));
      if (!want) return invalid(res, 'unknown code');
      const got = crypto.createHash('sha256').update(String(q.get('code_verifier') || '')).digest('base64url');
      if (got !== want.challenge) return invalid(res, 'code_verifier does not match the challenge');
      codes.delete(q.get('code'));
      return sendJsonRaw(res, 200, mint(want.claims));
    }
    if (q.get('grant_type') === 'refresh_token') {
      const rt = q.get('refresh_token');
      if (o.failRefresh || !live.has(rt)) return invalid(res, 'Refresh token not found or invalid');
      const claims = live.get(rt);
      if (o.omitRefresh) {
        const t = mint(claims, false);
        for (const [tok, id] of access) if (id === claims.chatgpt_account_id && tok !== t.access_token) access.delete(tok);
        return sendJsonRaw(res, 200, t);
      }
      live.delete(rt);
      for (const [tok, id] of access) if (id === claims.chatgpt_account_id) access.delete(tok);
      return sendJsonRaw(res, 200, mint(claims));
    }
    return sendJsonRaw(res, 400, { error: 'unsupported_grant_type' });
  };
  o.handle = (res, raw, contentType) => {
    const q = new URLSearchParams(raw.toString('utf8'));
    calls.push({ grant_type: q.get('grant_type'), body: Object.fromEntries(q), contentType, at: Date.now() });
    if (!String(contentType || '').startsWith('application/x-www-form-urlencoded')) return sendJsonRaw(res, 400, { error: 'invalid_request', error_description: 'form body expected' });
    if (o.delayMs) setTimeout(() => answer(res, q), o.delayMs);
    else answer(res, q);
  };
  // The chatgpt account id of a request's bearer, or null (an unknown or retired token, or a
  // chatgpt-account-id header that is not the token's account).
  o.accountOf = (headers) => {
    const auth = String(headers.authorization || '');
    const id = auth.startsWith('Bearer ') ? access.get(auth.slice(7)) : undefined;
    return id && headers['chatgpt-account-id'] === id ? id : null;
  };
  return o;
}

function sendJsonRaw(res, status, obj) {
  const data = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function startMockUpstream(opts = {}) {
  const port = opts.port || 0;
  const host = opts.host || '127.0.0.1';
  const quiet = opts.quiet !== false;
  let recorded = [];
  let aborted = [];
  let abortWaiters = [];
  let counters = { requests: 0, completed: 0, dropped: 0 };
  const sockets = new Set();
  const oauth = makeOAuth();
  const codeAssist = makeCodeAssist();
  const openaiOAuth = makeOpenAIOAuth();

  function record(entry) {
    if (recorded.length >= MAX_RECORDED) recorded.shift();
    recorded.push(entry);
  }

  function noteAbort(info) {
    aborted.push(info);
    const still = [];
    for (const w of abortWaiters) {
      if (w.pred(info)) w.resolve(info);
      else still.push(w);
    }
    abortWaiters = still;
  }

  let answerHeaders = {}; // added to every 2xx answer (mock.setAnswerHeaders)

  function sendJson(res, status, obj, extraHeaders) {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'request-id': rid('req_mock_'),
      ...(status >= 200 && status < 300 ? answerHeaders : {}),
      ...(extraHeaders || {}),
    });
    res.end(body);
  }

  function sendError(res, status, message) {
    const type = ERROR_TYPES[status] || (status >= 500 ? 'api_error' : 'invalid_request_error');
    const extra = status === 429 && !message ? { 'retry-after': '7' } : undefined;
    sendJson(res, status, { type: 'error', error: { type, message: message || `mock error ${status}` } }, extra);
  }

  function startStream(res) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': rid('req_mock_'),
      ...answerHeaders,
    });
  }

  // Writes each SSE frame with its own write(), then ends the response.
  function writeFramesAndEnd(ctx, frames) {
    if (ctx.closed) return;
    for (const f of frames) ctx.res.write(f);
    ctx.res.end();
  }

  // message_start, then one content_block_delta of `bytes` text bytes written in pieces
  // (backpressure honoured), then the rest of a normal stream.
  function hugeEvent(ctx, bytes) {
    const { res, model } = ctx;
    startStream(res);
    const frames = streamFrames(model, ['x'], MOCK_USAGE.output_tokens);
    res.write(frames[0]);
    res.write(frames[1]);
    const head = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"';
    const piece = 'x'.repeat(64 * 1024);
    let left = bytes;
    res.write(head);
    const pump = () => {
      while (!ctx.closed && left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!res.write(n === piece.length ? piece : piece.slice(0, n))) return res.once('drain', pump);
      }
      if (ctx.closed) return;
      res.write('"}}\n\n');
      for (const f of frames.slice(4)) res.write(f);
      res.end();
    };
    pump();
  }

  function normalAnswer(ctx) {
    const { res, body, model } = ctx;
    if (body && body.stream === true) {
      startStream(res);
      writeFramesAndEnd(ctx, streamFrames(model, MOCK_TEXT_CHUNKS, MOCK_USAGE.output_tokens));
    } else {
      sendJson(res, 200, messageJson(model, MOCK_TEXT));
    }
  }

  function handleMessages(ctx) {
    const { res, body, model } = ctx;
    const b = parseModel(model);
    switch (b.kind) {
      case 'error':
        return sendError(res, b.status, b.message);
      case 'slow-first-byte':
        ctx.timer = setTimeout(() => {
          ctx.timer = null;
          if (!ctx.closed) normalAnswer(ctx);
        }, b.ms);
        return;
      case 'slow-chunks': {
        const chunks = [];
        for (let i = 0; i < b.n; i++) chunks.push(`chunk${i} `);
        if (body && body.stream === false) {
          // Non-stream variant: wait n*ms, then answer as JSON.
          ctx.timer = setTimeout(() => {
            ctx.timer = null;
            if (!ctx.closed) sendJson(res, 200, messageJson(model, chunks.join(''), { output_tokens: b.n }));
          }, b.n * b.ms);
          return;
        }
        startStream(res);
        const frames = streamFrames(model, chunks, b.n);
        // message_start, content_block_start, ping go out at once; each delta waits `ms`.
        let i = 0;
        const step = () => {
          ctx.timer = null;
          if (ctx.closed) return;
          while (i < frames.length) {
            const f = frames[i];
            if (f.startsWith('event: content_block_delta') && !ctx.delayedFor[i]) {
              ctx.delayedFor[i] = true;
              ctx.timer = setTimeout(step, b.ms);
              return;
            }
            res.write(f);
            i++;
          }
          res.end();
        };
        ctx.delayedFor = {};
        step();
        return;
      }
      case 'drop-after': {
        startStream(res);
        const frames = streamFrames(model, MOCK_TEXT_CHUNKS, MOCK_USAGE.output_tokens).slice(0, Math.max(0, b.k));
        for (const f of frames) res.write(f);
        ctx.selfDestroyed = true;
        // Give the kernel a moment to flush what was written, then kill the connection.
        ctx.timer = setTimeout(() => {
          ctx.timer = null;
          counters.dropped++;
          res.socket && res.socket.destroy();
        }, 30);
        return;
      }
      case 'hang':
        return; // never answer
      case 'usage': {
        // A normal answer reporting `input` input tokens, 13 output, no cache (long-context prices).
        const over = { input_tokens: b.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 } };
        const real = typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5';
        return sendJson(res, 200, messageJson(real, MOCK_TEXT, over));
      }
      case 'ratelimit': {
        const reset = String(Math.floor(Date.now() / 1000) + b.s);
        const err = { type: 'error', error: { type: 'rate_limit_error', message: 'mock: account rate limited' } };
        const claim = b.claim ? { 'anthropic-ratelimit-unified-representative-claim': b.claim } : {};
        return sendJson(res, 429, err, { 'anthropic-ratelimit-unified-reset': reset, 'anthropic-ratelimit-unified-status': 'rejected', ...claim });
      }
      case 'big': {
        const text = 'x'.repeat(b.bytes);
        return sendJson(res, 200, messageJson(model, text));
      }
      case 'huge-event':
        return hugeEvent(ctx, b.bytes);
      case 'end-after':
        startStream(res);
        return writeFramesAndEnd(ctx, streamFrames(model, MOCK_TEXT_CHUNKS, MOCK_USAGE.output_tokens).slice(0, b.k));
      case 'tool':
        if (body && body.stream === true) {
          startStream(res);
          return writeFramesAndEnd(ctx, toolStreamFrames(model, b.name));
        }
        return sendJson(res, 200, toolMessageJson(model, b.name));
      case 'garbage':
        ctx.selfDestroyed = true;
        res.socket.end('SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\x00\xff\xfe garbage\r\n\r\n');
        return;
      case 'reset-after': {
        startStream(res);
        for (const f of streamFrames(model, MOCK_TEXT_CHUNKS, MOCK_USAGE.output_tokens).slice(0, b.k)) res.write(f);
        ctx.selfDestroyed = true;
        ctx.timer = setTimeout(() => {
          ctx.timer = null;
          counters.dropped++;
          if (res.socket) res.socket.resetAndDestroy();
        }, 30);
        return;
      }
      case 'truncated-chunked': {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': rid('req_mock_') });
        const text = JSON.stringify(messageJson(model, MOCK_TEXT));
        res.write(text.slice(0, 40));
        ctx.selfDestroyed = true;
        ctx.timer = setTimeout(() => {
          ctx.timer = null;
          // a chunk header promising more than follows, then the end of the connection
          if (res.socket) {
            res.socket.write('400\r\n' + text.slice(40, 60));
            res.socket.destroy();
          }
        }, 30);
        return;
      }
      default:
        return normalAnswer(ctx);
    }
  }

  function oaiError(res, status, message, extra, headers) {
    const type = OAI_ERROR_TYPES[status] || (status >= 500 ? 'server_error' : 'invalid_request_error');
    sendJson(res, status, { error: { message: message || `mock error ${status}`, type, param: null, code: null, ...(extra || {}) } }, headers);
  }

  function handleResponses(ctx) {
    const { res, body, model } = ctx;
    const b = parseModel(model.startsWith('gpt-mock-') ? model.slice(4) : model);
    const answer = () => {
      if (ctx.closed) return;
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': rid('req_'), 'openai-processing-ms': '5', 'x-ratelimit-remaining-requests': '99', 'x-mock-secret': 'dropped' });
        for (const f of oaiFrames(body.model, MOCK_TEXT_CHUNKS)) res.write(f);
        return res.end();
      }
      sendJson(res, 200, oaiResponse(body.model, MOCK_TEXT), { 'x-request-id': rid('req_'), 'openai-processing-ms': '5' });
    };
    switch (b.kind) {
      case 'error':
        return oaiError(res, b.status, b.message, null, b.status === 429 && !b.message ? { 'retry-after': '7' } : undefined);
      case 'ratelimit':
        return oaiError(res, 429, 'mock: usage limit reached', { type: 'usage_limit_reached', resets_in_seconds: b.s });
      case 'hang':
        return;
      case 'slow-first-byte':
        ctx.timer = setTimeout(answer, b.ms);
        return;
      case 'tool':
        if (body.stream === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': rid('req_') });
          for (const f of oaiToolFrames(body.model, b.name)) res.write(f);
          return res.end();
        }
        return sendJson(res, 200, oaiToolResponse(body.model, b.name), { 'x-request-id': rid('req_') });
      case 'drop-after': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const f of oaiFrames(body.model, MOCK_TEXT_CHUNKS).slice(0, b.k)) res.write(f);
        ctx.selfDestroyed = true;
        ctx.timer = setTimeout(() => res.socket && res.socket.destroy(), 30);
        return;
      }
      default:
        return answer();
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      chunks.push(c);
      size += c.length;
    });
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      const raw = Buffer.concat(chunks, size);
      const u = new URL(req.url, 'http://mock');
      let path = u.pathname;
      let behave = null;
      const bm = /^\/b\/([A-Za-z0-9_-]+)(\/.*)$/.exec(path);
      if (bm) {
        behave = bm[1];
        path = bm[2];
      }

      // ---- mock control endpoints ----
      if (path === '/__mock/requests') {
        if (req.method === 'GET') return sendJson(res, 200, recorded);
        if (req.method === 'DELETE') {
          recorded = [];
          aborted = [];
          return sendJson(res, 200, { ok: true });
        }
      }
      if (path === '/__mock/aborts') {
        if (req.method === 'GET') return sendJson(res, 200, aborted);
        if (req.method === 'DELETE') {
          aborted = [];
          return sendJson(res, 200, { ok: true });
        }
      }
      if (path === '/__mock/gemini-release' && req.method === 'POST') {
        return sendJson(res, 200, { released: releaseHeld() });
      }
      if (path === '/__mock/stats' && req.method === 'GET') {
        return sendJson(res, 200, { ...counters, aborted: aborted.length, recorded: recorded.length, sockets: sockets.size });
      }

      let body = null;
      let parseError = null;
      if (raw.length) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (e) {
          parseError = e;
        }
      }
      const entry = {
        method: req.method,
        url: req.url,
        path,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        behave,
        rawBody: parseError ? raw.toString('utf8').slice(0, 4096) : undefined,
        bodyBytes: raw.length,
        receivedAt: Date.now(),
      };

      if (path.startsWith('/v1internal:')) {
        record(entry);
        counters.requests++;
        if (codeAssist.handle({ req, res, body }, path)) return;
      }
      if (path === '/v1/oauth/token' && req.method === 'POST') {
        record(entry);
        return oauth.handle(res, body);
      }
      if (path === '/oauth/openai/token' && req.method === 'POST') {
        record(entry);
        return openaiOAuth.handle(res, raw, req.headers['content-type']);
      }
      if ((path === '/backend-api/codex/responses' || path === '/backend-api/codex/responses/compact') && req.method === 'POST') {
        record(entry);
        counters.requests++;
        const acct = openaiOAuth.accountOf(req.headers);
        if (!acct) return oaiError(res, 401, 'mock: bad ChatGPT bearer or chatgpt-account-id', { code: 'token_expired' });
        if (parseError || !body || typeof body !== 'object') return oaiError(res, 400, 'mock: request body is not valid JSON');
        const compact = path.endsWith('/compact');
        if (compact ? 'store' in body : body.store !== false) return oaiError(res, 400, compact ? 'mock: compact takes no store' : 'mock: Store must be set to false');
        const b = openaiOAuth.behave.get(acct);
        const mid = b && /^midstream-limit-(\d+)$/.exec(b);
        if (mid) {
          // A committed stream that ends in the backend's usage-limit error.
          const start = { ...oaiResponse(body.model, null, 'in_progress') };
          const err = { type: 'usage_limit_reached', message: 'mock: The usage limit has been reached', plan_type: 'plus', resets_in_seconds: Number(mid[1]) };
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: start })}\n\n`);
          res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 1, error: err })}\n\n`);
          res.write(`event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', sequence_number: 2, response: { ...start, status: 'failed', error: { code: 'usage_limit_reached', message: err.message } } })}\n\n`);
          return res.end();
        }
        const model = b ? `mock-${b}` : typeof body.model === 'string' ? body.model : 'gpt-5';
        res.setHeader('x-codex-primary-used-percent', '42');
        res.setHeader('x-codex-primary-reset-after-seconds', '3600');
        res.setHeader('x-codex-primary-window-minutes', '300');
        const ctx = { req, res, body, model, closed: false, timer: null, selfDestroyed: false };
        res.on('close', () => {
          ctx.closed = true;
          if (ctx.timer) clearTimeout(ctx.timer);
        });
        return handleResponses(ctx);
      }
      if ((path === '/api/oauth/profile' || path === '/api/oauth/usage') && req.method === 'GET') {
        record(entry);
        return oauth.handleSide(res, path.endsWith('profile') ? 'profile' : 'usage', req.headers);
      }
      if (path === '/v1/messages/count_tokens' && req.method === 'POST') {
        record(entry);
        counters.requests++;
        const cb = behave ? parseModel(`mock-${behave}`) : { kind: 'normal' };
        if (cb.kind === 'error') return sendError(res, cb.status, cb.message);
        return sendJson(res, 200, { input_tokens: COUNT_TOKENS_RESULT });
      }
      if (path === '/v1/models' && req.method === 'GET') {
        record(entry);
        return sendJson(res, 200, {
          data: MOCK_MODELS,
          has_more: false,
          first_id: MOCK_MODELS[0].id,
          last_id: MOCK_MODELS[MOCK_MODELS.length - 1].id,
        });
      }
      if (/^\/(v1beta|v1)\/models[/:]/.test(path) || /^\/(v1beta|v1)\/models$/.test(path)) {
        if (path !== '/v1/models' || req.headers['x-goog-api-key']) {
          record(entry);
          counters.requests++;
          if (handleGemini(req, res, path, u.searchParams, body, behave, sendJson)) return;
        }
      }
      if ((path === '/v1/responses' || path === '/v1/responses/compact') && req.method === 'POST') {
        record(entry);
        counters.requests++;
        if (parseError || !body || typeof body !== 'object') return oaiError(res, 400, 'mock: request body is not valid JSON');
        const model = behave ? `mock-${behave}` : typeof body.model === 'string' ? body.model : 'gpt-5';
        const ctx = { req, res, body, model, closed: false, timer: null, selfDestroyed: false };
        res.on('close', () => {
          ctx.closed = true;
          if (ctx.timer) clearTimeout(ctx.timer);
        });
        return handleResponses(ctx);
      }
      if (path === '/v1/messages' && req.method === 'POST') {
        record(entry);
        counters.requests++;
        if (parseError || !body || typeof body !== 'object') {
          return sendError(res, 400, 'mock: request body is not valid JSON');
        }
        const model = behave ? `mock-${behave}` : typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5';
        const ctx = { req, res, body, model, closed: false, timer: null, selfDestroyed: false, startedAt: Date.now() };
        res.on('close', () => {
          ctx.closed = true;
          if (ctx.timer) {
            clearTimeout(ctx.timer);
            ctx.timer = null;
          }
          if (res.writableFinished) {
            counters.completed++;
            return;
          }
          if (ctx.selfDestroyed) return;
          noteAbort({ model, url: req.url, startedAt: ctx.startedAt, closedAt: Date.now(), headersSent: res.headersSent });
        });
        return handleMessages(ctx);
      }
      return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `mock: no route ${req.method} ${path}` } });
    });
  });

  server.maxConnections = Infinity;
  server.keepAliveTimeout = 30000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.timeout = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.removeListener('error', reject);
      const actual = server.address().port;
      if (!quiet) console.log(`listening ${actual}`);
      let closing = null;
      resolve({
        port: actual,
        url: `http://${host}:${actual}`,
        server,
        requests: () => recorded.slice(),
        messageRequests: () => recorded.filter((r) => r.path === '/v1/messages'),
        responsesRequests: () => recorded.filter((r) => r.path.startsWith('/v1/responses')),
        codeAssist,
        codeAssistRequests: (method) => recorded.filter((r) => r.path === `/v1internal:${method}`),
        codexRequests: () => recorded.filter((r) => r.path.startsWith('/backend-api/codex/')),
        releaseGemini: () => releaseHeld(),
        geminiRequests: () => recorded.filter((r) => /^\/(v1beta|v1)\/models/.test(r.path) && r.headers['x-goog-api-key']),
        oauth,
        openaiOAuth,
        setAnswerHeaders: (h) => {
          answerHeaders = { ...(h || {}) };
        },
        reset: () => {
          recorded = [];
          aborted = [];
          counters = { requests: 0, completed: 0, dropped: 0 };
        },
        aborts: () => aborted.slice(),
        get aborted() {
          return aborted.length;
        },
        stats: () => ({ ...counters, aborted: aborted.length, openSockets: sockets.size }),
        // Resolves with the first abort (past or future) matching pred, or rejects after timeoutMs.
        waitForAbort: (pred = () => true, timeoutMs = 5000) => {
          const found = aborted.find(pred);
          if (found) return Promise.resolve(found);
          return new Promise((res2, rej2) => {
            const w = { pred, resolve: null };
            const t = setTimeout(() => {
              abortWaiters = abortWaiters.filter((x) => x !== w);
              rej2(new Error(`mock: no matching upstream abort within ${timeoutMs} ms`));
            }, timeoutMs);
            w.resolve = (v) => {
              clearTimeout(t);
              res2(v);
            };
            abortWaiters.push(w);
          });
        },
        close: () => {
          if (!closing) {
            closing = new Promise((r) => {
              server.close(() => r());
              for (const s of sockets) s.destroy();
              if (server.closeAllConnections) server.closeAllConnections();
            });
          }
          return closing;
        },
      });
    });
  });
}

module.exports = {
  startMockUpstream,
  GEMINI_USAGE,
  GEMINI_COUNTED,
  GEMINI_TEXT_CHUNKS,
  MOCK_USAGE,
  MOCK_COUNTED,
  MOCK_TEXT,
  MOCK_TEXT_CHUNKS,
  MOCK_EVENT_NAMES,
  MOCK_MODELS,
  COUNT_TOKENS_RESULT,
  OAI_USAGE,
  OAI_COUNTED,
  GCA_TEXT,
  GCA_USAGE,
  GCA_COUNTED,
  ERROR_TYPES,
  parseModel,
  MOCK_TOOL_INPUT,
  MOCK_TOOL_ARGS_CHUNKS,
  MOCK_TOOL_TEXT,
};

if (require.main === module) {
  const args = process.argv.slice(2);
  let port = 0;
  let host = '127.0.0.1';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--host') host = args[++i];
  }
  startMockUpstream({ port, host, quiet: false }).then(
    (m) => {
      const stop = () => m.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
