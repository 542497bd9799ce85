#!/usr/bin/env python3
# Runs one benchmark client and records its CPU from wait4(2): user and system seconds of the process, its threads
# (mailmigrate's read workers are threads) and every descendant it waited for — what getrusage(RUSAGE_CHILDREN)
# would give the caller, with microsecond resolution. Node cannot wait4 a child itself, hence this wrapper; its
# own start-up is not counted (only the exec'd child is measured).
#
#   rusage.py OUT_JSON command [args...]
#
# Writes {"user": s, "sys": s, "maxrssKb": n, "status": n} to OUT_JSON and exits with the child's exit code
# (128 + signal number when it was killed). SIGTERM/SIGINT/SIGHUP are passed on to the child.
import json
import os
import signal
import sys


def main() -> int:
    if len(sys.argv) < 3:
        sys.stderr.write("usage: rusage.py OUT_JSON command [args...]\n")
        return 2
    out, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as err:
            sys.stderr.write(f"rusage.py: cannot run {argv[0]}: {err}\n")
        os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        json.dump({"user": ru.ru_utime, "sys": ru.ru_stime, "maxrssKb": ru.ru_maxrss, "status": code}, f)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
