'use strict';
// Codex CLI as the provider test files run it (one copy instead of one a file): a throw-away
// CODEX_HOME whose config.toml points the "crs" provider at the relay, and `codex exec`.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { mkTmp } = require('./env');

const CODEX = path.resolve(__dirname, '..', 'node_modules', '.bin', 'codex');

// top: the top-level settings (model, auth, ...); provider: extra [model_providers.crs] lines.
function codexHome(baseUrl, { prefix = 'codex-home-', top = ['model = "gpt-5"'], provider = [] } = {}) {
  const home = mkTmp(prefix);
  const codexDir = path.join(home, '.codex');
  fs.mkdirSync(codexDir);
  fs.writeFileSync(
    path.join(codexDir, 'config.toml'),
    [
      'model_provider = "crs"',
      ...top,
      'check_for_update_on_startup = false',
      '[analytics]',
      'enabled = false',
      '[feedback]',
      'enabled = false',
      '[features]',
      'plugins = false',
      '[model_providers.crs]',
      'name = "crs"',
      `base_url = "${baseUrl}"`,
      'wire_api = "responses"',
      ...provider,
      'env_key = "CRS_OAI_KEY"',
      '',
    ].join('\n'),
  );
  return { home, codexDir };
}

// codex exec with stdin closed (else it waits for more input on it); killed after timeout ms.
function codex(h, key, args, timeout = 60000) {
  const env = { PATH: process.env.PATH, HOME: h.home, CODEX_HOME: h.codexDir, TMPDIR: h.home, CRS_OAI_KEY: key, NO_COLOR: '1' };
  return new Promise((resolve) => {
    const started = Date.now();
    const p = spawn(CODEX, ['exec', '--skip-git-repo-check', ...args], { env, cwd: h.home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code === null ? -1 : code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

module.exports = { CODEX, codexHome, codex };
