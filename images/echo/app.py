# images/echo: the conformance target (DESIGN §5, "Services").
#
# THE APP CONTRACT (the same file runs in host mode and frozen into the image):
#   The app module defines `main(net)`. `net` is the Stack (ethox_uk/stack/iface.py),
#   already configured: address and MAC in `net.config`, the free boot words
#   (`key=value` from the recipe's cmdline / the kernel command line) in
#   `net.config.words`. main() sets up its services -- UDP bindings
#   (`net.udp.bind(port, handler)`), TCP services (ethox_uk.stack.services),
#   sockets (ethox_uk.stack.socket), asyncio tasks (ethox_uk.stack.aio.start),
#   periodic work (`net.add_poller(fn)`, fn(now_ms) runs once per poll round) --
#   and RETURNS. The runner (`ethox-uk host`, or the image's runtime) then prints
#   the ready line (`net.config.ready_line()`) and keeps polling the stack.
#   Nothing here may block or loop forever; an exception escaping main() ends the
#   run with status 1.
#
# Services: ICMP echo (answered by the stack itself); UDP echo on 7 (RFC 862),
# answered in place with no allocation per datagram; TCP echo 7, discard 9
# (RFC 863), chargen 19 (RFC 864) and HTTP/1.1 on 80 (GET / = counters page,
# GET /bytes/N = N bytes of 0x00..0xff repeated), served from the TCP layer's
# callbacks without sockets (ethox_uk/stack/services.py, http.py). HTTP also
# answers GET /connect/PORT by opening a connection back to the requester's PORT
# (echo on it): the conformance suite's trigger for a simultaneous open.
# Quote of the day on 17 (RFC 865) is on the socket API: the quote, then close().
from ethox_uk.stack import services

ECHO_PORT = 7


def main(net):
    services.serve_all(net, connect_back=True)
