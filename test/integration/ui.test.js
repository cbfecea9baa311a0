'use strict';
// The admin web UI (admin-ui/, built into admin-ui/dist by admin-ui/build.mjs) in headless
// Chromium - Debian's /usr/bin/chromium driven by playwright-core, never a downloaded browser -
// against the real relay, Redis and the mock upstream (Console, Claude, OpenAI and Gemini OAuth,
// OpenAI Responses and Gemini API accounts), branded by WEB_TITLE / WEB_LOGO_URL (and a title
// changed on the settings page at runtime). Every page
// fails the test on a console error, a page error, a failed request or an HTTP error answer,
// except the answers a step expects (listed with allow()). Screenshots go to docs/screenshots/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const Anthropic = require('@anthropic-ai/sdk');
const { chromium } = require('playwright-core');
const { stack, startMockUpstream, api, httpRequest, waitFor, keyUsage, MOCK_ACCOUNT_KEY, MOCK_TEXT } = require('../lib/env');

const ROOT = path.join(__dirname, '..', '..');
const UI_DIR = path.join(ROOT, 'admin-ui', 'dist');
// Screenshots go to build/shots; UPDATE_SCREENSHOTS=1 writes the committed ones (docs/screenshots,
// linked from README) so an ordinary `make test` never dirties the tree.
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOTS_DIR ||
  (process.env.UPDATE_SCREENSHOTS === '1' ? path.join('docs', 'screenshots') : path.join('build', 'shots')));
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const T = 15000; // every wait is bounded

const TITLE = 'Acme 中转 Relay';
let st, mock, logo, browser, ctx, page, adminPassword;
let allowed = []; // [{re, status}] answers the current step expects
const problems = [];

function allow(re, status) {
  allowed.push({ re, status });
}
function isAllowed(url, status) {
  return allowed.some((a) => a.re.test(url) && (a.status === undefined || a.status === status));
}

function watch(p, name) {
  p.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = (m.location() && m.location().url) || '';
    // Chromium logs every HTTP error answer as "Failed to load resource"; those are judged below.
    if (/Failed to load resource/.test(m.text()) && url) return;
    problems.push(`${name}: console error: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  p.on('requestfailed', (r) => {
    const f = r.failure();
    // A navigation away cancels a page's pending fetches: not a failure of the app.
    if (f && /ERR_ABORTED/.test(f.errorText)) return;
    problems.push(`${name}: request failed: ${r.url()} ${f && f.errorText}`);
  });
  p.on('response', (r) => {
    if (r.status() >= 400 && !isAllowed(r.url(), r.status())) problems.push(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
}

function assertClean() {
  const p = problems.splice(0);
  allowed = [];
  assert.deepEqual(p, [], 'no console error or failed request');
}

async function shot(name, p = page) {
  await p.waitForTimeout(150); // let a chart or transition settle for the picture only
  await p.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

const byId = (id, p = page) => p.getByTestId(id);

before(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'admin-ui', 'build.mjs')], { stdio: 'ignore' });
  fs.mkdirSync(SHOTS, { recursive: true });
  mock = await startMockUpstream({ port: 0 });
  // WEB_LOGO_URL points at an image server of its own (any http(s) URL the browser can load).
  logo = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml' });
    res.end('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#c60"/></svg>');
  });
  await new Promise((r) => logo.listen(0, '127.0.0.1', r));
  const env = {
    ADMIN_UI_DIR: UI_DIR, CLAUDE_API_URL: mock.url, CLAUDE_OAUTH_TOKEN_URL: mock.url + '/v1/oauth/token',
    CLAUDE_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/authorize', CLAUDE_OAUTH_PROFILE_URL: mock.url + '/api/oauth/profile',
    CLAUDE_OAUTH_USAGE_URL: mock.url + '/api/oauth/usage',
    OPENAI_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/openai/authorize', OPENAI_OAUTH_TOKEN_URL: mock.url + '/oauth/openai/token',
    OPENAI_CODEX_API_URL: mock.url + '/backend-api/codex', GEMINI_OAUTH_AUTHORIZE_URL: mock.url + '/oauth/google/authorize',
    GEMINI_OAUTH_TOKEN_URL: mock.url + '/oauth/google/token', GEMINI_CODE_ASSIST_URL: mock.url,
    WEB_TITLE: TITLE, WEB_LOGO_URL: `http://127.0.0.1:${logo.address().port}/logo.svg`,
  };
  st = await stack({ mock, relayEnv: env, account: false, key: { name: 'traffic', dailyCostLimit: 2, totalCostLimit: 10 } });
  adminPassword = st.relay.adminPassword;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30000 });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: st.relay.url });
  ctx.setDefaultTimeout(T);
  page = await ctx.newPage();
  page.on('dialog', (d) => d.accept()); // the confirm() before delete / regenerate
  watch(page, 'admin');
});

after(async () => {
  if (browser) await browser.close();
  if (st) await st.teardown();
  if (logo) logo.close();
});

