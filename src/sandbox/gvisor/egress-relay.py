# ringfence egress relay, run INSIDE a gVisor sandbox as the sandbox user: listens on the
# sandbox's own loopback and forwards each connection to the session's egress proxy socket.
#
# Usage: python3 -I -S -B egress-relay.py HOST PORT UNIX_SOCKET
# Binds and listens first (so a failure is reported to the exec), prints "listening" and exits;
# a detached child serves every connection from then on (one thread, selectors, backpressure).
#
# It runs with the agent's uid: the agent can kill it, which only cuts its own egress (the
# socket it forwards to is this session's alone and identifies the session, not the caller).
import errno, os, selectors, socket, sys

CHUNK = 256 * 1024
CONNECT_TIMEOUT_S = 10


class Conn:
    """One relayed connection: `a` is the TCP client, `b` the unix socket to the proxy."""

    __slots__ = ("a", "b", "pending", "eof", "closed")

    def __init__(self, a, b):
        self.a, self.b = a, b
        # Per direction (0: a->b, 1: b->a): bytes read but not yet written, and source EOF.
        self.pending = [None, None]
        self.eof = [False, False]
        self.closed = False


sel = selectors.DefaultSelector()


def ends(c, d):
    return (c.a, c.b) if d == 0 else (c.b, c.a)


def close(c):
    if c.closed:
        return
    c.closed = True
    for s in (c.a, c.b):
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()


def update(c):
    """Registers each socket for what it can make progress on (no reading while a write waits)."""
    if c.closed:
        return
    if c.eof[0] and c.eof[1] and c.pending[0] is None and c.pending[1] is None:
        close(c)
        return
    for s, d_src, d_dst in ((c.a, 0, 1), (c.b, 1, 0)):
        mask = 0
        if not c.eof[d_src] and c.pending[d_src] is None:
            mask |= selectors.EVENT_READ
        if c.pending[d_dst] is not None:
            mask |= selectors.EVENT_WRITE
        try:
            key = sel.get_key(s)
        except KeyError:
            key = None
        if mask == 0:
            if key is not None:
                sel.unregister(s)
        elif key is None:
            sel.register(s, mask, c)
        elif key.events != mask:
            sel.modify(s, mask, c)


def flush(c, d):
    _, dst = ends(c, d)
    view = c.pending[d]
    if view is None:
        return
    while view:
        try:
            n = dst.send(view)
        except BlockingIOError:
            c.pending[d] = view
            return
        view = view[n:]
    c.pending[d] = None
    if c.eof[d]:
        dst.shutdown(socket.SHUT_WR)


def on_ready(c, s, events):
    try:
        if events & selectors.EVENT_WRITE:
            flush(c, 1 if s is c.a else 0)
        if events & selectors.EVENT_READ:
            d = 0 if s is c.a else 1
            try:
                data = s.recv(CHUNK)
            except BlockingIOError:
                data = None
            if data:
                c.pending[d] = memoryview(data)
                flush(c, d)
            elif data is not None:
                c.eof[d] = True
                if c.pending[d] is None:
                    ends(c, d)[1].shutdown(socket.SHUT_WR)
    except OSError:
        close(c)
        return
    update(c)


def on_accept(listener, target):
    while True:
        try:
            a, _ = listener.accept()
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno in (errno.ECONNABORTED, errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                return
            raise
        b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            b.settimeout(CONNECT_TIMEOUT_S)
            b.connect(target)
        except OSError:
            a.close()
            b.close()
            continue
        a.setblocking(False)
        b.setblocking(False)
        a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        update(Conn(a, b))


def serve(listener, target):
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    while True:
        for key, events in sel.select():
            if key.data is None:
                on_accept(listener, target)
            else:
                on_ready(key.data, key.fileobj, events)


def main():
    host, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    if os.fork() > 0:
        print("listening on %s:%d" % (host, port), flush=True)
        os._exit(0)
    # Detached: own session, stdio closed so the exec that started it ends now.
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    serve(listener, target)


if __name__ == "__main__":
    main()
