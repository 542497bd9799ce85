// Merges the chunks one command loads into one file, after esbuild's code splitting (scripts/bundle.mjs; issue 14,
// docs/measurements.md "Start-up").
//
// Why: esbuild puts each set of modules reached from the same entry points (every `import()` is one) into a chunk
// of its own, so `mailmigrate import` loaded 28 files before its first byte, many under 1 KB. Node 20's ESM loader
// costs ~1.4 ms CPU per file here whatever its size (resolve, read, a module record, link; measured with 1, 5, 28
// and 100 one-line modules), and Node 20 has no module compile cache to hide it. esbuild has no "manual chunks"
// option, so the merge is a second esbuild pass over the first one's output:
//
//   - the group is the static closure of the chunks of `entries` (the sources a command's path loads by `import()`),
//     less every chunk another top-level entry (main, read-worker, child-guard) loads statically: those are shared
//     and stay where they are (a read worker must not load the import command);
//   - esbuild bundles the group's chunks into `<name>.js`, exporting each chunk's exports under a prefixed name;
//     chunks outside the group stay external imports, by the same relative path (same directory);
//   - each chunk of the group is replaced by a facade of one line re-exporting its names from `<name>.js`, so every
//     chunk that imports it (statically or with `import()`) is left as esbuild wrote it.
//
// A facade left by an earlier merge (it has `facadeOf` in the metafile) that the group imports is bundled through,
// not replaced: the group then imports the earlier merged file directly instead of loading the one-line file
// first, and every other importer of the facade keeps it as it is.
//
// What changes: whoever loads one chunk of the group now evaluates all of it (module top levels are declarations;
// the group is what `import` loads anyway). No cycle can appear: the group's static imports go only to chunks of
// the excluded closures, which are closed under static import and so never import the group back.
// Source maps: the second pass reads each chunk's linked map, so stacks still name src/…/file.ts.
import { build } from 'esbuild';
import { NODE_ESM } from './esbuild-options.mjs';
import { writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';

/**
 * @param {{ root: string, outdir: string, metafile: import('esbuild').Metafile, name: string,
 *   entries: string[], exclude: string[], omit?: string[] }} o  entries/exclude/omit: source paths of entry points
 *   (as in the metafile)
 * @returns {Promise<import('esbuild').Metafile>} the metafile with the group's outputs replaced
 */
export async function mergeChunks(o) {
  const outputs = o.metafile.outputs;
  const outputOf = (source) => {
    const found = Object.keys(outputs).find((k) => outputs[k].entryPoint === source);
    if (!found) throw new Error(`merge-chunks: no output has entry point ${source}`);
    return found;
  };
  const closure = (start) => {
    const seen = new Set();
    const visit = (k) => {
      if (seen.has(k)) return;
      seen.add(k);
      for (const i of outputs[k].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
    };
    visit(start);
    return seen;
  };
  const excluded = new Set(o.exclude.flatMap((e) => [...closure(outputOf(e))]));
  const reached = [...new Set(o.entries.flatMap((e) => [...closure(outputOf(e))]))].filter((k) => !excluded.has(k) && k.endsWith('.js'));
  // `omit`: entries whose own chunk stays as it is, only what it imports is merged (main.ts, whose top-level await
  // runs the whole command: merged with the modules a command chunk imports, it would wait on that chunk while the
  // chunk waited on it — a top-level await deadlock).
  const omitted = new Set((o.omit ?? []).map(outputOf));
  const group = reached.filter((k) => !outputs[k].facadeOf && !omitted.has(k));
  if (group.length < 2) return o.metafile;
  const abs = (k) => resolve(o.root, k);
  const inGroup = new Set(reached.map(abs));
  const prefix = new Map(group.map((k, i) => [k, `c${i}$`]));
  const target = join(o.outdir, `${o.name}.js`);

  const result = await build({
    absWorkingDir: o.root,
    stdin: {
      contents: group.map((k) => {
        const names = outputs[k].exports.map((n) => `${n} as ${prefix.get(k)}${n}`);
        return names.length > 0 ? `export { ${names.join(', ')} } from './${basename(k)}';` : `import './${basename(k)}';`;
      }).join('\n'),
      resolveDir: o.outdir,
      sourcefile: `${o.name}-group.js`,
      loader: 'js',
    },
    outfile: target,
    ...NODE_ESM,
    write: false,
    plugins: [{
      name: 'group-only',
      setup(b) {
        // Chunks of the first pass: those of the group are bundled, every other one stays an import of that file.
        b.onResolve({ filter: /^\.\/[^/]+\.js$/ }, (a) => {
          const path = resolve(a.resolveDir, a.path);
          return inGroup.has(path) ? { path } : { path: a.path, external: true };
        });
        b.onResolve({ filter: /^[^./]/ }, (a) => ({ path: a.path, external: true }));
      },
    }],
  });
  // The facades replace the chunks only now: esbuild read the originals above.
  for (const f of result.outputFiles) writeFileSync(f.path, f.contents);
  const merged = relative(o.root, target);
  const sources = {};
  for (const k of group) {
    Object.assign(sources, outputs[k].inputs);
    const names = outputs[k].exports.map((n) => `${prefix.get(k)}${n} as ${n}`);
    const facade = names.length > 0 ? `export{${names.join(',')}}from"./${o.name}.js";\n` : `import"./${o.name}.js";\n`;
    writeFileSync(abs(k), facade);
    writeFileSync(`${abs(k)}.map`, JSON.stringify({ version: 3, sources: [], names: [], mappings: '' }));
    outputs[k] = { imports: [{ path: merged, kind: 'import-statement' }], exports: outputs[k].exports, ...(outputs[k].entryPoint ? { entryPoint: outputs[k].entryPoint } : {}), inputs: {}, bytes: Buffer.byteLength(facade), facadeOf: merged };
  }
  // An omitted entry chunk imports the group's chunks, now facades: bundled again with the facades bundled through,
  // it imports the merged file directly (its own code unchanged, its source map read and rewritten by esbuild).
  for (const k of omitted) {
    const again = await build({
      absWorkingDir: o.root,
      entryPoints: [abs(k)],
      outfile: abs(k),
      allowOverwrite: true,
      ...NODE_ESM,
      write: false,
      plugins: [{
        name: 'through-facades',
        setup(b) {
          b.onResolve({ filter: /^\.\/[^/]+\.js$/ }, (a) => {
            const path = resolve(a.resolveDir, a.path);
            const key = relative(o.root, path);
            return path !== abs(k) && outputs[key]?.facadeOf === merged ? { path } : path === abs(k) ? undefined : { path: a.path, external: true };
          });
          b.onResolve({ filter: /^[^./]/ }, (a) => ({ path: a.path, external: true }));
        },
      }],
    });
    for (const f of again.outputFiles) writeFileSync(f.path, f.contents);
    const imports = again.metafile.outputs[relative(o.root, abs(k))].imports;
    outputs[k] = { ...outputs[k], imports: imports.map((i) => (i.external && i.path.startsWith('./') ? { ...i, path: relative(o.root, join(dirname(abs(k)), i.path)), external: false } : i)) };
  }
  const out = result.metafile.outputs[merged];
  outputs[merged] = {
    ...out,
    // The sources inside: what the group's chunks held (the second pass's own inputs are the chunk files).
    inputs: sources,
    imports: out.imports.map((i) => (i.external && i.path.startsWith('./') ? { ...i, path: relative(o.root, join(dirname(target), i.path)), external: false } : i)),
  };
  outputs[`${merged}.map`] = { imports: [], exports: [], inputs: {}, bytes: result.outputFiles.find((f) => f.path.endsWith('.map'))?.contents.length ?? 0 };
  return { ...o.metafile, outputs };
}

