// When has a connection gone silent? Pure, so the rule is unit-tested apart from sockets and timers.
//
// "Silent" means: commands await a reply and, for replyMs, the server answered nothing (no tagged reply, no '+')
// AND our upload made no progress. Untagged responses are not answers: a server sending "* 1 EXISTS" or
// "* OK still here" forever would otherwise hold a command past any deadline (issue 13), so chatter is dropped
// or routed, never counted as progress. Upload progress counts because a large literal on a slow link can take longer than replyMs to leave
// Node's buffer, and the server owes no reply before the last byte (RFC 3501 §2.2.2): without this a 50 MB message
// at 500 KB/s would be declared stalled after 60 s. Progress is seen as Node's unflushed byte count changing between
// two checks, or a write completing. (Bytes already in the kernel's send buffer cannot be watched from Node; the
// kernel buffer is a few MB, which a link drains well within the default 60 s.)

export interface SilenceInput {
  readonly now: number;
  /** The last tagged reply or continuation request; untagged responses do not count. */
  readonly lastAnswerAt: number;
  /** A command started to go out. */
  readonly lastStartAt: number;
  /** A write was handed to the kernel (first or last piece of a command). */
  readonly lastFlushAt: number;
  /** socket.writableLength now. */
  readonly buffered: number;
  /** writableLength at the previous check, and when it last changed. */
  readonly previousBuffered: number;
  readonly bufferedChangedAt: number;
}

export interface SilenceState {
  /** Milliseconds without any sign of life. */
  readonly silentFor: number;
  /** Values to remember for the next check. */
  readonly previousBuffered: number;
  readonly bufferedChangedAt: number;
}

export function silence(i: SilenceInput): SilenceState {
  const changed = i.buffered !== i.previousBuffered;
  const bufferedChangedAt = changed ? i.now : i.bufferedChangedAt;
  // Node's buffer shrinking (or growing with new commands) is progress only while something is buffered or just left.
  const uploadProgress = changed || i.buffered > 0 ? bufferedChangedAt : 0;
  const last = Math.max(i.lastAnswerAt, i.lastStartAt, i.lastFlushAt, uploadProgress);
  return { silentFor: Math.max(0, i.now - last), previousBuffered: i.buffered, bufferedChangedAt };
}
