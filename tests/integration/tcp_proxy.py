#!/usr/bin/env python3
"""A TCP forwarder for tests: tcp_proxy.py LISTEN_PORT TARGET_HOST:PORT [DIR].

Every connection to 127.0.0.1:LISTEN_PORT is joined to one to the target
and bytes are copied both ways; with DIR, connection N's bytes are also
written to DIR/N.up (towards the target) and DIR/N.down (back), so a
test can look at what went over the wire, or send it again. Stopping the process (SIGSTOP) freezes
every connection through it, as a link that drops packets does: no
reset, no close, nothing arrives until it goes on (SIGCONT)."""
import selectors
import socket
import sys


def main():
    port = int(sys.argv[1])
    host, tport = sys.argv[2].rsplit(":", 1)
    capture = sys.argv[3] if len(sys.argv) > 3 else None
    files = {}
    nconn = 0
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    peer = {}
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                c, _ = ls.accept()
                try:
                    t = socket.create_connection((host, int(tport)))
                except OSError:
                    c.close()
                    continue
                for x in (c, t):
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(x, selectors.EVENT_READ)
                peer[c], peer[t] = t, c
                if capture:
                    nconn += 1
                    files[c] = open(f"{capture}/{nconn}.up", "wb", 0)
                    files[t] = open(f"{capture}/{nconn}.down", "wb", 0)
                continue
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b""
            other = peer.get(s)
            if data and s in files:
                files[s].write(data)
            if data and other:
                try:
                    other.sendall(data)
                    continue
                except OSError:
                    pass
            for x in (s, other):
                if x is not None and x in peer:
                    sel.unregister(x)
                    x.close()
                    del peer[x]
                    if x in files:
                        files.pop(x).close()


if __name__ == "__main__":
    main()
