'use strict';
// SSE relaying: framing, incremental delivery, mid-stream upstream death, client disconnect.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stack, httpRequest, messageBody, MOCK_TEXT, sleep, procStatus, waitFor } = require('../lib/env');

let st;

before(async () => {
  st = await stack();
});

after(async () => {
  if (st) await st.teardown();
});

const { MOCK_EVENT_NAMES: NORMAL_SEQUENCE } = require('../mock/upstream');

test('stream: same events, same order, same data as the upstream', async () => {
  const r = await st.stream(messageBody('claude-sonnet-4-5'));
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] || '', /^text\/event-stream/);
  assert.ok(r.headers['x-request-id']);
  assert.equal(r.error, null, r.error && r.error.message);
  assert.deepEqual(
    r.events.map((e) => e.event),
    NORMAL_SEQUENCE,
  );
  for (const e of r.events) assert.equal(e.json && e.json.type, e.event, `data of ${e.event} is the upstream JSON`);
  const start = r.events[0].json.message;
  assert.equal(start.model, 'claude-sonnet-4-5');
  assert.deepEqual(start.usage, {
    input_tokens: 11,
    output_tokens: 1,
    cache_creation_input_tokens: 7,
    cache_read_input_tokens: 5,
    cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 },
  });
  const text = r.events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => e.json.delta.text)
    .join('');
  assert.equal(text, MOCK_TEXT);
  assert.equal(r.events.find((e) => e.event === 'message_delta').json.usage.output_tokens, 13);
});

test('stream: events arrive as the upstream sends them (no buffering)', async () => {
  const r = await st.stream(messageBody('mock-slow-chunks-5-200'));
  assert.equal(r.status, 200);
  assert.equal(r.error, null, r.error && r.error.message);
  const deltas = r.events.filter((e) => e.event === 'content_block_delta');
  assert.equal(deltas.length, 5);
  const last = r.events[r.events.length - 1];
  assert.equal(last.event, 'message_stop');
  const gap = last.at - deltas[0].at;
  assert.ok(gap >= 600, `first delta at ${deltas[0].at} ms, last event at ${last.at} ms: gap ${gap} ms < 600 ms`);
  // message_start is sent by the mock immediately; it must not wait for the first delta.
  assert.ok(deltas[0].at - r.events[0].at >= 100, `message_start at ${r.events[0].at} ms, first delta at ${deltas[0].at} ms`);
  // deltas are spread out, not delivered in one burst
  for (let i = 1; i < deltas.length; i++) assert.ok(deltas[i].at - deltas[i - 1].at >= 100, `delta ${i} came ${deltas[i].at - deltas[i - 1].at} ms after the previous one`);
});

test('stream: a slow first byte is waited for', async () => {
  const r = await st.stream(messageBody('mock-slow-first-byte-700'));
  assert.equal(r.status, 200);
  assert.equal(r.error, null);
  assert.deepEqual(
    r.events.map((e) => e.event),
    NORMAL_SEQUENCE,
  );
  assert.ok(r.events[0].at >= 650);
});

test('non-stream: a slow first byte is waited for', async () => {
  const t0 = Date.now();
  const r = await st.send(messageBody('mock-slow-first-byte-700'));
  assert.equal(r.status, 200);
  assert.equal(r.json.content[0].text, MOCK_TEXT);
  assert.ok(Date.now() - t0 >= 650);
});

test('a request to a busy http:// upstream does not wait for the other request\'s first byte', async () => {
  // libcurl's PIPEWAIT would hold the second transfer until the first answer's headers told
  // whether the connection multiplexes; over plain HTTP nothing else can tell it.
  const done = [];
  const slow = st.send(messageBody('mock-slow-first-byte-2500')).then((r) => done.push(['slow', r.status]));
  await sleep(300); // the slow one is in flight first
  const fast = st.send(messageBody()).then((r) => done.push(['fast', r.status]));
  await Promise.all([slow, fast]);
  assert.deepEqual(done, [['fast', 200], ['slow', 200]]);
});

