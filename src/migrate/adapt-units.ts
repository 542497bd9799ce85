// How the adaptation's reasons print numbers (adapt-policy.ts, adapt-start.ts): one place, so that the summary's
// lines read alike.

/** 3 significant-ish digits: 123, 12.3, 1.23. */
export const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** Bytes as KiB, or MiB from 1 MiB. */
export const kib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`);
