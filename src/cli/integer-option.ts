import { ConfigError } from '../core/errors.js';

// The one parser for whole-number options (--port, --max-sessions, --connections …). Strict on purpose: only
// decimal digits, so "1e3", "0x10", "3.0", "" and " " are refused instead of read as 1000, 16, 3 or 0 by Number().

/** Parses `value` as a whole number from min to max; a ConfigError names the option otherwise. */
export function parseIntegerOption(option: string, value: string, min: number, max: number): number {
  const v = value.trim();
  const n = Number(v);
  if (!/^\d{1,15}$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(option, `must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** The same for an option that may be absent. */
export function optionalIntegerOption(option: string, value: string | undefined, min: number, max: number): number | undefined {
  return value === undefined ? undefined : parseIntegerOption(option, value, min, max);
}
