"""The echo recipe's services on the Linux kernel's own sockets (HOST-ONLY, CPython), so the
suite can check the kernel's stack exactly as it checks ours (`conformance --linux` runs this
inside a private namespace):

    python -m ethox_uk.conformance.linux_services [--ip 10.0.2.15/24] [--mac MAC]

UDP and TCP echo 7 (RFC 862), TCP discard 9 (RFC 863), chargen 19 (RFC 864's 72-character
lines), HTTP/1.1 on 80: GET /bytes/N (N bytes of 0x00..0xff) and GET /connect/PORT (open a
connection back to the requester's PORT and echo on it: the simultaneous-open trigger).
Sockets keep Linux's defaults (no SO_OOBINLINE, Nagle on, no extra options): what is
checked is the kernel as an application meets it. Prints the ethox-uk ready line once every
listener is bound; stops on SIGTERM/SIGINT. One thread per connection: the suite opens a
few at a time, and each ends when its peer goes away.
"""

import argparse
import signal
import socket
import sys
import threading

MAX_BYTES = 64 << 20
CHARGEN_LINES = 95


def chargen_period():
    """RFC 864: line k is 72 printable characters starting at the k-th one, then CR LF."""
    chars = bytes(range(32, 127))
    return b"".join((chars * 2)[k:k + 72] + b"\r\n" for k in range(CHARGEN_LINES))


def pattern(n):
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def _daemon(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


def _quietly(fn):
    def run(*args):
        try:
            fn(*args)
        except OSError:
            pass  # the suite resets connections on purpose
        finally:
            for a in args:
                if isinstance(a, socket.socket):
                    a.close()
    return run


@_quietly
def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            conn.shutdown(socket.SHUT_WR)  # echo what came, then our FIN
            return
        conn.sendall(data)


@_quietly
def discard(conn):
    while conn.recv(65536):
        pass


@_quietly
def chargen(conn):
    period = chargen_period()
    conn.setblocking(False)
    import select

    while True:
        r, w, _ = select.select([conn], [conn], [], 5.0)
        if r and not conn.recv(65536):
            conn.shutdown(socket.SHUT_WR)  # the peer's FIN ends the stream
            return
        if w:
            try:
                conn.send(period)
            except BlockingIOError:
                pass


def _read_head(conn, buf):
    while b"\r\n\r\n" not in buf:
        data = conn.recv(8192)
        if not data:
            return None, buf
        buf += data
        if len(buf) > 16384:
            return None, buf
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _response(status, body, close, ctype=b"application/octet-stream"):
    return (b"HTTP/1.1 %d %s\r\nServer: linux-services\r\nContent-Type: %s\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (status, b"OK" if status == 200 else b"Error",
                                              ctype, len(body),
                                              b"Connection: close\r\n" if close else b"")
            + body)


@_quietly
def http(conn):
    peer_ip = conn.getpeername()[0]
    buf = b""
    while True:
        head, buf = _read_head(conn, buf)
        if head is None:
            conn.shutdown(socket.SHUT_WR)
            return
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        close = any(l.lower().replace(b" ", b"") == b"connection:close" for l in lines[1:])
        path = parts[1] if len(parts) == 3 else b""
        if path.startswith(b"/bytes/") and path[7:].isdigit() and int(path[7:]) <= MAX_BYTES:
            conn.sendall(_response(200, pattern(int(path[7:])), close))
        elif path.startswith(b"/connect/") and path[9:].isdigit() \
                and 0 < int(path[9:]) < 65536:
            port = int(path[9:])
            conn.sendall(_response(200, b"connecting to %s:%d\n" % (peer_ip.encode(), port),
                                   close, b"text/plain"))
            _daemon(connect_back, peer_ip, port)
        else:
            conn.sendall(_response(404, b"try /bytes/N or /connect/PORT\n", close,
                                   b"text/plain"))
        if close:
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
            return


def connect_back(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((ip, port))
    except OSError:
        s.close()
        return
    s.settimeout(None)
    echo(s)


def _serve_tcp(port, handler, backlog=64):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(backlog)

    def accept_loop():
        while True:
            conn, _ = ls.accept()
            _daemon(handler, conn)

    _daemon(accept_loop)
    return ls


def _serve_udp_echo(port=7):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))

    def loop():
        while True:
            data, addr = s.recvfrom(65535)
            try:
                s.sendto(data, addr)
            except OSError:
                pass

    _daemon(loop)
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ethox_uk.conformance.linux_services")
    ap.add_argument("--ip", default="10.0.2.15/24", help="the address to print (A.B.C.D/P)")
    ap.add_argument("--mac", default="52:54:00:12:34:56", help="the MAC to print")
    a = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        keep = [_serve_udp_echo(7), _serve_tcp(7, echo), _serve_tcp(9, discard),
                _serve_tcp(19, chargen), _serve_tcp(80, http)]
    except OSError as e:
        print("linux-services: cannot listen: %s (run inside a namespace as root)" % e,
              file=sys.stderr)
        return 2
    print("ethox-uk: ready ip=%s mac=%s" % (a.ip.split("/")[0], a.mac.lower()), flush=True)
    stop.wait()
    del keep
    return 0


if __name__ == "__main__":
    sys.exit(main())