test('serving: hashed assets immutable, index.html no-cache, deep links, no traversal', async () => {
  const idx = await httpRequest(st.relay.url + '/web');
  assert.equal(idx.status, 200);
  assert.equal(idx.headers['cache-control'], 'no-cache');
  assert.match(idx.headers['content-type'], /^text\/html/);
  assert.ok(idx.headers['content-security-policy'].includes(`img-src 'self' http://127.0.0.1:${logo.address().port}/logo.svg;`), 'the logo is the one image from elsewhere');
  const m = /\/web\/assets\/(main\.[0-9a-f]{10}\.js)/.exec(idx.text);
  assert.ok(m, 'index.html names the hashed main module');
  const js = await httpRequest(st.relay.url + '/web/assets/' + m[1]);
  assert.equal(js.status, 200);
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(js.headers['content-type'], /^text\/javascript/);
  const css = /\/web\/assets\/(style\.[0-9a-f]{10}\.css)/.exec(idx.text);
  assert.match((await httpRequest(st.relay.url + '/web/assets/' + css[1])).headers['content-type'], /^text\/css/);
  const deep = await httpRequest(st.relay.url + '/web/keys');
  assert.equal(deep.status, 200);
  assert.equal(deep.text, idx.text, 'a deep link answers index.html');
  for (const bad of ['/web/assets/..%2Findex.html', '/web/assets/.hidden', '/web/nope.js', '/web/assets/missing.0123456789.js'])
    assert.equal((await httpRequest(st.relay.url + bad)).status, 404, bad);
});

test('branding: WEB_TITLE public for the login page (the title only), the logo after login', async () => {
  const pub = await api(st.relay, 'GET', '/admin/oem-settings');
  assert.equal(pub.status, 200);
  assert.deepEqual(pub.json.data, { siteName: TITLE }, 'no auth, nothing but the title');
  const anon = await api(st.relay, 'GET', '/admin/ui-settings');
  assert.equal(anon.status, 401, 'the rest of the settings need a session');
  const full = await api(st.relay, 'GET', '/admin/ui-settings', { token: st.token });
  assert.equal(full.json.data.webTitle, TITLE);
  assert.equal(full.json.data.webLogoUrl, `http://127.0.0.1:${logo.address().port}/logo.svg`);
});

test('login: a wrong password is refused on the page, the right one opens the dashboard', async () => {
  await page.goto(st.relay.url + '/web');
  await byId('login-username').waitFor();
  await page.waitForFunction((t) => document.title === t, TITLE);
  assert.equal((await byId('brand-title').textContent()).trim(), TITLE, 'the login page is branded');
  assert.equal(await byId('brand-logo').count(), 0, 'the logo URL is not given without a session');
  await shot('login');
  allow(/\/web\/auth\/login$/, 401);
  await byId('login-username').fill(st.relay.adminUser);
  await byId('login-password').fill('wrong-password');
  await byId('login-submit').click();
  await page.getByRole('alert').waitFor();
  await byId('login-password').fill(st.relay.adminPassword);
  await byId('login-submit').click();
  await byId('nav-dashboard').waitFor();
  await byId('dashboard-requests-total').waitFor();
  await byId('brand-logo').waitFor();
  assert.ok(await byId('brand-logo').evaluate((img) => img.complete && img.naturalWidth === 16), 'the logo loaded');
  assert.equal(await page.title(), TITLE);
  assertClean();
});

let created; // {name, secret}

test('keys: create a key, its secret shown once with a working copy button and client settings', async () => {
  await byId('nav-keys').click();
  await byId('key-create').click();
  await byId('key-name').fill('ui-key');
  await byId('key-save').click();
  const secret = (await byId('key-secret').textContent()).trim();
  assert.match(secret, /^cr_[0-9a-f]{64}$/);
  await byId('key-copy').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the copy button copies the key');
  const text = await byId('key-secret-modal').textContent();
  assert.ok(text.includes(`ANTHROPIC_BASE_URL=${st.relay.url}/api`), 'Claude Code settings with this relay');
  assert.ok(text.includes(`base_url = "${st.relay.url}/openai"`), 'Codex config.toml with this relay');
  assert.ok(text.includes('requires_openai_auth = true') && text.includes(`export CRS_OAI_KEY=${secret}`), 'Codex as README writes it');
  assert.ok(text.includes(`GOOGLE_GEMINI_BASE_URL=${st.relay.url}/gemini`) && text.includes(`GEMINI_API_KEY=${secret}`), 'Gemini CLI, API-key mode');
  assert.ok(text.includes(`CODE_ASSIST_ENDPOINT=${st.relay.url}/gemini`) && text.includes(`GOOGLE_CLOUD_ACCESS_TOKEN=${secret}`), 'Gemini CLI, Code Assist mode');
  await shot('key-secret');
  await page.keyboard.press('Escape');
  await page.locator('[data-testid="key-row"][data-name="ui-key"]').waitFor();
  created = { name: 'ui-key', secret };
  // The secret is nowhere on the page once the dialog is closed (the list shows the mask).
  assert.ok(!(await page.content()).includes(secret));
  assertClean();
});

