// V8 heap sizing set from inside the process, after start-up (issue 14, fourth pass): preloaded into an import,
//
//   MM_V8_RUNTIME_FLAGS="--heap-growing-percent=50" MM_YOUNG_CAP_MB=4 \
//     node --import ./dist/bench/memory/v8-runtime.js bin/mailmigrate.js import …
//
// It answers whether the CLI could size its heap itself instead of putting flags on the `node` command line (which
// needs the launcher to re-exec node, or a shebang with flags). What V8 (11.3, Node 20) reads when:
// - --max-semi-space-size is read once, when the heap is set up: setting it later changes nothing;
// - --heap-growing-percent is read at each old-generation limit computation: it takes effect when set at run time;
// - --semi-space-growth-factor is read each time the new space grows: set to 1 it stops the growth. So a cap on
//   the young generation is MM_YOUNG_CAP_MB: after each minor GC (a PerformanceObserver on 'gc' entries, one per
//   collection, not per message) the new space's size is looked at, and once its semi-space reached the cap the
//   growth factor is set to 1. V8 grows a semi-space by doubling from 1 MiB, so the cap is reached exactly when it
//   is a power of two.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

const flags = process.env['MM_V8_RUNTIME_FLAGS'];
if (flags) for (const f of flags.split(' ').filter(Boolean)) v8.setFlagsFromString(f);

const capMb = Number(process.env['MM_YOUNG_CAP_MB'] ?? 0);
if (capMb > 0) {
  const semiSpaceMb = (): number => (v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 / (1024 * 1024);
  const obs = new PerformanceObserver((list) => {
    if (!list.getEntries().some((e) => (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)) return;
    if (semiSpaceMb() >= capMb) {
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      obs.disconnect();
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}
