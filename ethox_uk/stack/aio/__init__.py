# asyncio streams over ethox_uk.stack.socket, the same code under MicroPython's
# asyncio and CPython's:
#
#   from ethox_uk.stack import aio
#   async def handle(reader, writer):
#       line = await reader.readline()
#       writer.write(line)
#       await writer.drain()
#       writer.close()
#       await writer.wait_closed()
#   async def serve():
#       await aio.start_server(handle, "0.0.0.0", 7)
#   def main(net):                # the app contract (docs/ARCHITECTURE.md)
#       aio.start(net, serve())   # schedule it; main returns at once
#
# API: start_server(cb, host, port, backlog=5, net=None) -> Server (close, wait_closed,
# async with); open_connection(host, port, net=None) -> (reader, writer)
# (net: which stack, default the one socket.use() set); Stream (=
# StreamReader = StreamWriter, one object for both as in MicroPython) with
# read(n=-1), readinto(buf), readline(), readexactly(n) (EOFError when the
# stream ends first), at_eof(), write(data), drain(), close(), wait_closed(),
# get_extra_info("peername" | "sockname" | "socket"). start(net, coro) runs a
# coroutine as an app task; run(coro) runs one to completion, driving the
# stack (scripts, the REPL, tests); reset() starts over with no tasks (tests).
#
# HOW TASKS RUN (the "pump"): start() adds one poller to the stack
# (net.add_poller). Every Stack.poll round -- the host runner's loop, the
# image's poll hook (so the REPL stays alive), a blocking socket call, run() --
# the pump steps the asyncio scheduler WITHOUT BLOCKING: it wakes the tasks
# whose sockets became ready and runs everything that is ready now, for at
# most MAX_ROUNDS rounds, then flushes the NIC. Waiting is the runner's job:
# it waits on the NIC for min(stack timers incl. this pump's due tasks, 50 ms).
#   MicroPython: tasks wait in asyncio's own IOQueue (select.poll over our
#     sockets, which answer ioctl(MP_STREAM_POLL)); the pump runs the
#     scheduler's loop body itself with a zero poll timeout. If the REPL runs
#     a foreground asyncio.run(), that loop owns the tasks and the pump steps
#     aside (its select.poll waits run the poll hook, which polls the stack;
#     resume() after such a run was interrupted).
#   CPython: asyncio's streams are transport-based, so these Streams wait on
#     futures that the pump resolves when a socket's ioctl says ready; one
#     scheduler step is loop.call_soon(loop.stop); loop.run_forever() on a
#     private event loop.
# Stream sockets have TCP_NODELAY set (as CPython's asyncio does): the writes
# of one pump step already coalesce into full segments (layer/tcp/mux.py: a push
# while the pump runs only asks for a send opportunity in the next round), so
# Nagle would only hold back each response's last partial segment.
# Exceptions: one escaping a start() task propagates out of Stack.poll (the
# runner ends with status 1, sys.exit(n) with n); one escaping a connection
# handler of start_server is printed and that connection closed -- the
#
# The package: pump.py steps the scheduler from Stack.poll (start, run, reset,
# resume); streams.py has Stream and the servers and clients on it; mp.py and
# cpy.py are the one place each interpreter's asyncio internals are touched.
from .pump import Pump, pump, start, run, reset, resume  # noqa: F401
from .streams import (Stream, StreamReader, StreamWriter, Server, start_server,  # noqa: F401
                      open_connection)