test('keys: a bad limit shows the server message next to its field; a saved limit is enforced', async () => {
  const row = page.locator('[data-testid="key-row"][data-name="ui-key"]');
  await row.getByTestId('key-edit').click();
  allow(/\/admin\/api-keys\/[^/]+$/, 400);
  await byId('key-tokenLimit').fill('-5');
  await byId('key-save').click();
  const err = await byId('error-tokenLimit').textContent();
  assert.match(err, /^tokenLimit must be/, 'the 400 message, next to the field it names');
  await byId('key-tokenLimit').fill('');
  await byId('key-rateLimitWindow').fill('1');
  await byId('key-rateLimitRequests').fill('1');
  await byId('key-save').click();
  await byId('key-form').waitFor({ state: 'detached' });
  await row.getByText('1 req/1m').waitFor();
  await shot('keys');
  const client = new Anthropic({ apiKey: created.secret, baseURL: st.relay.url + '/api', maxRetries: 0 });
  // No account yet: add one first (next test adds the Console one through the UI).
  created.client = client;
  assertClean();
});

test('accounts: add a Console account pointing at the mock; the limited key is served once, then 429', async () => {
  await byId('nav-accounts').click();
  await byId('account-add').click();
  await byId('account-kind-console').click();
  await byId('account-name').fill('ui-console');
  await byId('account-priority').fill('20');
  await byId('account-url').fill(mock.url);
  await byId('account-key').fill(MOCK_ACCOUNT_KEY);
  await byId('account-save').click();
  const row = page.locator('[data-testid="account-row"][data-name="ui-console"]');
  await row.waitFor();
  assert.match(await row.textContent(), /Claude Console/);
  const params = { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };
  const ok = await created.client.messages.create(params);
  assert.equal(ok.type, 'message');
  await assert.rejects(created.client.messages.create(params), (e) => e.status === 429, 'rateLimitRequests=1 set in the UI is enforced');
  // Test: one small request through exactly this account (not billed to the key), shown in its row.
  await row.getByTestId('account-test').click();
  const res = row.locator('[data-testid="account-test-result"][data-ok="true"]');
  await res.waitFor({ timeout: T });
  const shown = await res.textContent();
  assert.match(shown, /OK · \d+ ms · claude-sonnet-4-5-20250929/);
  assert.ok(shown.includes(MOCK_TEXT), shown);
  assertClean();
});

test('accounts: the Claude OAuth flow - open the link, paste code#state - adds an account', async () => {
  await byId('account-add').click();
  await byId('account-kind-oauth').click();
  await byId('oauth-start').click();
  const href = await byId('oauth-link').getAttribute('href');
  const u = new URL(href);
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/authorize');
  const code = 'uicode' + Date.now();
  mock.oauth.expectCode(code, u.searchParams.get('code_challenge'));
  await byId('oauth-code').fill(`${code}#${u.searchParams.get('state')}`);
  await byId('account-name').fill('ui-oauth');
  await byId('account-priority').fill('90');
  await shot('account-oauth');
  await byId('account-save').click();
  const row = page.locator('[data-testid="account-row"][data-name="ui-oauth"]');
  await row.waitFor();
  assert.match(await row.textContent(), /Claude \(OAuth\)/);
  assert.equal(mock.oauth.calls().at(-1).grant_type, 'authorization_code');
  assertClean();
});

test('dashboard: Anthropic SDK traffic moves the numbers', async () => {
  await byId('nav-dashboard').click();
  const total = byId('dashboard-requests-total');
  const before = Number((await total.textContent()).replace(/,/g, ''));
  const today = await byId('dashboard-requests-today').textContent();
  const sdk = new Anthropic({ apiKey: st.key.apiKey, baseURL: st.relay.url + '/api', maxRetries: 0 });
  for (let i = 0; i < 3; i++) await sdk.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hello ' + i }] });
  await waitFor(async () => (await keyUsage(st.redis.port, st.key.id)).requests === 3, { timeout: T, what: 'usage written' });
  const refresh = page.getByRole('button', { name: 'Refresh' });
  assert.equal(await byId('stats-missing').count(), 0, 'the statistics API is in this build (a 404 from it fails the step)');
  const num = async (id) => Number((await byId(id).textContent()).replace(/[,$]/g, ''));
  let seen = [];
  // The statistics API flushes its counters within ~2 s: refresh until the numbers move.
  await waitFor(async () => {
    await refresh.click();
    await page.waitForTimeout(200);
    seen = [await num('dashboard-requests-total'), await num('dashboard-requests-today')];
    // At least +3: the previous test's request may be flushed after the baseline was read.
    return seen[0] >= before + 3 && seen[1] >= Number(today.replace(/,/g, '')) + 3;
  }, { timeout: T, interval: 300, what: 'total and today requests +3' }).catch((e) => {
    throw new Error(`${e.message} (before: total ${before}, today ${today}; last seen ${seen})`);
  });
  {
    assert.ok((await num('dashboard-cost-today')) > 0, 'cost today');
    assert.ok((await page.locator('.chart canvas').count()) >= 2, 'trend charts drawn (uPlot)');
    assert.match(await page.getByTestId('dashboard-top-keys').textContent(), /traffic/);
    // The key list's cost bars and the accounts' usage today come from the same API.
    await byId('nav-keys').click();
    await page.locator('[data-testid="key-row"][data-name="traffic"] .barwrap').first().waitFor();
    await byId('nav-accounts').click();
    const today = page.locator('[data-testid="account-row"][data-name="ui-console"] [data-testid="account-today"]');
    await waitFor(async () => /^4 Requests/.test(await today.textContent()), { timeout: T, what: 'account usage today' });
    await byId('nav-dashboard').click();
    await byId('dashboard-requests-total').waitFor();
  }
  const health = await byId('dashboard-health').textContent();
  assert.match(health, /ui-console/);
  assert.match(health, /ui-oauth/);
  await shot('dashboard');
  assertClean();
});

