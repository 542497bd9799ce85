// Exactly once after kill -9 on cyrus-dot: the cases are in kill-rerun-cases.ts, one file per server so they run in parallel.
import { killRerunOn } from './kill-rerun-cases.js';

killRerunOn('cyrus-dot');
