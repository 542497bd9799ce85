// Dependencies of imapflow that the control plane does not reach on its paths, kept out of the imapflow chunk and
// loaded from a file of their own on first use (issue 14, docs/measurements.md "Start-up").
//
// Why: imapflow imports them at its top level, so they were in its chunk and were parsed — most of them also
// evaluated — by every run that opens the control connection: of the chunk's 1.8 MB, iconv-lite's character-set
// tables were 0.9 MB (two copies, imapflow's and libmime's), encoding-japanese 250 kB (its JIS tables built at
// load), libmime 110 kB, pino with its streams 70 kB, socks with ip-address 80 kB. What the control plane uses:
//   - pino: imapflow's default logger, created only when no `logger` option is given; control-plane.ts passes
//     `logger: false`;
//   - socks: only with imapflow's `proxy` option, which mailmigrate never passes;
//   - libmime, @zone-eu/mailsplit, encoding-japanese: decoding of encoded words, body structures and downloads
//     (ENVELOPE, BODYSTRUCTURE, download()), none of which the control plane asks for;
//   - iconv-lite: modified UTF-7 (RFC 3501 §5.1.3) for folder names outside ASCII — reached by any import with
//     such a folder (fixtures/maildir's "Café"). It stays in the chunk: imapflow swallows any error of that
//     encoding and sends the name unencoded (tools.js encodePath), so it must not depend on a file being there.
//     Only its multi-byte tables, which iconv-lite itself require()s when a CJK codec is first used (libmime's
//     charset decoding), are copied out as the JSON files they are.
// Nothing is removed: each lazy package's import is replaced by a module with the same export names whose first use
// require()s the package's own bundle, dist/bundle/vendor/<name>@<version>.cjs (built by buildVendors from the same
// resolved files). So a path that does reach one — a future ENVELOPE fetch, a proxy option — works exactly as
// before and pays the load then; a missing vendor file fails with an error that names it.
import { createRequire } from 'node:module';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { build } from 'esbuild';

/** The packages loaded lazily, by the name they are imported with. */
export const LAZY_PACKAGES = ['encoding-japanese', 'libmime', '@zone-eu/mailsplit', 'pino', 'socks'];
const SPEC = new RegExp(`^(${LAZY_PACKAGES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})(/.*)?$`);
// Own properties every function has; a function-valued export keeps its own.
const FUNCTION_OWN = new Set(['length', 'name', 'prototype', 'arguments', 'caller']);

function packageOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      const { name, version } = JSON.parse(readFileSync(pj, 'utf8'));
      if (name && version) return { dir, name, version };
    }
  }
  throw new Error(`lazy-vendor: no package.json with a name and version above ${file}`);
}

/** The vendor file's name: package@version, plus the file's path in it when a subpath is imported. */
function vendorKey(file) {
  const pkg = packageOf(file);
  const main = createRequire(join(pkg.dir, 'package.json')).resolve(pkg.dir);
  const sub = file === main ? '' : `+${relative(pkg.dir, file).split(sep).join('+').replace(/\.[cm]?js$/, '')}`;
  return { key: `${pkg.name.replace('/', '+')}@${pkg.version}${sub}`, pkg };
}

const packageLabel = (file) => {
  const p = packageOf(file);
  return `${p.name}@${p.version}`;
};

/**
 * The stand-in module: the export names the real module has (read by loading it here, at build time), each a getter
 * that loads the real one. A function-valued export (pino) is a function that calls or constructs the real one.
 * `__esModule` is copied as a value: esbuild's interop reads it when the importing chunk loads, and must not load.
 */
