#!/usr/bin/env python3
# Drive a real pvring-stored over the xenstore wire protocol: N guests each fill their quotas
# (4000-byte values until ENOSPC) and hold every transaction they may open, each with a write
# in it; then they leave. Prints one line per N: "N IDLE_KIB FULL_KIB AFTER_KIB VALUES TXNS".
#
#   store_memory.py PVRING_STORED N...
import os
import socket
import struct
import subprocess
import sys
import tempfile

XS_TRANSACTION_START, XS_INTRODUCE, XS_RELEASE = 6, 8, 9
XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS, XS_ERROR = 11, 12, 13, 14, 16


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS')


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.req_id = 0

    def recv_exact(self, n):
        data = b''
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            if not more:
                raise RuntimeError('store closed the connection')
            data += more
        return data

    def call(self, msg_type, payload, tx=0):
        self.req_id += 1
        self.sock.sendall(struct.pack('<IIII', msg_type, self.req_id, tx, len(payload)) + payload)
        rtype, _, _, length = struct.unpack('<IIII', self.recv_exact(16))
        body = self.recv_exact(length)
        return rtype, body.rstrip(b'\0')

    def ok(self, msg_type, payload, tx=0):
        rtype, body = self.call(msg_type, payload, tx)
        if rtype == XS_ERROR:
            raise RuntimeError('store refused type %d: %s' % (msg_type, body.decode()))
        return body


def run(stored, n):
    rundir = tempfile.mkdtemp(prefix='/tmp/pvring-storemem-')
    # Ready when it says so on --ready-fd: its socket file exists a moment before it listens.
    ready_r, ready_w = os.pipe()
    proc = subprocess.Popen([stored, '--rundir', rundir, '--log-level', 'err',
                             '--ready-fd', str(ready_w)], pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        with os.fdopen(ready_r, 'rb') as ready:
            said = ready.read(6)
        if said != b'ready\n':
            raise RuntimeError('pvring-stored did not start (it said %r)' % said)
        dom0 = Conn(rundir + '/socket')
        idle = rss_kib(proc.pid)
        guests, values, txns = [], 0, 0
        for domid in range(1, n + 1):
            home = b'/local/domain/%d' % domid
            dom0.ok(XS_MKDIR, home + b'\0')
            dom0.ok(XS_SET_PERMS, home + b'\0n%d\0' % domid)
            dom0.ok(XS_INTRODUCE, b'%d\0000\0000\0' % domid)
            guest = Conn('%s/domain/%d/socket' % (rundir, domid))
            values = 0
            while True:
                rtype, body = guest.call(XS_WRITE, home + b'/v%d\0' % values + b'x' * 4000)
                if rtype == XS_ERROR:
                    assert body == b'ENOSPC', body
                    break
                values += 1
            txns = 0
            while True:
                rtype, body = guest.call(XS_TRANSACTION_START, b'\0')
                if rtype == XS_ERROR:
                    assert body == b'ENOSPC', body
                    break
                guest.ok(XS_WRITE, home + b'/t\0y', int(body))
                txns += 1
            guests.append(guest)
        full = rss_kib(proc.pid)
        for domid, guest in enumerate(guests, 1):
            guest.sock.close()
            dom0.ok(XS_RM, b'/local/domain/%d\0' % domid)
            dom0.ok(XS_RELEASE, b'%d\0' % domid)
        # A request answered after the releases: the store has seen them.
        dom0.ok(XS_MKDIR, b'/sync\0')
        after = rss_kib(proc.pid)
        print(n, idle, full, after, values, txns)
    finally:
        proc.terminate()
        proc.wait()


for count in sys.argv[2:]:
    run(sys.argv[1], int(count))
