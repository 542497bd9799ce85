import diagnosticsChannel from 'node:diagnostics_channel';
import type { TimingRecord } from './timing.js';

/**
 * Every finished command's timing record is also published on this node:diagnostics_channel, so tools outside the
 * call chain (a profiler, an APM agent, a test) can watch the transport without being passed a callback.
 * Publishing costs one `hasSubscribers` check when nobody listens.
 *
 *   import diagnosticsChannel from 'node:diagnostics_channel';
 *   diagnosticsChannel.subscribe(RECORD_CHANNEL, (r) => trace.push(r));
 */
export const RECORD_CHANNEL = 'mailmigrate:transport:command';

const channel = diagnosticsChannel.channel(RECORD_CHANNEL);

export function publishRecord(r: TimingRecord): void {
  if (channel.hasSubscribers) channel.publish(r);
}
