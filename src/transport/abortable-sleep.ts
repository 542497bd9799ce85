// A sleep that SIGINT can cut short: every wait the pool makes on the server's behalf (a backoff, a reconnect delay)
// goes through it, so an interrupted run stops at once instead of sleeping out a throttle of minutes (issue 13).

/** Sleeps ms; resolves false at once (and early) when the signal aborts, true when the time passed. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
