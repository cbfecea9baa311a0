'use strict';
// The Gemini API (generativelanguage.googleapis.com) for the mock upstream:
//   POST /{v1beta,v1}/models/<model>:generateContent       a GenerateContentResponse (JSON)
//   POST /{v1beta,v1}/models/<model>:streamGenerateContent ?alt=sse: `data: <chunk>\r\n\r\n` frames;
//        without alt: one JSON array, written element by element ("[{..}\n,\r\n{..}\n]")
//   POST /{v1beta,v1}/models/<model>:countTokens           {"totalTokens": 42}
//   GET  /{v1beta,v1}/models                               {"models":[...]}
// Chunks carry a text part each (MOCK_TEXT_CHUNKS); the last one finishReason STOP and the
// full usageMetadata GEMINI_USAGE. Behaviours (model mock-<b>, or /b/<b>/ before the path):
//   function-call      the answer is a functionCall get_weather({city:"Paris"}) - unless the
//                      request's last content holds a functionResponse: then text
//                      "Tool said: <its response JSON>"
//   error-<status>     Google's error JSON {"error":{code,message,status}} (429: RetryInfo 7s)
//   ratelimit-<s>      429 RESOURCE_EXHAUSTED with RetryInfo retryDelay "<s>s", no retry-after
//   badkey             400 INVALID_ARGUMENT API_KEY_INVALID (Google's answer to a bad key)
//   drop-after-<k>     a stream that sends k chunks, then the connection drops
//   hold-after-<k>     a stream that sends k chunks, then waits for releaseHeld() (the mock's
//                      POST /__mock/gemini-release) before the rest
// Every request must carry x-goog-api-key (else 403 PERMISSION_DENIED, as Google).

const GEMINI_TEXT_CHUNKS = ['Hello', ' from', ' the', ' mock', ' upstream.'];
const GEMINI_USAGE = Object.freeze({
  promptTokenCount: 12,
  candidatesTokenCount: 7,
  cachedContentTokenCount: 2,
  thoughtsTokenCount: 3,
  totalTokenCount: 22,
});
// What the relay counts from GEMINI_USAGE: prompt minus cached, cached as reads, thoughts in output.
const GEMINI_COUNTED = Object.freeze({ requests: 1, inputTokens: 10, outputTokens: 10, cacheCreateTokens: 0, cacheReadTokens: 2, allTokens: 22 });
const STATUS_NAMES = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

function gError(status, message, details) {
  const error = { code: status, message: message || `mock error ${status}`, status: STATUS_NAMES[status] || 'UNKNOWN' };
  if (details) error.details = details;
  return { error };
}

function lastFunctionResponse(body) {
  const contents = Array.isArray(body && body.contents) ? body.contents : [];
  const last = contents[contents.length - 1];
  const parts = (last && Array.isArray(last.parts) && last.parts) || [];
  const p = parts.find((x) => x && x.functionResponse);
  return p ? p.functionResponse : null;
}

function chunk(model, parts, last) {
  const c = { candidates: [{ content: { parts, role: 'model' }, index: 0 }], modelVersion: model, responseId: 'mock-resp-1' };
  if (last) {
    c.candidates[0].finishReason = 'STOP';
    c.usageMetadata = { ...GEMINI_USAGE };
  } else {
    c.usageMetadata = { promptTokenCount: GEMINI_USAGE.promptTokenCount, totalTokenCount: GEMINI_USAGE.promptTokenCount };
  }
  return c;
}

// The answer's chunks: text, or a function call, or the text after a function response.
function answerChunks(model, body, behave) {
  const fr = lastFunctionResponse(body);
  if (behave === 'function-call' && !fr) {
    return [chunk(model, [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }], true)];
  }
  if (fr) return [chunk(model, [{ text: `Tool said: ${JSON.stringify(fr.response)}` }], true)];
  return GEMINI_TEXT_CHUNKS.map((t, i) => chunk(model, [{ text: t }], i === GEMINI_TEXT_CHUNKS.length - 1));
}

