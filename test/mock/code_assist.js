'use strict';
// Mock Gemini Code Assist API (cloudcode-pa.googleapis.com/v1internal:*), mounted by
// test/mock/upstream.js: POST /v1internal:<method>.
//
// Auth: `authorization: Bearer ya29.<tag>` (tag: [A-Za-z0-9_-]+); anything else answers 401
// UNAUTHENTICATED. The token's project is `proj-<tag>`; codeAssist.allowProject(tag, p) lets a
// token use another one (an admin-set projectId). A content call (generateContent,
// streamGenerateContent) whose body.project is not one of its token's answers 403
// PERMISSION_DENIED - so a test sees the relay set the serving account's project.
// codeAssist.alias(tag, user): the token ya29.<tag> is <user>'s (the mock Google token endpoint,
// ./google_oauth.js, registers every token it mints), so it has user's project.
//   loadCodeAssist      {currentTier, allowedTiers, cloudaicompanionProject: proj-<tag>}
//                       (a tag beginning "noproj": no project)
//   onboardUser         {done: true, response: {cloudaicompanionProject: {id: proj-<tag>}}}
//                       (a tag beginning "lro": an unfinished operation {name: operations/onboard-<tag>,
//                       done: false}, polled with GET /v1internal/operations/onboard-<tag>, which
//                       answers it done with the project; another token's operation is 404)
//   fetchAdminControls  {adminControlsApplicable: false}
//   recordCodeAssistMetrics {}
//   listExperiments     {experimentIds: [], flags: []}
//   retrieveUserQuota   {buckets: []}
//   countTokens         {totalTokens: 42}
//   generateContent     {response: {candidates, usageMetadata: GCA_USAGE, modelVersion}, traceId}
//   streamGenerateContent?alt=sse  data: {response: ...} frames, the text in GCA_TEXT_CHUNKS;
//                       the first frame carries a partial usageMetadata, the last the full one
//                       (without alt=sse: the same chunks as one JSON array)
// Behaviours, by the body's model (generate calls) or a token tag beginning err<status>
// (every call): mock-error-<status> (Google error JSON; 429 adds a RetryInfo retryDelay of 7s),
// mock-ratelimit-<s> (429 with RetryInfo retryDelay <s>s, no retry-after), mock-function-call
// (a functionCall part: get_weather {city: "Paris"}), mock-drop-after-<k> (stream: k frames,
// then the socket is destroyed).

const GCA_TEXT = 'Hello from the mock Code Assist.';
const GCA_TEXT_CHUNKS = ['Hello', ' from the', ' mock Code Assist.'];
const GCA_USAGE = Object.freeze({
  promptTokenCount: 30,
  candidatesTokenCount: 8,
  cachedContentTokenCount: 10,
  thoughtsTokenCount: 4,
  totalTokenCount: 42,
});
// What the relay is expected to count for one billed answer: the cached tokens are part of the
// prompt (counted once, as cache reads); thoughts are output.
const GCA_COUNTED = Object.freeze({
  requests: 1,
  inputTokens: 20,
  outputTokens: 12,
  cacheCreateTokens: 0,
  cacheReadTokens: 10,
  allTokens: 42,
});
const GCA_COUNT_TOKENS = 42;

const STATUS_NAMES = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

function googleError(status, message, details) {
  const error = { code: status, message, status: STATUS_NAMES[status] || 'UNKNOWN' };
  if (details) error.details = details;
  return { error };
}