test('keys and accounts: the Trend action draws the key\'s / account\'s requests by day, switchable to hour', async () => {
  await byId('nav-keys').click();
  await page.locator('[data-testid="key-row"][data-name="traffic"]').getByTestId('key-trend').click();
  const chart = byId('trend-chart');
  await chart.locator('canvas').waitFor();
  assert.equal(await chart.getAttribute('data-points'), '30', 'the last 30 days (TOKEN_USAGE_RETENTION 30)');
  assert.equal(await chart.getAttribute('data-requests'), '3', 'the three SDK requests of this key');
  assert.match(await byId('trend-total').textContent(), /^\s*3 Requests ·\s*\d+ Tokens · \$0\.\d+/);
  await byId('trend-hour').click();
  await page.locator('[data-testid="trend-chart"][data-points="24"] canvas').waitFor();
  assert.equal(await byId('trend-chart').getAttribute('data-requests'), '3', 'the last 24 hours hold them too');
  await shot('key-trend');
  await page.keyboard.press('Escape');
  await byId('trend-dialog').waitFor({ state: 'detached' });
  // The account served those three and ui-key's one.
  await byId('nav-accounts').click();
  await page.locator('[data-testid="account-row"][data-name="ui-console"]').getByTestId('account-trend').click();
  await page.locator('[data-testid="trend-chart"][data-points="30"][data-requests="4"] canvas').waitFor();
  assert.match(await byId('trend-dialog').textContent(), /Trend · ui-console/);
  await page.keyboard.press('Escape');
  await byId('trend-dialog').waitFor({ state: 'detached' });
  assertClean();
});

test('dashboard: the range (today / 7 / 30 days / custom dates) drives the trends and the model distribution', async () => {
  const urls = [];
  const rec = (r) => urls.push(new URL(r.url()).pathname + new URL(r.url()).search);
  page.on('request', rec);
  try {
    await byId('nav-dashboard').click();
    const day = (n) => page.locator(`[data-testid="dashboard-trend-day"] .chart[data-points="${n}"] canvas`);
    await day(7).waitFor(); // the default: the last 7 days
    await byId('dashboard-range').selectOption('30d');
    await day(30).waitFor();
    assert.ok(urls.includes('/admin/usage-trend?granularity=day&days=30'), urls.join(' '));
    assert.ok(urls.includes('/admin/usage-trend?granularity=hour&days=7'), 'hours: the 7 days kept');
    assert.ok(urls.includes('/admin/model-stats?days=30'), urls.join(' '));
    await byId('dashboard-range').selectOption('today');
    await day(1).waitFor();
    const today = (await byId('dashboard-requests-today').textContent()).replace(/,/g, '');
    assert.equal(await byId('dashboard-trend-day').locator('.chart').getAttribute('data-requests'), today);
    assert.match(await byId('dashboard-models').textContent(), /claude-sonnet-4-5/);
    // Custom dates, in the relay's time zone: yesterday alone has none of today's traffic.
    await byId('dashboard-range').selectOption('custom');
    const end = await byId('dashboard-end').inputValue();
    const yesterday = new Date(Date.parse(end + 'T00:00:00Z') - 86400e3).toISOString().slice(0, 10);
    await byId('dashboard-start').fill(yesterday);
    await byId('dashboard-end').fill(yesterday);
    await page.locator('[data-testid="dashboard-trend-day"] .chart[data-points="1"][data-requests="0"] canvas').waitFor();
    assert.ok(urls.includes(`/admin/usage-trend?granularity=day&startDate=${yesterday}&endDate=${yesterday}`), urls.join(' '));
    assert.ok(urls.includes(`/admin/model-stats?startDate=${yesterday}&endDate=${yesterday}`));
    await byId('dashboard-models').getByText('No data yet').waitFor();
    await byId('dashboard-end').fill(end);
    await page.locator(`[data-testid="dashboard-trend-day"] .chart[data-points="2"][data-requests="${today}"] canvas`).waitFor();
    await page.locator(`[data-testid="dashboard-trend-hour"] .chart[data-points="48"][data-requests="${today}"] canvas`).waitFor();
    assert.match(await byId('dashboard-models').textContent(), /claude-sonnet-4-5/);
    await shot('dashboard-range');
  } finally {
    page.off('request', rec);
  }
  assertClean();
});