function shimSource(file, vendorPath) {
  const real = createRequire(file)(file);
  const keys = Object.getOwnPropertyNames(real).filter((k) => k !== '__esModule' && !(typeof real === 'function' && FUNCTION_OWN.has(k)));
  const lines = [
    "'use strict';",
    'let real;',
    'const load = () => {',
    '  if (real) return real;',
    '  try {',
    `    return (real = require(${JSON.stringify(vendorPath)}));`,
    '  } catch (err) {',
    `    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(${JSON.stringify(vendorPath)})) {`,
    `      throw new Error(${JSON.stringify(`mailmigrate: ${vendorPath} (the bundled ${packageLabel(file)}, loaded on first use) is missing beside the bundle; reinstall mailmigrate or run \`npm run build\``)}, { cause: err });`,
    '    }',
    '    throw err;',
    '  }',
    '};',
    typeof real === 'function'
      ? 'const shim = function (...args) { return new.target ? Reflect.construct(load(), args, new.target === shim ? load() : new.target) : Reflect.apply(load(), this, args); };'
      : 'const shim = {};',
  ];
  if (real.__esModule) lines.push("Object.defineProperty(shim, '__esModule', { value: true });");
  lines.push(`for (const k of ${JSON.stringify(keys)}) Object.defineProperty(shim, k, { get: () => load()[k], enumerable: true, configurable: true });`);
  lines.push('module.exports = shim;');
  return lines.join('\n');
}

/**
 * The esbuild plugin. `prefix`: how the output that will hold the stand-in reaches the vendor directory with a
 * relative require() ('./vendor/' from the chunks, './' from a vendor file). `found` collects key → resolved file
 * of every package replaced, for buildVendors().
 */
export function lazyVendor({ prefix, found }) {
  return {
    name: 'lazy-vendor',
    setup(b) {
      b.onResolve({ filter: SPEC }, async (a) => {
        if (a.kind === 'entry-point' || a.pluginData?.lazyVendorInner) return undefined;
        const r = await b.resolve(a.path, { resolveDir: a.resolveDir, kind: a.kind, importer: a.importer, pluginData: { lazyVendorInner: true } });
        if (r.errors.length > 0 || r.external) return undefined;
        const { key } = vendorKey(r.path);
        found.set(key, r.path);
        return { path: r.path, namespace: 'lazy-vendor', pluginData: { key } };
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy-vendor' }, (a) => ({
        contents: shimSource(a.path, `${prefix}${a.pluginData.key}.cjs`),
        loader: 'js',
      }));
      // The stand-in's require() of its vendor file stays a require() at run time.
      b.onResolve({ filter: /\.cjs$/, namespace: 'lazy-vendor' }, (a) => ({ path: a.path, external: true }));
    },
  };
}

/**
 * iconv-lite's `require("./tables/X.json")` (inside the codec that needs it) stays a require() of the file, copied
 * into `vendorDir`; `prefix` as for lazyVendor. `copied`: the table directories copied so far.
 */
export function externalIconvTables({ vendorDir, prefix, copied }) {
  return {
    name: 'external-iconv-tables',
    setup(b) {
      b.onResolve({ filter: /^\.\/tables\/[\w-]+\.json$/ }, (a) => {
        const pkg = packageOf(a.importer);
        if (pkg.name !== 'iconv-lite') return undefined;
        const dir = `iconv-lite@${pkg.version}-tables`;
        if (!copied.has(dir)) {
          cpSync(join(dirname(a.importer), 'tables'), join(vendorDir, dir), { recursive: true });
          copied.add(dir);
        }
        return { path: `${prefix}${dir}/${a.path.slice('./tables/'.length)}`, external: true };
      });
    },
  };
}

/**
 * Builds one CommonJS file per replaced package into `outdir` (dist/bundle/vendor), each with the same treatment of
 * its own lazy dependencies (libmime's encoding-japanese stays lazy inside libmime's file, iconv-lite's tables
 * outside it), until no new one turns up. Returns esbuild's metafile outputs of those files (test/cli/startup-probe.ts names the sources
 * of what a run loaded from them).
 */
export async function buildVendors({ root, outdir, found, copied }) {
  const outputs = {};
  const done = new Set();
  for (;;) {
    const todo = [...found].filter(([key]) => !done.has(key));
    if (todo.length === 0) return outputs;
    for (const [key, file] of todo) {
      done.add(key);
      const r = await build({
        absWorkingDir: root,
        entryPoints: [file],
        outfile: join(outdir, `${key}.cjs`),
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        minifyWhitespace: true,
        legalComments: 'inline',
        charset: 'ascii',
        logLevel: 'warning',
        metafile: true,
        plugins: [lazyVendor({ prefix: './', found }), externalIconvTables({ vendorDir: outdir, prefix: './', copied })],
      });
      Object.assign(outputs, r.metafile.outputs);
    }
  }
}

/**
 * Node built-ins that imapflow imports at its top level for what the control plane rarely or never does: node:tls
 * (implicit TLS and STARTTLS only), node:zlib (COMPRESS=DEFLATE, which control-plane.ts disables) and node:dns (its
 * proxy support). Loading them cost the control-plane load ~15 ms CPU on a --plain run (docs/measurements.md
 * "Start-up"). Each import is handed an object with the module's export names (listed here, at build time) as
 * getters that require() the module on first access — imapflow reads them only when it calls them (tls.connect,
 * zlib.createDeflateRaw, dns.promises), so a TLS run loads node:tls at its connect, as it would have anyway.
 */
export function lazyBuiltins({ importer, modules }) {
  const filter = new RegExp(`^(node:)?(${modules.join('|')})$`);
  return {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter }, (a) => (importer.test(a.importer) ? { path: a.path.replace(/^node:/, ''), namespace: 'lazy-builtin-getters' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin-getters' }, (a) => {
        const keys = Object.keys(createRequire(import.meta.url)(`node:${a.path}`));
        return {
          contents: [
            "'use strict';",
            'let real;',
            `const load = () => (real ??= require(${JSON.stringify(`node:${a.path}`)}));`,
            'const shim = {};',
            `for (const k of ${JSON.stringify(keys)}) Object.defineProperty(shim, k, { get: () => load()[k], enumerable: true, configurable: true });`,
            'module.exports = shim;',
          ].join('\n'),
          loader: 'js',
        };
      });
    },
  };
}
