import { ConfigError } from '../core/errors.js';
import type { LiteralMode } from '../core/types.js';

export type LiteralKind = 'sync' | 'nonsync';

/** RFC 7888 §4: with LITERAL- a non-synchronizing literal may carry at most 4096 octets. */
export const LITERAL_MINUS_MAX = 4096;

/**
 * Above this size `auto` sends a synchronizing literal even when LITERAL+ is offered. With a non-synchronizing
 * literal the server cannot refuse early (TRYCREATE, quota, size), so a refusal wastes the whole upload (mbsync
 * commit bac2b00 caps at 100 KiB for that reason). We keep mbsync's 100 KiB: it covers the bulk of real mail by
 * count (median ~4 KB, docs/measurements.md corpus), so only the attachment tail pays one extra round trip, and for a
 * message that large the transfer itself dwarfs one RTT (100 KiB at 100 Mbit/s ≈ 8 ms vs ~0.5 ms LAN RTT). Over a
 * longer path that no longer holds: adaptation raises the limit there (literalPlusMaxForPath below).
 */
export const DEFAULT_PLUS_MAX_BYTES = 100 * 1024;

/**
 * The LITERAL+ limit over a measured path (issue 16, "adapt to the path"). The 100 KiB above rests on a LAN round trip;
 * across the internet it turns over. A synchronizing literal costs one round trip on every message above the limit,
 * refused or not; a non-synchronizing one costs something only when the server refuses the command, and then at most
 * the upload of its bytes. A literal of at most RTT × bandwidth bytes uploads in at most one round trip: below that
 * size a non-synchronizing literal never loses, even when refused. `bytesPerMs` is what the run delivered (bytes the
 * server confirmed per ms of the window looked at): a lower bound of the path's bandwidth, so the limit errs low.
 * Over the 40 ms relay in front of Dovecot (docs/adaptation.md) the 348 messages above 100 KiB in 5000 (20 KB–2 MB)
 * made 3.5 synchronizing literals per MULTIAPPEND of 50: 140 ms of round trips per command against the server's ~25.
 * Never below the default (a short path keeps mbsync's limit) nor above `ceilingBytes` (the caller's byte bound on
 * what it holds in flight). Rounded down to whole KiB so that a report shows a stable number.
 */
export function literalPlusMaxForPath(rttMs: number, bytesPerMs: number, ceilingBytes: number, floorBytes = DEFAULT_PLUS_MAX_BYTES): number {
  if (!(rttMs > 0) || !(bytesPerMs > 0)) return floorBytes;
  const product = Math.floor((rttMs * bytesPerMs) / 1024) * 1024;
  return Math.max(floorBytes, Math.min(Math.floor(ceilingBytes), product));
}

export interface LiteralCapabilities {
  readonly literalPlus: boolean;
  readonly literalMinus: boolean;
}

/** Checks a forced mode against what the server offers; throws a ConfigError naming --literal if impossible. */
export function validateLiteralMode(mode: LiteralMode, caps: LiteralCapabilities): void {
  if (mode === 'plus' && !caps.literalPlus) {
    throw new ConfigError('--literal', 'plus needs the server to advertise LITERAL+; it does not (use auto or sync)');
  }
  if (mode === 'minus' && !caps.literalPlus && !caps.literalMinus) {
    throw new ConfigError('--literal', 'minus needs LITERAL- or LITERAL+ from the server; it offers neither (use auto or sync)');
  }
}

/** Chooses how to announce one literal of `size` bytes. Pure. */
export function chooseLiteral(
  mode: LiteralMode,
  caps: LiteralCapabilities,
  size: number,
  plusMaxBytes = DEFAULT_PLUS_MAX_BYTES,
): LiteralKind {
  switch (mode) {
    case 'sync':
      return 'sync';
    case 'plus':
      // Forced LITERAL+: every literal is non-synchronizing, whatever its size (the user asked for it).
      return caps.literalPlus ? 'nonsync' : 'sync';
    case 'minus':
      // LITERAL- semantics even on a LITERAL+ server: small literals go at once, large ones wait for '+'.
      return (caps.literalPlus || caps.literalMinus) && size <= LITERAL_MINUS_MAX ? 'nonsync' : 'sync';
    case 'auto':
      if (caps.literalPlus) return size <= plusMaxBytes ? 'nonsync' : 'sync';
      if (caps.literalMinus) return size <= LITERAL_MINUS_MAX ? 'nonsync' : 'sync';
      return 'sync';
  }
}
