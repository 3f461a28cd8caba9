# @NAME@: a TCP server on MicroPython-style asyncio streams, port 7: every line
# received is sent back in capitals.
#
# The app contract: main(net) schedules its coroutine with aio.start(net, coro)
# and RETURNS; the runtime steps asyncio's scheduler on each poll round, so the
# REPL stays usable. `net` is the network stack: net.config holds the address, the
# MAC and the recipe's boot words (net.config.words). The same file runs under
# CPython with `ethox-uk host @DIR@ --net ...`.
#
#   ethox-uk build @DIR@
#   ethox-uk run -d --name @NAME@ -p 7007:7 build/@NAME@.elf
#   echo hello | nc -q1 127.0.0.1 7007       # HELLO
from ethox_uk.stack import aio

PORT = 7


async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break  # the client closed its side
            writer.write(line.upper())
            await writer.drain()
    except (OSError, EOFError):
        pass  # the client went away
    finally:
        writer.close()
        await writer.wait_closed()


async def serve(net, port):
    await aio.start_server(handle, "0.0.0.0", port, net=net)


def main(net):
    aio.start(net, serve(net, int(net.config.words.get("port", PORT))))
