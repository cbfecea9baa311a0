// main.js - the app shell: session, client-side routes under /web, the
// navigation, language and theme switches, the branding (WEB_TITLE or its
// runtime setting: the public /admin/oem-settings gives the title before
// login, /admin/ui-settings the logo after, the settings page a new one when
// saved). Pages live in their own modules.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session } from './api.js';
import { getLang, setLang, t } from './i18n.js';
import { html, setTz, setRetention, tzLabel, ErrorBox, go } from './ui.js';
import { Dashboard } from './dashboard.js';
import { Keys } from './keys.js';
import { Accounts } from './accounts.js';
import { Explain } from './explain.js';
import { Usage } from './usage.js';
import { Settings } from './settings.js';
import { KeyStats } from './stats.js';

const PAGES = {
  dashboard: Dashboard, keys: Keys, accounts: Accounts, explain: Explain, usage: Usage, settings: Settings,
};
const NAV = ['dashboard', 'keys', 'accounts', 'explain', 'usage', 'settings'];

const pageOf = () => location.pathname.replace(/^\/web\/?/, '').split('/')[0] || 'dashboard';

const THEME = 'relayTheme';
function applyTheme(th) {
  document.documentElement.dataset.theme = th;
  localStorage.setItem(THEME, th);
}
applyTheme(localStorage.getItem(THEME) || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));

function Login({ message, onDone }) {
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setBusy(true);
    try {
      const r = await api('POST', '/web/auth/login', { username: f.get('username'), password: f.get('password') });
      session.set(r.token);
      onDone(r.username);
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form class="card" onSubmit=${submit}>
      <h2>${t('adminLogin')}</h2>
      ${message && html`<p class="notice" data-testid="login-message">${message}</p>`}
      <label class="field"><span class="flabel">${t('username')}</span>
        <input name="username" autocomplete="username" required data-testid="login-username" /></label>
      <label class="field"><span class="flabel">${t('password')}</span>
        <input name="password" type="password" autocomplete="current-password" required data-testid="login-password" /></label>
      <${ErrorBox} error=${err} />
      <button type="submit" class="primary" disabled=${busy} data-testid="login-submit">${t('login')}</button>
      <p class="muted"><a href="/web/stats" onClick=${(e) => { e.preventDefault(); go('stats'); }}>${t('keyHolder')}</a></p>
    </form></main>`;
}

function Header({ user, onLogout, lang, setLangState, brand }) {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme);
  const switchLang = () => {
    const l = lang === 'en' ? 'zh' : 'en';
    setLang(l);
    setLangState(l);
  };
  const switchTheme = () => {
    const th = theme === 'dark' ? 'light' : 'dark';
    applyTheme(th);
    setTheme(th);
  };
  return html`<header class="top">
    <a class="brand" href="/web/dashboard" onClick=${(e) => { e.preventDefault(); go(user ? 'dashboard' : 'stats'); }}>
      ${brand.logo ? html`<img class="logo-img" src=${brand.logo} alt="" data-testid="brand-logo" />` : html`<span class="logo">▲</span>`}
      <span data-testid="brand-title">${brand.title || t('appName')}</span></a>
    <span class="spacer"></span>
    ${user && html`<span class="muted tz">${t('times', tzLabel())}</span>`}
    <button class="ghost" data-testid="lang-switch" onClick=${switchLang} title=${t('language')}>${lang === 'en' ? '中文' : 'EN'}</button>
    <button class="ghost" data-testid="theme-switch" onClick=${switchTheme} title=${t('theme')}>${theme === 'dark' ? '☀' : '☾'}</button>
    ${user && html`<span class="muted who">${user}</span><button class="ghost" data-testid="logout" onClick=${onLogout}>${t('logout')}</button>`}
  </header>`;
}

function App() {
  const [page, setPage] = useState(pageOf());
  const [user, setUser] = useState(null);
  const [checked, setChecked] = useState(!session.get());
  const [message, setMessage] = useState(null);
  const [lang, setLangState] = useState(getLang());
  const [tz, setTzState] = useState(null);
  const [brand, setBrand] = useState({ title: '', logo: '' });

  useEffect(() => {
    const pop = () => setPage(pageOf());
    addEventListener('popstate', pop);
    session.onExpired(() => {
      setUser(null);
      setMessage(t('sessionExpired'));
    });
    if (session.get())
      api('GET', '/web/auth/user')
        .then((r) => setUser(r.user.username))
        .catch(() => {})
        .finally(() => setChecked(true));
    api('GET', '/admin/oem-settings', undefined, { keyHolder: true })
      .then((r) => setBrand((b) => ({ ...b, title: r.data.siteName })))
      .catch(() => {});
    return () => removeEventListener('popstate', pop);
  }, []);
  useEffect(() => {
    document.title = brand.title || t('appName');
  }, [brand.title, lang]);
  useEffect(() => {
    // Times are shown in the relay's TIMEZONE_OFFSET: re-render once it is known.
    if (user)
      api('GET', '/admin/ui-settings')
        .then((r) => {
          setTz(r.data.timezoneOffset);
          setRetention(r.data.usageRetentionDays);
          setTzState(r.data.timezoneOffset);
          setBrand({ title: r.data.webTitle, logo: r.data.webLogoUrl || '' });
        })
        .catch(() => setTzState(0));
  }, [user]);

  const logout = async () => {
    await api('POST', '/web/auth/logout').catch(() => {});
    session.clear();
    setUser(null);
    setMessage(t('loggedOut'));
  };
  const header = html`<${Header} user=${user} onLogout=${logout} lang=${lang} setLangState=${setLangState} brand=${brand} />`;
  if (page === 'stats') return html`${header}<${KeyStats} key=${lang} />`;
  if (!checked) return header;
  if (!user)
    return html`${header}<${Login} message=${message} onDone=${(u) => { setMessage(null); setUser(u); if (page === 'login') go('dashboard'); }} />`;
  const Page = PAGES[page] || Dashboard;
  return html`${header}
    <nav class="tabs">${NAV.map((p) => html`<a href=${'/web/' + p} data-testid=${'nav-' + p}
      class=${p === page || (!PAGES[page] && p === 'dashboard') ? 'active' : ''}
      onClick=${(e) => { e.preventDefault(); go(p); }}>${t(p)}</a>`)}</nav>
    <main class="page" key=${page + lang}>${tz === null ? html`<p class="muted">…</p>`
      : html`<${Page} user=${user} onBrand=${setBrand} onRelogin=${() => { session.clear(); setUser(null); setMessage(t('passwordChanged')); }} />`}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