test('dashboard: auto-refresh every 30 s while shown, remembered, stopped while hidden and once the page is left', async () => {
  // The page's timers run on Playwright's clock, moved on by hand: no 30 s wait.
  const c = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  c.setDefaultTimeout(T);
  await c.clock.install();
  await c.addInitScript(() => {
    const f = window.fetch;
    window.__dashLoads = 0;
    window.fetch = (u, o) => {
      if (String(u) === '/admin/dashboard') window.__dashLoads++;
      return f(u, o);
    };
  });
  const p = await c.newPage();
  watch(p, 'refresh');
  const loads = () => p.evaluate(() => window.__dashLoads);
  const hide = (hidden) => p.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  try {
    await p.goto(st.relay.url + '/web');
    await byId('login-username', p).fill(st.relay.adminUser);
    await byId('login-password', p).fill(adminPassword);
    await byId('login-submit', p).click();
    await byId('dashboard-requests-total', p).waitFor();
    assert.equal(await byId('dashboard-autorefresh', p).inputValue(), '0', 'off by default');
    await p.clock.fastForward(61000);
    const n0 = await loads();
    assert.equal(n0, 1, 'off: the first load only');
    await byId('dashboard-autorefresh', p).selectOption('30');
    // Preact runs effects on a frame, which the installed clock also holds back: let the effect
    // install its interval before jumping (fastForward fires each due timer once, not new ones)
    await p.clock.runFor(500);
    await p.clock.fastForward(31000);
    assert.equal(await loads(), n0 + 1, 'a second load within the 30 s');
    await hide(true);
    await p.clock.fastForward(61000);
    assert.equal(await loads(), n0 + 1, 'none while the page is hidden');
    await hide(false);
    assert.equal(await loads(), n0 + 2, 'shown again: reloaded at once');
    await p.clock.runFor(500);
    await p.clock.fastForward(31000);
    assert.equal(await loads(), n0 + 3);
    await p.reload();
    await byId('dashboard-requests-total', p).waitFor();
    assert.equal(await byId('dashboard-autorefresh', p).inputValue(), '30', 'remembered (localStorage)');
    const n1 = await loads();
    await byId('nav-keys', p).click();
    await byId('key-list', p).waitFor();
    await p.clock.fastForward(61000);
    assert.equal(await loads(), n1, 'no timer outlives the dashboard');
    await byId('nav-dashboard', p).click();
    await byId('dashboard-autorefresh', p).selectOption('0');
    assert.equal(await p.evaluate(() => localStorage.getItem('relayDashRefresh')), '0');
  } finally {
    await c.close();
  }
  assertClean();
});

test('keys: batch create downloads the new keys; disable, delete, restore and regenerate', async () => {
  await byId('nav-keys').click();
  await byId('key-batch').click();
  await byId('key-basename').fill('batch');
  await byId('key-count').fill('3');
  await byId('key-save').click();
  const [dl] = await Promise.all([page.waitForEvent('download'), byId('key-download').click()]);
  const lines = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n');
  assert.equal(lines.length, 3);
  for (const [i, l] of lines.entries()) assert.match(l, new RegExp(`^batch_${i + 1}\tcr_[0-9a-f]{64}$`));
  await page.keyboard.press('Escape');
  const row = page.locator('[data-testid="key-row"][data-name="batch_1"]');
  await row.waitFor();
  const first = lines[0].split('\t')[1];
  const send = (key) => httpRequest(st.relay.url + '/api/v1/messages', { method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal((await send(first)).status, 200);
  await row.getByTestId('key-toggle').click();
  await row.getByText('disabled').waitFor();
  await waitFor(async () => (await send(first)).status === 401, { timeout: T, what: 'a disabled key is refused' });
  await row.getByTestId('key-toggle').click();
  await row.getByText('active').waitFor();
  // Regenerate: the new secret is shown once, the old one stops working.
  await row.getByTestId('key-regenerate').click();
  const fresh = (await byId('key-secret').textContent()).trim();
  assert.match(fresh, /^cr_[0-9a-f]{64}$/);
  assert.notEqual(fresh, first);
  await page.keyboard.press('Escape');
  await waitFor(async () => (await send(first)).status === 401, { timeout: T, what: 'the old secret is refused' });
  assert.equal((await send(fresh)).status, 200);
  // Delete, then restore from the deleted list.
  await row.getByTestId('key-delete').click();
  await row.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: /Deleted keys \(1\)/ }).click();
  await byId('key-restore').click();
  await row.waitFor();
  assertClean();
});

test('accounts: a group with a member shows in the list', async () => {
  await byId('nav-accounts').click();
  await byId('group-name').fill('ui-group');
  await byId('group-add').click();
  const g = byId('group');
  await g.waitFor();
  await g.locator('select').selectOption({ label: 'ui-console' });
  await g.getByText('ui-console').waitFor();
  const row = page.locator('[data-testid="account-row"][data-name="ui-console"]');
  await row.getByText('ui-group').waitFor();
  assertClean();
});

