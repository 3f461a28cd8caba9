# ethox_uk.stack.aio: asyncio streams over our sockets, the same tests under
# CPython's asyncio and MicroPython's. Two stacks on a NIC pair (A 10.0.2.15
# client, B 10.0.2.2 server), simulated ms clock; every Stack.poll steps the
# scheduler (the pump), aio.run() drives A while idle polls both.

import support
from support import counters_are
from ethox_uk.stack import socket, aio, http

import asyncio

B_ADDR = "10.0.2.2"


def _net():
    aio.reset()
    return support.socket_net()


async def _echo(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def _serve(B, cb, port=7):
    holder = []

    async def serve():
        holder.append(await aio.start_server(cb, "0.0.0.0", port, net=B))

    aio.start(B, serve())
    B.poll(socket.current_stack().clock())
    assert holder, "the server did not start"
    return holder[0]


def test_the_private_asyncio_names_the_pump_uses_exist():
    # the pump steps asyncio from Stack.poll through one adapter per interpreter that
    # uses asyncio's private internals (aio/mp.py, aio/cpy.py): an asyncio update that
    # renames one of them must fail here, not silently stop the app's tasks
    if support.MICROPYTHON:
        from ethox_uk.stack.aio import mp as aio_mp

        assert aio_mp.missing() == [], aio_mp.missing()
    else:
        from ethox_uk.stack.aio import cpy as aio_cpy

        loop = asyncio.new_event_loop()
        try:
            assert aio_cpy.missing(loop) == [], aio_cpy.missing(loop)
            assert aio_cpy.due_in_ms(loop) == -1 and not aio_cpy.due(loop)
            loop.call_later(5.0, lambda: None)
            assert 4000 <= aio_cpy.due_in_ms(loop) <= 5001
            loop.call_soon(lambda: None)
            assert aio_cpy.due(loop) and aio_cpy.due_in_ms(loop) == 0
        finally:
            loop.close()


def test_echo_lines_read_and_close():
    A, B, clock = _net()
    _serve(B, _echo)

    async def client():
        r, w = await aio.open_connection(B_ADDR, 7, net=A)
        assert w.get_extra_info("peername") == (B_ADDR, 7)
        w.write(b"hello\n")
        w.write(b"second line\nthird")
        await w.drain()
        a = await r.readline()
        b = await r.readline()
        w.write(b" part\n")
        await w.drain()
        c = await r.readexactly(4)
        d = await r.read(100)
        w.close()
        await w.wait_closed()
        return a, b, c, d

    a, b, c, d = aio.run(client(), A, timeout_ms=5000)
    assert (a, b, c) == (b"hello\n", b"second line\n", b"thir")
    assert d == b"d part\n"
    counters_are(A)
    counters_are(B)


def test_bulk_both_ways_concurrently():
    A, B, clock = _net()

    async def upper(reader, writer):
        while True:
            d = await reader.read(4096)
            if not d:
                break
            writer.write(d)
            await writer.drain()
        writer.close()

    _serve(B, upper, 9000)
    data = bytes([(i * 13) & 255 for i in range(200000)])

    async def client():
        r, w = await aio.open_connection(B_ADDR, 9000, net=A)

        async def send():
            for i in range(0, len(data), 7000):
                w.write(data[i:i + 7000])
                await w.drain()
            w.s.shutdown(socket.SHUT_WR)

        t = asyncio.create_task(send())
        got = await r.read()  # to the end of the stream
        await t
        w.close()
        return got

    got = aio.run(client(), A, timeout_ms=60000)
    assert got == data
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


def test_readexactly_eof_and_at_eof():
    A, B, clock = _net()

    async def short(reader, writer):
        writer.write(b"abc")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    _serve(B, short, 9001)

    async def client():
        r, w = await aio.open_connection(B_ADDR, 9001, net=A)
        try:
            await r.readexactly(10)
        except EOFError as e:
            msg = str(e)
        else:
            msg = None
        eof = r.at_eof()
        w.close()
        return msg, eof

    msg, eof = aio.run(client(), A, timeout_ms=5000)
    assert msg is not None and "7 bytes short of 10" in msg and eof


def test_refused_connection():
    A, B, clock = _net()
    B.tcp_mux()  # B has TCP (RST for closed ports)

    async def client():
        try:
            await aio.open_connection(B_ADDR, 81, net=A)
        except OSError as e:
            return e.args[0]

    assert aio.run(client(), A, timeout_ms=5000) == socket.ECONNREFUSED
    counters_are(B, tcp_no_listener=1)


def test_handler_exception_ends_only_its_connection():
    A, B, clock = _net()

    async def bad(reader, writer):
        line = await reader.readline()
        if line == b"boom\n":
            raise ValueError("handler bug (expected by the test)")
        writer.write(b"fine\n")
        await writer.drain()
        writer.close()

    _serve(B, bad, 9002)

    async def client(msg):
        r, w = await aio.open_connection(B_ADDR, 9002, net=A)
        w.write(msg)
        await w.drain()
        got = await r.read()
        w.close()
        return got

    assert aio.run(client(b"boom\n"), A, timeout_ms=5000) in (b"",)
    assert aio.pump().errors == 1
    assert aio.run(client(b"ok\n"), A, timeout_ms=5000) == b"fine\n"


def test_app_task_exception_propagates_from_poll():
    A, B, clock = _net()

    async def broken():
        await asyncio.sleep(0)
        raise RuntimeError("app failure (expected by the test)")

    aio.start(A, broken())
    e = None
    for t in range(5):
        try:
            A.poll(t)
        except RuntimeError as x:
            e = x
            break
    assert e is not None and "app failure" in str(e)
    A.poll(10)  # reported once; the stack goes on


def test_server_close_refuses_new_connections():
    A, B, clock = _net()
    srv = _serve(B, _echo, 9003)

    async def closer():
        srv.close()
        await srv.wait_closed()

    aio.run(closer(), B, timeout_ms=5000)

    async def client():
        try:
            await aio.open_connection(B_ADDR, 9003, net=A)
        except OSError as e:
            return e.args[0]

    assert aio.run(client(), A, timeout_ms=5000) == socket.ECONNREFUSED


def test_next_timeout_reports_sleeping_and_ready_tasks():
    A, B, clock = _net()
    p = aio.pump()
    assert p.next_timeout() == -1
    box = []

    async def sleeper():
        await asyncio.sleep(0.2)
        box.append(1)

    aio.start(A, sleeper())
    assert p.next_timeout() == 0  # spawned: ready to run
    A.poll(0)
    t = p.next_timeout()
    assert 100 <= t <= 201, t
    assert aio.run(asyncio.sleep(0.25), A, timeout_ms=100000) is None
    assert box == [1]


def test_main_returning_nothing_and_run_returns_values():
    A, B, clock = _net()

    async def val():
        return 42

    assert aio.run(val(), A) == 42

    async def err():
        raise KeyError("x")

    support.raises(KeyError, aio.run, err(), A)


def _fetch(A, raw, until):
    async def client():
        r, w = await aio.open_connection(B_ADDR, 80, net=A)
        w.write(raw)
        await w.drain()
        out = b""
        while not until(out):
            d = await r.read(65536)
            if not d:
                break
            out += d
        w.close()
        return out

    return aio.run(client(), A, timeout_ms=60000)


def test_http_app_on_streams():
    A, B, clock = _net()
    app = support.http_app()
    app.main(B)  # schedules the server; returns at once
    for t in range(3):
        B.poll(t)
    out = _fetch(A, b"GET /bytes/40000 HTTP/1.1\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n"
                    b"GET /nope HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
                 lambda o: o.endswith(b"try / or /bytes/N\n"))
    i = out.find(b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 40000\r\n" in out[:i + 2]
    assert out[i + 4:i + 4 + 40000] == http.pattern_bytes(0, 40000)
    rest = out[i + 4 + 40000:]
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    j = rest.find(b"</html>\n")
    page = http.parse_page(rest[:j + 8])
    assert page["internal_error"] == 0 and page["tcp_rx"] > 0
    assert rest[j + 8:].startswith(b"HTTP/1.1 404 Not Found\r\n")
    out = _fetch(A, b"GET / HTTP/1.1\r\n\r\n", lambda o: False)  # no Host: 400, closed
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in out
    out = _fetch(A, b"GET /bytes/" + b"9" * 20 + b" HTTP/1.0\r\n\r\n", lambda o: False)
    assert out.startswith(b"HTTP/1.1 400 ") and b"64 MiB" in out
    out = _fetch(A, b"GET / HTTP/1.1\r\nHost: b\r\nX: " + b"y" * 9000 + b"\r\n\r\n", lambda o: False)
    assert out.startswith(b"HTTP/1.1 431 ")
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


class _Taker:
    """A socket stand-in taking at most 1000 bytes a write."""

    def __init__(self):
        self.got = bytearray()
        self.calls = 0
        self.views = 0

    def write(self, data):
        self.calls += 1
        if isinstance(data, memoryview):
            self.views += 1
        k = len(data) if len(data) < 1000 else 1000
        self.got += data[:k]
        return k


def test_drain_hands_the_rest_over_as_a_view():
    # the rest of a partly written buffer was sliced (copied) on every partial
    # write: 16 MiB through a 64 KiB ring copied ~2 GiB
    payload = bytes([i & 255 for i in range(100000)])
    sock = _Taker()
    st = aio.Stream(sock)
    st.out.append(payload)
    st.out.append(b"tail")
    asyncio.run(st.drain())
    assert bytes(sock.got) == payload + b"tail" and st.out == []
    assert sock.calls == 101 and sock.views == 99  # the first and the tail whole
