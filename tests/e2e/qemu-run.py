#!/usr/bin/env python3
"""Boot a QEMU command, log its serial console with host timestamps, and stop it when the
guest prints the end marker or when the time is up.

usage: qemu-run.py LOG TIMEOUT_S END_REGEX -- qemu-system-x86_64 ARGS...
Exit status: 0 end marker seen; 1 timeout; 2 QEMU exited before the marker. On 1 and 2 the last
console lines are printed to stderr, so a hung boot says where it hung."""
import collections
import os
import re
import selectors
import signal
import subprocess
import sys
import time


def main():
    log_path, timeout, end = sys.argv[1], float(sys.argv[2]), re.compile(sys.argv[3])
    cmd = sys.argv[sys.argv.index('--') + 1:]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def on_signal(signum, frame):
        proc.kill()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    os.set_blocking(proc.stdout.fileno(), False)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    tail = collections.deque(maxlen=60)
    pending = b''
    status = None
    with open(log_path, 'w') as log:
        log.write('# %s\n' % ' '.join(cmd))
        while status is None:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                log.write('[%8.2f] HARNESS: timeout after %.0f s\n' % (timeout, timeout))
                status = 1
                break
            chunk = b''
            if sel.select(timeout=min(left, 0.5)):
                try:
                    chunk = proc.stdout.read() or b''
                except BlockingIOError:
                    chunk = b''
            if not chunk and proc.poll() is not None:
                log.write('[%8.2f] HARNESS: QEMU exited (%d) before the end marker\n'
                          % (time.monotonic() - start, proc.returncode))
                status = 2
                break
            pending += chunk
            while b'\n' in pending:
                raw, pending = pending.split(b'\n', 1)
                line = raw.decode(errors='replace').rstrip('\r')
                log.write('[%8.2f] %s\n' % (time.monotonic() - start, line))
                tail.append(line)
                if end.search(line):
                    status = 0
            log.flush()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if status:
        sys.stderr.write('e2e: %s; the console\'s last lines:\n' %
                         ('timed out' if status == 1 else 'QEMU exited early'))
        for line in tail:
            sys.stderr.write('  | %s\n' % line)
    return status


if __name__ == '__main__':
    sys.exit(main())