test('explain: key + model show the account the scheduler would pick and why', async () => {
  await byId('nav-explain').click();
  await byId('explain-key').selectOption({ label: 'traffic' });
  await byId('explain-model').fill('claude-sonnet-4-5');
  await byId('explain-run').click();
  assert.equal((await byId('explain-picked').textContent()).trim(), 'ui-console', 'priority 20 beats 90');
  assert.equal(await byId('explain-account').count(), 2, await byId('explain-result').textContent());
  // Pause the preferred account: explain names it as skipped and why, and picks the other.
  await byId('nav-accounts').click();
  await page.locator('[data-testid="account-row"][data-name="ui-console"]').getByTestId('account-toggle').click();
  await page.locator('[data-testid="account-row"][data-name="ui-console"]').getByText('paused').waitFor();
  await byId('nav-explain').click();
  await byId('explain-key').selectOption({ label: 'traffic' });
  await byId('explain-run').click();
  await waitFor(async () => (await byId('explain-picked').textContent()).trim() === 'ui-oauth', { timeout: T, what: 'the other account picked' });
  const skipped = page.locator('[data-testid="explain-account"]', { hasText: 'ui-console' });
  assert.match(await skipped.textContent(), /skipped/);
  assert.match(await skipped.textContent(), /not schedulable|paused/);
  await shot('explain');
  await byId('nav-accounts').click();
  await page.locator('[data-testid="account-row"][data-name="ui-console"]').getByTestId('account-toggle').click();
  await page.locator('[data-testid="account-row"][data-name="ui-console"]').getByText('active').waitFor();
  assertClean();
});

