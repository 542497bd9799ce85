// Exit codes (issue 4): 0 = every message is on the server (appended now or before); 2 = finished, some
// messages failed (listed); 1 = could not run (bad options, connection or login failed). Pure, so it is tested
// apart from the process.
export const EXIT_OK = 0;
export const EXIT_CANNOT_RUN = 1;
export const EXIT_PARTIAL = 2;
/** 128 + SIGINT, the shell convention, when the user interrupted before the end. */
export const EXIT_INTERRUPTED = 130;

export function importExitCode(r: { failed: number; aborted: boolean }): number {
  if (r.aborted) return EXIT_INTERRUPTED;
  return r.failed > 0 ? EXIT_PARTIAL : EXIT_OK;
}
