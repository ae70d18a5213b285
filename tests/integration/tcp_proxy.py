#!/usr/bin/env python3
"""A TCP forwarder for tests: tcp_proxy.py LISTEN_PORT TARGET_HOST:PORT.

Every connection to 127.0.0.1:LISTEN_PORT is joined to one to the target
and bytes are copied both ways. Stopping the process (SIGSTOP) freezes
every connection through it, as a link that drops packets does: no
reset, no close, nothing arrives until it goes on (SIGCONT)."""
import selectors
import socket
import sys


def main():
    port = int(sys.argv[1])
    host, tport = sys.argv[2].rsplit(":", 1)
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
                continue
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b""
            other = peer.get(s)
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


if __name__ == "__main__":
    main()