function retryInfo(s) {
  return [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${s}s` }];
}

function candidate(parts, finish) {
  const c = { content: { role: 'model', parts }, index: 0 };
  if (finish) c.finishReason = 'STOP';
  return c;
}

function answerParts(behave) {
  if (behave === 'function-call') return [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }];
  return [{ text: GCA_TEXT }];
}

function parseBehaviour(model, tag) {
  let m = /^err(\d{3})/.exec(tag || '');
  if (m) return { kind: 'error', status: Number(m[1]) };
  m = /^mock-error-(\d{3})$/.exec(model || '');
  if (m) return { kind: 'error', status: Number(m[1]) };
  m = /^mock-ratelimit-(\d+)$/.exec(model || '');
  if (m) return { kind: 'ratelimit', s: Number(m[1]) };
  m = /^mock-drop-after-(\d+)$/.exec(model || '');
  if (m) return { kind: 'drop-after', k: Number(m[1]) };
  if (model === 'mock-function-call') return { kind: 'function-call' };
  return { kind: 'normal' };
}

function makeCodeAssist() {
  const allowed = new Map(); // tag -> Set of extra projects
  const aliases = new Map(); // token tag -> user tag (tokens minted by the Google mock)
  const ca = {
    allowProject(tag, project) {
      if (!allowed.has(tag)) allowed.set(tag, new Set());
      allowed.get(tag).add(project);
    },
    alias(tag, user) {
      aliases.set(tag, user);
    },
    reset() {
      allowed.clear();
    },
  };

  function projectOk(tag, project) {
    return project === `proj-${tag}` || (allowed.has(tag) && allowed.get(tag).has(project));
  }

  function sendJson(res, status, obj, headers) {
    const s = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(s), ...(headers || {}) });
    res.end(s);
  }

  function frames(model, behave) {
    const v = { modelVersion: model };
    if (behave === 'function-call') {
      return [{ response: { candidates: [candidate(answerParts(behave), true)], usageMetadata: GCA_USAGE, ...v }, traceId: 'mock-trace' }];
    }
    return GCA_TEXT_CHUNKS.map((t, i) => {
      const last = i === GCA_TEXT_CHUNKS.length - 1;
      const usage = last ? GCA_USAGE : { promptTokenCount: GCA_USAGE.promptTokenCount, totalTokenCount: GCA_USAGE.promptTokenCount };
      return { response: { candidates: [candidate([{ text: t }], last)], usageMetadata: usage, ...v }, traceId: 'mock-trace' };
    });
  }

  function content(ctx, method, tag) {
    const { res, body } = ctx;
    const model = typeof body.model === 'string' ? body.model : 'gemini-2.5-pro';
    const b = parseBehaviour(model, tag);
    if (b.kind === 'error') {
      return sendJson(res, b.status, googleError(b.status, `mock error ${b.status}`, b.status === 429 ? retryInfo(7) : undefined));
    }
    if (b.kind === 'ratelimit') return sendJson(res, 429, googleError(429, 'mock: quota exhausted', retryInfo(b.s)));
    if (!projectOk(tag, body.project)) {
      return sendJson(res, 403, googleError(403, `mock: project ${body.project} is not this token's`));
    }
    if (!body.request || !Array.isArray(body.request.contents)) return sendJson(res, 400, googleError(400, 'mock: request.contents is required'));
    if (method === 'streamGenerateContent' && !/[?&]alt=sse(&|$)/.test(ctx.req.url)) {
      // Without alt=sse Google streams one JSON array of the same chunks (drop-after-<k>: k
      // elements, then the socket is destroyed).
      const all = frames(model, b.kind);
      const n = b.kind === 'drop-after' ? b.k : all.length;
      const s = `[${all.slice(0, n).map((f) => JSON.stringify(f)).join(',\r\n')}`;
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'x-cloudaicompanion-trace-id': 'mock-trace' });
      if (b.kind !== 'drop-after') return res.end(`${s}]`);
      res.write(s);
      ctx.selfDestroyed = true;
      setTimeout(() => res.socket && res.socket.destroy(), 30);
      return;
    }
    if (method === 'streamGenerateContent') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-cloudaicompanion-trace-id': 'mock-trace', 'x-mock-secret': 'dropped' });
      const all = frames(model, b.kind);
      const n = b.kind === 'drop-after' ? b.k : all.length;
      for (const f of all.slice(0, n)) res.write(`data: ${JSON.stringify(f)}\r\n\r\n`);
      if (b.kind === 'drop-after') {
        ctx.selfDestroyed = true;
        setTimeout(() => res.socket && res.socket.destroy(), 30);
        return;
      }
      return res.end();
    }
    return sendJson(res, 200, {
      response: { candidates: [candidate(answerParts(b.kind), true)], usageMetadata: GCA_USAGE, modelVersion: model },
      traceId: 'mock-trace',
    });
  }

  function setup(ctx, method, tag) {
    const { res } = ctx;
    const project = tag.startsWith('noproj') ? undefined : `proj-${tag}`;
    switch (method) {
      case 'loadCodeAssist':
        return sendJson(res, 200, {
          currentTier: { id: 'standard-tier', name: 'Gemini Code Assist', hasOnboardedPreviously: true },
          allowedTiers: [{ id: 'standard-tier', name: 'Gemini Code Assist', isDefault: true }],
          ...(project ? { cloudaicompanionProject: project } : {}),
        });
      case 'onboardUser':
        if (tag.startsWith('lro')) return sendJson(res, 200, { name: `operations/onboard-${tag}`, done: false });
        return sendJson(res, 200, { done: true, response: { cloudaicompanionProject: { id: project || '', name: '' } } });
      case 'fetchAdminControls':
        return sendJson(res, 200, { adminControlsApplicable: false });
      case 'recordCodeAssistMetrics':
        return sendJson(res, 200, {});
      case 'listExperiments':
        return sendJson(res, 200, { experimentIds: [], flags: [] });
      case 'retrieveUserQuota':
        return sendJson(res, 200, { buckets: [] });
      case 'countTokens':
        return sendJson(res, 200, { totalTokens: GCA_COUNT_TOKENS });
      default:
        return sendJson(res, 404, googleError(404, `mock: no method ${method}`));
    }
  }

  // GET /v1internal/operations/<id>: onboardUser's operation, for its own token only.
  function operation(res, id, tag) {
    if (id !== `onboard-${tag}`) return sendJson(res, 404, googleError(404, `mock: no operation ${id} for this token`));
    return sendJson(res, 200, { name: `operations/${id}`, done: true, response: { cloudaicompanionProject: { id: `proj-${tag}`, name: '' } } });
  }

  // Handles POST /v1internal:<method> and GET /v1internal/operations/<id>; true when the path was ours.
  ca.handle = (ctx, path) => {
    const m = /^\/v1internal:([A-Za-z]+)$/.exec(path);
    const op = /^\/v1internal\/operations\/([A-Za-z0-9._-]+)$/.exec(path);
    if (!(m && ctx.req.method === 'POST') && !(op && ctx.req.method === 'GET')) return false;
    const { res, body } = ctx;
    const auth = /^Bearer ya29\.([A-Za-z0-9_-]+)$/.exec(ctx.req.headers.authorization || '');
    if (!auth) {
      sendJson(res, 401, googleError(401, 'Request had invalid authentication credentials.'));
      return true;
    }
    if (op) {
      operation(res, op[1], aliases.get(auth[1]) || auth[1]);
      return true;
    }
    const method = m[1];
    if (!body || typeof body !== 'object') {
      sendJson(res, 400, googleError(400, 'Invalid JSON payload received.'));
      return true;
    }
    const tag = aliases.get(auth[1]) || auth[1];
    const b = parseBehaviour(null, tag);
    if (b.kind === 'error') {
      sendJson(res, b.status, googleError(b.status, `mock error ${b.status}`, b.status === 429 ? retryInfo(7) : undefined));
      return true;
    }
    if (method === 'generateContent' || method === 'streamGenerateContent') content(ctx, method, tag);
    else setup(ctx, method, tag);
    return true;
  };
  return ca;
}

module.exports = { makeCodeAssist, GCA_TEXT, GCA_TEXT_CHUNKS, GCA_USAGE, GCA_COUNTED, GCA_COUNT_TOKENS };
