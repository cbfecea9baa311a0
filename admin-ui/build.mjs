// build.mjs - builds admin-ui/dist/ without a bundler: every ES module of src/
// and the vendored library files are copied to dist/assets/ under a name with
// a hash of their content, their imports rewritten to those names, and
// dist/index.html written to reference them. The relay serves assets/ as
// immutable (a changed file gets a new name) and index.html as no-cache.
// Usage: node build.mjs   (after npm ci; no other tool needed)
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, 'src');
const out = path.join(here, 'dist');
const nm = path.join(here, 'node_modules');

// Bare specifiers the app uses -> the vendored file that provides them.
const vendor = {
  preact: path.join(nm, 'preact/dist/preact.module.js'),
  'preact/hooks': path.join(nm, 'preact/hooks/dist/hooks.module.js'),
  htm: path.join(nm, 'htm/dist/htm.module.js'),
  uplot: path.join(nm, 'uplot/dist/uPlot.esm.js'),
};
const vendorNames = { preact: 'preact', 'preact/hooks': 'preact-hooks', htm: 'htm', uplot: 'uplot' };

const done = new Map(); // absolute source path -> hashed file name

function hashed(base, ext, text) {
  const h = createHash('sha256').update(text).digest('hex').slice(0, 10);
  return `${base}.${h}${ext}`;
}

function resolve(spec, from) {
  if (vendor[spec]) return { file: vendor[spec], base: vendorNames[spec] };
  if (spec.startsWith('./')) {
    const file = path.join(path.dirname(from), spec);
    return { file, base: path.basename(file, '.js') };
  }
  return null; // not a module specifier (e.g. the word "from" in a comment)
}

// Emit one module after its imports (no cycles in this app); returns its name.
function emit(file, base) {
  if (done.has(file)) return done.get(file);
  let text = fs.readFileSync(file, 'utf8').replace(/\n?\/\/# sourceMappingURL=.*$/m, '');
  text = text.replace(/(\bfrom\s*|\bimport\s*)(["'])([^"'\s]+)\2/g, (all, kw, q, spec) => {
    const dep = resolve(spec, file);
    return dep ? `${kw}${q}./${emit(dep.file, dep.base)}${q}` : all;
  });
  const name = hashed(base, '.js', text);
  fs.writeFileSync(path.join(out, 'assets', name), text);
  done.set(file, name);
  return name;
}

function copyAsset(file, base, ext) {
  const data = fs.readFileSync(file);
  const name = hashed(base, ext, data);
  fs.writeFileSync(path.join(out, 'assets', name), data);
  return name;
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });
const main = emit(path.join(src, 'main.js'), 'main');
const css = copyAsset(path.join(src, 'style.css'), 'style', '.css');
const plotCss = copyAsset(path.join(nm, 'uplot/dist/uPlot.min.css'), 'uplot', '.css');
const icon = copyAsset(path.join(src, 'favicon.svg'), 'favicon', '.svg');
const html = fs
  .readFileSync(path.join(src, 'index.html'), 'utf8')
  .replaceAll('%MAIN%', `/web/assets/${main}`)
  .replaceAll('%CSS%', `/web/assets/${css}`)
  .replaceAll('%UPLOT_CSS%', `/web/assets/${plotCss}`)
  .replaceAll('%ICON%', `/web/assets/${icon}`);
fs.writeFileSync(path.join(out, 'index.html'), html);
console.log(`admin-ui: dist/ built (${fs.readdirSync(path.join(out, 'assets')).length} assets)`);
