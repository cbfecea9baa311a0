// api.js - the one fetch wrapper: JSON in and out, the admin session token,
// and the rule that any 401 from the admin API ends the session (main.js
// shows the login page with a message instead of a half-broken page).
const TOKEN = 'relayAdminToken';
let onExpired = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
  onExpired: (fn) => {
    onExpired = fn;
  },
};

// opts.key: a relay key sent as x-api-key; opts.keyHolder: the key-holder page
// (no admin token, a 401 is not a session end); opts.quiet404: a 404
// resolves to null (optional APIs).
export async function api(method, path, body, opts = {}) {
  const headers = {};
  const token = session.get();
  if (opts.key) headers['x-api-key'] = opts.key;
  else if (token && !opts.keyHolder) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && !opts.key && !opts.keyHolder && path !== '/web/auth/login') {
    session.clear();
    onExpired();
  }
  if (res.status === 404 && opts.quiet404) return null;
  if (!res.ok) {
    const e = data.error;
    const msg = data.message || (e && (e.message || e)) || 'HTTP ' + res.status;
    throw new ApiError(res.status, typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  return data;
}

// The account types this relay has (one list in the UI): the admin path, the
// provider name the records carry as platform, how one is added (oauth: the
// PKCE flow at /admin/<path>/generate-auth-url; else an API-key form whose URL
// field is url, required or not) and the read-only fields worth showing.
export const ACCOUNT_TYPES = [
  { path: 'claude-accounts', platform: 'claude-official', label: 'Claude (OAuth)', oauth: true, info: ['subscriptionType', 'email', 'organization'] },
  { path: 'claude-console-accounts', platform: 'claude-console', label: 'Claude Console', url: 'apiUrl', urlRequired: true, placeholder: 'https://api.anthropic.com' },
  { path: 'openai-accounts', platform: 'openai', label: 'OpenAI (ChatGPT)', oauth: true, info: ['planType', 'accountId', 'email'] },
  { path: 'openai-responses-accounts', platform: 'openai-responses', label: 'OpenAI Responses', url: 'baseApi', urlRequired: true, placeholder: 'https://api.openai.com/v1' },
  { path: 'gemini-accounts', platform: 'gemini', label: 'Gemini (Google)', oauth: true, project: true, info: ['projectId', 'tempProjectId'] },
  { path: 'gemini-api-accounts', platform: 'gemini-api', label: 'Gemini API', url: 'baseUrl', urlRequired: false, placeholder: 'https://generativelanguage.googleapis.com' },
];

export async function allAccounts() {
  const lists = await Promise.all(
    ACCOUNT_TYPES.map((t) =>
      api('GET', '/admin/' + t.path).then((r) => (r.data || []).map((a) => ({ ...a, _type: t }))),
    ),
  );
  return lists.flat();
}

export async function allKeys() {
  const r = await api('GET', '/admin/api-keys?pageSize=100');
  return r.data.items || [];
}