test('accounts: an OpenAI Responses and a Gemini API account through the API-key form, listed; pause and resume', async () => {
  await byId('nav-accounts').click();
  for (const [kind, name, url, label] of [['openai-responses', 'ui-responses', mock.url + '/v1', /OpenAI Responses/], ['gemini-api', 'ui-gemini-api', mock.url, /Gemini API/]]) {
    await byId('account-add').click();
    await byId('account-kind-' + kind).click();
    await byId('account-name').fill(name);
    await byId('account-url').fill(url);
    await byId('account-key').fill(MOCK_ACCOUNT_KEY);
    await byId('account-save').click();
    const row = page.locator(`[data-testid="account-row"][data-name="${name}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), label);
    assert.ok((await row.textContent()).includes(url), 'the row shows where it points');
  }
  const stored = await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token });
  const g = stored.json.data.find((a) => a.name === 'ui-gemini-api');
  assert.equal(g.baseUrl, mock.url);
  assert.equal(g.platform, 'gemini-api');
  const row = page.locator('[data-testid="account-row"][data-name="ui-gemini-api"]');
  await row.getByTestId('account-toggle').click();
  await row.getByText('paused').waitFor();
  const after = await api(st.relay, 'GET', '/admin/gemini-api-accounts', { token: st.token });
  assert.equal(after.json.data.find((a) => a.id === g.id).schedulable, false, 'toggled on the server');
  await row.getByTestId('account-toggle').click();
  await row.getByText('active').waitFor();
  assertClean();
});

test('accounts: the OpenAI (ChatGPT) PKCE flow against the mock - callback URL pasted - plan and account id shown read-only', async () => {
  await byId('account-add').click();
  await byId('account-kind-openai').click();
  await byId('oauth-start').click();
  const u = new URL(await byId('oauth-link').getAttribute('href'));
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/openai/authorize');
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  const code = 'ac_ui' + Date.now();
  mock.openaiOAuth.expectCode(code, u.searchParams.get('code_challenge'), { chatgpt_account_id: 'acct-ui', chatgpt_plan_type: 'pro' });
  await byId('oauth-code').fill(`http://localhost:1455/auth/callback?code=${code}&scope=openid&state=${u.searchParams.get('state')}`);
  await byId('account-name').fill('ui-chatgpt');
  await byId('account-save').click();
  const row = page.locator('[data-testid="account-row"][data-name="ui-chatgpt"]');
  await row.waitFor();
  assert.match(await row.textContent(), /OpenAI \(ChatGPT\)/);
  assert.match(await row.textContent(), /pro · acct-ui/);
  assert.equal(mock.openaiOAuth.calls().at(-1).grant_type, 'authorization_code');
  await row.getByRole('button', { name: 'Edit' }).click();
  const info = await byId('account-info').textContent();
  assert.match(info, /Plan\s*pro/);
  assert.match(info, /ChatGPT account id\s*acct-ui/);
  assert.equal(await byId('account-info').locator('input').count(), 0, 'read-only');
  await byId('account-priority').fill('60');
  await byId('account-save').click();
  await row.locator('td', { hasText: /^60$/ }).waitFor();
  assertClean();
});

test('accounts: the Gemini (Google) PKCE flow with a projectId, editable afterwards', async () => {
  await byId('account-add').click();
  await byId('account-kind-gemini').click();
  await byId('oauth-start').click();
  const u = new URL(await byId('oauth-link').getAttribute('href'));
  assert.equal(u.origin + u.pathname, mock.url + '/oauth/google/authorize');
  const code = 'gcode' + Date.now();
  mock.googleOAuth.expectCode(code, u.searchParams.get('code_challenge'));
  await byId('oauth-code').fill(code);
  await byId('account-name').fill('ui-gemini');
  await byId('account-project').fill('ui-project-1');
  await byId('account-save').click();
  const row = page.locator('[data-testid="account-row"][data-name="ui-gemini"]');
  await row.waitFor();
  assert.match(await row.textContent(), /Gemini \(Google\)/);
  assert.match(await row.textContent(), /ui-project-1/);
  await row.getByRole('button', { name: 'Edit' }).click();
  await byId('account-project').fill('ui-project-2');
  await byId('account-save').click();
  await row.getByText('ui-project-2').waitFor();
  const r = await api(st.relay, 'GET', '/admin/gemini-accounts', { token: st.token });
  assert.equal(r.json.data.find((a) => a.name === 'ui-gemini').projectId, 'ui-project-2');
  await shot('accounts');
  assertClean();
});

test('accounts: a Claude setup token through the same paste flow (callback URL form), then edit and delete', async () => {
  await byId('nav-accounts').click();
  await byId('account-add').click();
  await byId('account-kind-setup').click();
  await byId('oauth-start').click();
  const u = new URL(await byId('oauth-link').getAttribute('href'));
  assert.equal(u.searchParams.get('scope'), 'user:inference');
  const code = 'uisetup' + Date.now();
  mock.oauth.expectCode(code, u.searchParams.get('code_challenge'));
  await byId('oauth-code').fill(`https://platform.claude.com/oauth/code/callback?code=${code}&state=${u.searchParams.get('state')}`);
  await byId('account-name').fill('ui-setup');
  await byId('account-save').click();
  const row = page.locator('[data-testid="account-row"][data-name="ui-setup"]');
  await row.waitFor();
  assert.equal(mock.oauth.calls().at(-1).body.expires_in, 31536000, 'the setup-token exchange');
  await row.getByRole('button', { name: 'Edit' }).click();
  await byId('account-priority').fill('77');
  await byId('account-save').click();
  await row.locator('td', { hasText: /^77$/ }).waitFor();
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached' });
  assertClean();
});

test('usage and settings pages render', async () => {
  await byId('nav-usage').click();
  await byId('usage-by-key').getByText('traffic').waitFor();
  await byId('usage-key').selectOption({ label: 'traffic' });
  await byId('log-row').first().waitFor();
  {
    assert.equal(await byId('log-row').count(), 3, 'the three SDK requests of this key');
    await byId('log-row').first().click();
    assert.match(await byId('log-detail').textContent(), /"durationMs"/);
    await page.keyboard.press('Escape');
    await byId('log-detail').waitFor({ state: 'detached' });
  }
  await shot('usage');
  await byId('nav-settings').click();
  await byId('settings-switches').waitFor();
  assert.match(await byId('settings-switches').textContent(), /UTC\+8/);
  await shot('settings');
  assertClean();
});

test('settings: runtime settings - a bad number refused at its field, a new title saved and applied everywhere, reset to default', async () => {
  await byId('nav-settings').click();
  await byId('settings-runtime').waitFor();
  await byId('setting-stickySessionTtlHours').fill('0');
  await byId('settings-save').click();
  assert.match(await byId('error-stickySessionTtlHours').textContent(), /^stickySessionTtlHours: .*1 to 8760/);
  assert.equal(await st.redis.cmd('GET', 'claude_relay_config'), null, 'nothing sent while a field is invalid');
  await byId('setting-stickySessionTtlHours').fill('1');
  const NEW = 'Renamed 中继';
  await byId('setting-webTitle').fill(NEW);
  await byId('settings-save').click();
  await byId('settings-saved').waitFor();
  assert.deepEqual(JSON.parse(await st.redis.cmd('GET', 'claude_relay_config')), { webTitle: NEW }, 'only the changed field is stored');
  assert.equal((await byId('brand-title').textContent()).trim(), NEW);
  await page.waitForFunction((want) => document.title === want, NEW, { timeout: T });
  assert.equal((await api(st.relay, 'GET', '/admin/oem-settings')).json.data.siteName, NEW);
  await page.reload(); // stored in Redis: the login page's title and the header keep it
  await byId('settings-runtime').waitFor();
  assert.equal((await byId('brand-title').textContent()).trim(), NEW);
  assert.equal(await byId('setting-webTitle').inputValue(), NEW);
  await byId('settings-reset-webTitle').click();
  await byId('settings-saved').waitFor();
  assert.equal((await byId('brand-title').textContent()).trim(), TITLE);
  await page.waitForFunction((want) => document.title === want, TITLE, { timeout: T });
  assert.equal(await byId('setting-webTitle').inputValue(), TITLE);
  assert.deepEqual(JSON.parse(await st.redis.cmd('GET', 'claude_relay_config')), {});
  await shot('settings-runtime');
  assertClean();
});

test('key-holder page: a real key, sent in a header, shows its own usage and limits', async () => {
  const p = await ctx.newPage();
  watch(p, 'stats');
  await p.goto(st.relay.url + '/web/stats');
  let keyInUrl = false;
  p.on('request', (r) => {
    if (r.url().includes(st.key.apiKey)) keyInUrl = true;
  });
  await byId('stats-key', p).fill(st.key.apiKey);
  await byId('stats-submit', p).click();
  await byId('stats-result', p).waitFor();
  assert.equal((await byId('stats-name', p).textContent()).trim(), 'traffic');
  assert.equal((await byId('stats-requests', p).textContent()).trim(), '3');
  // The budget left: $10 total less what the three requests cost (priced by the relay).
  const remaining = (await byId('stats-remaining', p).textContent()).trim();
  const m = /^\$10\.00 · Remaining \$(\d+\.\d+)$/.exec(remaining);
  assert.ok(m, remaining);
  assert.ok(Number(m[1]) < 10 && Number(m[1]) > 9.9, remaining);
  assert.equal(keyInUrl, false, 'the key is never in a URL');
  assert.ok(!p.url().includes('cr_'));
  await shot('key-holder', p);
  allow(/\/api\/v1\/key-info$|\/apiStats\/api\/user-stats$/, 401);
  await byId('stats-key', p).fill('cr_' + '0'.repeat(64));
  await byId('stats-submit', p).click();
  await p.getByRole('alert').waitFor();
  await p.close();
  assertClean();
});

test('language: switch to Chinese, remembered across a reload; back to English', async () => {
  await byId('nav-dashboard').click();
  await byId('lang-switch').click();
  assert.equal((await byId('nav-dashboard').textContent()).trim(), '仪表盘');
  await page.reload();
  await byId('nav-dashboard').waitFor();
  assert.equal((await byId('nav-dashboard').textContent()).trim(), '仪表盘', 'kept in localStorage');
  await byId('dashboard-requests-total').waitFor();
  await shot('dashboard-zh');
  await byId('lang-switch').click();
  assert.equal((await byId('nav-dashboard').textContent()).trim(), 'Dashboard');
  assertClean();
});

test('phone width (390 px) and dark theme: no horizontal overflow on any page', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 1 });
  phone.setDefaultTimeout(T);
  const p = await phone.newPage();
  watch(p, 'phone');
  await p.goto(st.relay.url + '/web');
  await byId('login-username', p).fill(st.relay.adminUser);
  await byId('login-password', p).fill(st.relay.adminPassword);
  await byId('login-submit', p).click();
  for (const [nav, ready] of [['dashboard', 'dashboard-requests-total'], ['keys', 'key-list'], ['accounts', 'account-list'], ['explain', 'explain-run'], ['usage', 'usage-by-key'], ['settings', 'settings-switches']]) {
    await byId('nav-' + nav, p).click();
    await byId(ready, p).waitFor();
    const w = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 390, `${nav}: page is ${w} px wide at 390 px`);
    if (nav === 'dashboard' || nav === 'keys' || nav === 'accounts') await shot('phone-' + nav, p);
  }
  await phone.close();
  assertClean();
});

