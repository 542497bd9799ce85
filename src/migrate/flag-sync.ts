// The cutover pass (issue 11): the classic two-pass migration copies the bulk days before and runs again at cutover.
// Flags changed in the source in between (read, flagged, answered, keywords) must reach the server, without
// undoing what the user already changed on the server.
//
// Modes (--sync-flags):
//   changed (default) — add and remove only what changed in the source since the flags this tool last stored (the
//                       journal keeps them). With no record of them (a fresh journal), only add the source's flags
//                       the server lacks: never remove a flag we did not set.
//   mirror            — the server's flags become the source's (except \Recent, which no client can set).
//   off               — never touch flags of messages already on the server.
// IMAP flags and keywords compare case-insensitively (RFC 3501 §2.3.2; Dovecot and Cyrus store them so).

export type SyncFlagsMode = 'changed' | 'mirror' | 'off';
export const SYNC_FLAGS_MODES: readonly SyncFlagsMode[] = ['changed', 'mirror', 'off'];

export interface FlagDelta {
  readonly add: string[];
  readonly remove: string[];
}

const UNSETTABLE = new Set(['\\recent']);

/**
 * What to change on the server. `lastStored`: the flags the journal says this tool stored (undefined: unknown);
 * `server`: the flags the server has now (undefined: not fetched).
 */
export function flagDelta(
  mode: SyncFlagsMode,
  source: readonly string[],
  lastStored: readonly string[] | undefined,
  server: readonly string[] | undefined,
): FlagDelta {
  if (mode === 'off') return { add: [], remove: [] };
  const src = lowerMap(source);
  const onServer = server ? lowerMap(server) : undefined;
  if (mode === 'mirror') {
    if (!onServer) throw new Error('flagDelta: mirror needs the server flags');
    return {
      add: [...src].filter(([k]) => !onServer.has(k)).map(([, v]) => v),
      remove: [...onServer].filter(([k]) => !src.has(k) && !UNSETTABLE.has(k)).map(([, v]) => v),
    };
  }
  if (lastStored === undefined) {
    return { add: onServer ? [...src].filter(([k]) => !onServer.has(k)).map(([, v]) => v) : [], remove: [] };
  }
  const last = lowerMap(lastStored);
  let add = [...src].filter(([k]) => !last.has(k));
  let remove = [...last].filter(([k]) => !src.has(k));
  if (onServer) {
    // Nothing to do for what the server already agrees with.
    add = add.filter(([k]) => !onServer.has(k));
    remove = remove.filter(([k]) => onServer.has(k));
  }
  return { add: add.map(([, v]) => v), remove: remove.map(([, v]) => v) };
}

export function isEmptyDelta(d: FlagDelta): boolean {
  return d.add.length === 0 && d.remove.length === 0;
}

/** The flags a message has after the delta was applied to `before`. */
export function applyDelta(before: readonly string[], d: FlagDelta): string[] {
  const out = lowerMap(before);
  for (const f of d.remove) out.delete(f.toLowerCase());
  for (const f of d.add) out.set(f.toLowerCase(), f);
  return [...out.values()].filter((f) => !UNSETTABLE.has(f.toLowerCase()));
}

/** Messages grouped by identical change, so each group is one UID STORE per direction. */
export class FlagUpdates {
  readonly #groups = new Map<string, { delta: FlagDelta; uids: number[] }>();
  #count = 0;

  add(uid: number, delta: FlagDelta): void {
    const key = JSON.stringify([[...delta.add].sort(), [...delta.remove].sort()]);
    let g = this.#groups.get(key);
    if (!g) this.#groups.set(key, (g = { delta, uids: [] }));
    g.uids.push(uid);
    this.#count++;
  }

  get size(): number {
    return this.#count;
  }

  /** Drops a change not sent yet for `uid` (it was queued for a source message that turned out not to be that
   *  server message); true when there was one. */
  forget(uid: number): boolean {
    for (const [key, g] of this.#groups) {
      const i = g.uids.indexOf(uid);
      if (i < 0) continue;
      g.uids.splice(i, 1);
      if (g.uids.length === 0) this.#groups.delete(key);
      this.#count--;
      return true;
    }
    return false;
  }

  /** Takes every group out (the caller sends them). */
  drain(): Array<{ delta: FlagDelta; uids: number[] }> {
    const out = [...this.#groups.values()];
    this.#groups.clear();
    this.#count = 0;
    return out;
  }
}

function lowerMap(flags: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of flags) m.set(f.toLowerCase(), f);
  return m;
}