test('mid-stream upstream death: client gets the first events, then event: error, never message_stop', async () => {
  const r = await st.stream(messageBody('mock-drop-after-3'), { timeout: 15000 });
  assert.equal(r.status, 200);
  assert.ok(!(r.error && /timed out/.test(r.error.message)), 'the relay ended the client stream');
  const names = r.events.map((e) => e.event);
  assert.equal(names[0], 'message_start', `events: ${names}`);
  assert.ok(!names.includes('message_stop'), `must not send message_stop: ${names}`);
  const errs = r.events.filter((e) => e.event === 'error');
  assert.equal(errs.length, 1, `exactly one error event: ${names} / ${r.text.slice(-500)}`);
  const ej = errs[0].json;
  assert.ok(ej, `error data is JSON: ${errs[0].data}`);
  assert.equal(ej.type, 'error');
  assert.equal(ej.error && ej.error.type, 'api_error');
  assert.equal(typeof ej.error.message, 'string');
  assert.equal(names[names.length - 1], 'error', 'error is the last event');
  // events before the error are the upstream's, in order
  assert.deepEqual(names.slice(0, -1), NORMAL_SEQUENCE.slice(0, names.length - 1));
  const h = await httpRequest(st.relay.url + '/health');
  assert.equal(h.status, 200);
});

test('client disconnect aborts the upstream transfer promptly', async () => {
  st.mock.reset();
  const model = 'mock-slow-chunks-50-100';
  let sawDelta = false;
  const r = await st.stream(messageBody(model), {
    timeout: 20000,
    onEvent: (ev, ctl) => {
      if (ev.event === 'content_block_delta') {
        sawDelta = true;
        ctl.abort();
      }
    },
  });
  assert.ok(sawDelta, `got a first delta before aborting (events: ${r.events.map((e) => e.event)}, error: ${r.error && r.error.message})`);
  assert.equal(r.aborted, true);
  const ab = await st.mock.waitForAbort((a) => a.model === model, 3000);
  const delay = ab.closedAt - r.abortedAt;
  console.log(`client_abort_to_upstream_close_ms=${delay}`);
  assert.ok(delay <= 300, `upstream closed ${delay} ms after the client abort (want <= 300 ms)`);
  const h = await httpRequest(st.relay.url + '/health');
  assert.equal(h.status, 200);
  const again = await st.stream(messageBody('claude-sonnet-4-5'));
  assert.equal(again.events[again.events.length - 1].event, 'message_stop');
});

test('client disconnect before the first upstream byte aborts the upstream too', async () => {
  st.mock.reset();
  const http = require('node:http');
  const body = JSON.stringify({ ...messageBody('mock-hang'), stream: true });
  const req = http.request(st.relay.url + '/api/v1/messages', {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': st.key.apiKey, 'anthropic-version': '2023-06-01' },
  });
  req.on('error', () => {});
  req.end(body);
  // wait until the relay reached the upstream
  for (let i = 0; i < 100 && st.mock.messageRequests().length === 0; i++) await sleep(20);
  assert.equal(st.mock.messageRequests().length, 1, 'relay forwarded the request');
  await sleep(100);
  const t0 = Date.now();
  req.destroy();
  const ab = await st.mock.waitForAbort((a) => a.model === 'mock-hang', 3000);
  assert.ok(ab.closedAt - t0 <= 300, `upstream closed ${ab.closedAt - t0} ms after the client abort`);
  const h = await httpRequest(st.relay.url + '/health');
  assert.equal(h.status, 200);
});

test('row 8: one 10 MB upstream event: message_start, then event: error, no message_stop; RSS back near baseline', async () => {
  await st.stream(messageBody('claude-sonnet-4-5')); // warm up
  const base = procStatus(st.relay.pid).rssKb;
  const r = await st.stream(messageBody(`mock-huge-event-${10 * 1000 * 1000}`), { timeout: 30000 });
  assert.equal(r.status, 200);
  const names = r.events.map((e) => e.event);
  assert.equal(names[0], 'message_start');
  assert.ok(names.includes('error'), `no event: error in ${names.join(',')}`);
  assert.ok(!names.includes('message_stop'), 'a message_stop after the cut');
  assert.ok(!names.includes('content_block_delta'), 'part of the giant event reached the client');
  assert.equal(names[names.length - 1], 'error');
  const err = r.events[names.indexOf('error')].json;
  assert.equal(err.type, 'error');
  assert.ok(err.error && typeof err.error.type === 'string');
  assert.ok(r.text.length < 64 * 1024, `client got ${r.text.length} bytes`);
  const after = await waitFor(
    () => {
      const kb = procStatus(st.relay.pid).rssKb;
      return kb - base < 32 * 1024 ? kb : null;
    },
    { timeout: 5000, what: 'relay RSS within 32 MB of the baseline' },
  );
  console.log(`huge_event_bytes=10000000 client_bytes=${r.text.length} events=${names.join(',')} rss_base_mb=${(base / 1024).toFixed(1)} rss_after_mb=${(after / 1024).toFixed(1)}`);
  const ok = await st.stream(messageBody('claude-sonnet-4-5'));
  assert.equal(ok.events[ok.events.length - 1].event, 'message_stop');
});