test('settings: change password - a short one refused at its field, then every session ends', async () => {
  await byId('nav-settings').click();
  allow(/\/web\/auth\/change-password$/, 400);
  const form = page.locator('form', { hasText: 'Current password' });
  await form.locator('input[name="currentPassword"]').fill(adminPassword);
  await form.locator('input[name="newPassword"]').fill('short');
  await form.getByRole('button', { name: 'Change password' }).click();
  assert.match(await byId('error-newPassword').textContent(), /^newPassword must be 8 to 128 characters/);
  adminPassword = 'ui-new-password-' + Date.now();
  await form.locator('input[name="newPassword"]').fill(adminPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await byId('login-message').waitFor();
  assert.match(await byId('login-message').textContent(), /Password changed/);
  await byId('login-username').fill(st.relay.adminUser);
  await byId('login-password').fill(adminPassword);
  await byId('login-submit').click();
  await byId('nav-dashboard').waitFor();
  assertClean();
});

test('logout, then an expired session returns to the login page with a message', async () => {
  await byId('logout').click();
  await byId('login-message').waitFor();
  assert.match(await byId('login-message').textContent(), /logged out/);
  await byId('login-username').fill(st.relay.adminUser);
  await byId('login-password').fill(adminPassword);
  await byId('login-submit').click();
  await byId('nav-keys').waitFor();
  // The session ends on the server (as after a timeout or a password change elsewhere).
  const token = await page.evaluate(() => sessionStorage.getItem('relayAdminToken'));
  assert.equal((await api(st.relay, 'POST', '/web/auth/logout', { token })).status, 200);
  allow(/\/admin\//, 401);
  await byId('nav-keys').click();
  await byId('login-message').waitFor();
  assert.match(await byId('login-message').textContent(), /session has expired/);
  assert.equal(await byId('nav-keys').count(), 0, 'no half-broken page behind the login');
  assertClean();
});