function whole(model, chunks) {
  const parts = [];
  for (const c of chunks) parts.push(...c.candidates[0].content.parts);
  const text = parts.filter((p) => typeof p.text === 'string').map((p) => p.text).join('');
  const merged = text ? [{ text }, ...parts.filter((p) => p.functionCall)] : parts;
  return chunk(model, merged, true);
}

function parseBehave(behave, model) {
  const b = behave || (/^mock-/.test(model) ? model.slice(5) : '');
  let m;
  if ((m = /^error-(\d{3})$/.exec(b))) return { kind: 'error', status: Number(m[1]) };
  if ((m = /^ratelimit-(\d+)$/.exec(b))) return { kind: 'ratelimit', s: Number(m[1]) };
  if ((m = /^drop-after-(\d+)$/.exec(b))) return { kind: 'drop-after', k: Number(m[1]) };
  if ((m = /^hold-after-(\d+)$/.exec(b))) return { kind: 'hold-after', k: Number(m[1]) };
  if (b === 'badkey') return { kind: 'badkey' };
  return { kind: b === 'function-call' ? 'function-call' : 'normal' };
}

let held = []; // streams waiting for releaseHeld()

function releaseHeld() {
  const n = held.length;
  for (const go of held) go();
  held = [];
  return n;
}

// Writes frames one by one with a short pause (so the relay sees them apart), then ends or drops;
// after holdAt frames it waits for releaseHeld().
function writeSlowly(res, frames, end, drop, holdAt = -1) {
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i === holdAt) {
      holdAt = -1;
      return held.push(next);
    }
    if (i < frames.length) {
      res.write(frames[i++]);
      return setTimeout(next, 5);
    }
    if (drop) return res.socket && res.socket.destroy();
    res.end(end || undefined);
  };
  next();
}

// Returns true when it handled the request. send(res, status, obj, headers) writes JSON.
function handleGemini(req, res, path, query, body, behave, send) {
  const m = /^\/(v1beta|v1)\/models(?:\/([^:/]+)(?::([A-Za-z]+))?)?$/.exec(path);
  if (!m) return false;
  const [, , model, action] = m;
  if (!req.headers['x-goog-api-key']) {
    send(res, 403, gError(403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.'));
    return true;
  }
  if (req.method === 'GET') {
    if (!model) send(res, 200, { models: [{ name: 'models/gemini-2.5-flash', displayName: 'Gemini 2.5 Flash' }] });
    else send(res, 200, { name: `models/${model}`, displayName: model });
    return true;
  }
  const b = parseBehave(behave, model || '');
  if (b.kind === 'error') {
    const details = b.status === 429 ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }] : undefined;
    send(res, b.status, gError(b.status, null, details));
    return true;
  }
  if (b.kind === 'ratelimit') {
    send(res, 429, gError(429, 'mock: quota exceeded', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${b.s}s` }]));
    return true;
  }
  if (b.kind === 'badkey') {
    send(res, 400, gError(400, 'API key not valid. Please pass a valid API key.', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }]));
    return true;
  }
  if (!body || !Array.isArray(body.contents)) {
    send(res, 400, gError(400, 'mock: contents is required'));
    return true;
  }
  if (action === 'countTokens') {
    send(res, 200, { totalTokens: 42 });
    return true;
  }
  const chunks = answerChunks(model, body, b.kind);
  if (action === 'generateContent') {
    send(res, 200, whole(model, chunks), { 'x-mock-secret': 'dropped' });
    return true;
  }
  if (action !== 'streamGenerateContent') {
    send(res, 404, gError(404, `mock: no method ${action}`));
    return true;
  }
  const drop = b.kind === 'drop-after';
  const use = drop ? chunks.slice(0, b.k) : chunks;
  const holdAt = b.kind === 'hold-after' ? b.k : -1;
  if (query.get('alt') === 'sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    writeSlowly(res, use.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`), null, drop, holdAt);
  } else {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    writeSlowly(res, use.map((c, i) => `${i ? '\n,\r\n' : '['}${JSON.stringify(c, null, 2)}`), '\n]', drop, holdAt);
  }
  return true;
}

module.exports = { handleGemini, releaseHeld, GEMINI_TEXT_CHUNKS, GEMINI_USAGE, GEMINI_COUNTED };
