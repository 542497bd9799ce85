#!/usr/bin/env python3
# (Not named imaplib.py: a script of that name would shadow the standard library module it imports.)
"""Peer client for `npm run bench:peers`: the classic Python imaplib import loop.

    python-imaplib.py HOST PORT USER MAILDIR [--nodelay]      (password in MM_BENCH_PASSWORD)

One append('INBOX', None, None, data) per file, in name order, exactly as scripts found in the wild do it. imaplib
sends the command line, waits for the '+' continuation, then writes the literal and the CRLF as separate writes
with Nagle on (shared/docs/measurements.md "Write modes: split"). --nodelay sets TCP_NODELAY on the socket after connecting,
the fix suggested in the original report. Prints one JSON line: {"appended": n, "bytes": b, "seconds": s}, the
seconds covering login through logout.
"""
import json
import os
import socket
import sys
import time
import imaplib


def main() -> int:
    host, port, user, maildir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    nodelay = '--nodelay' in sys.argv[5:]
    password = os.environ['MM_BENCH_PASSWORD']
    files = []
    for sub in ('cur', 'new'):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            files.extend(os.path.join(d, n) for n in sorted(os.listdir(d)))
    t0 = time.monotonic()
    m = imaplib.IMAP4(host, port)
    if nodelay:
        m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    m.login(user, password)
    appended = 0
    nbytes = 0
    for path in files:
        with open(path, 'rb') as f:
            data = f.read()
        typ, _ = m.append('INBOX', None, None, data)
        if typ != 'OK':
            print(json.dumps({'error': f'APPEND {path}: {typ}'}))
            return 1
        appended += 1
        nbytes += len(data)
    m.logout()
    print(json.dumps({'appended': appended, 'bytes': nbytes, 'seconds': time.monotonic() - t0}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
