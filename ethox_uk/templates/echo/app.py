# @NAME@: echo on port 7, UDP (RFC 862, answered in place) and TCP.
#
# The app contract: main(net) sets up its services and RETURNS; the runtime then
# prints the ready line and keeps polling the stack. Never block or loop forever
# here. `net` is the network stack: net.config holds the address, the MAC and the
# recipe's boot words (net.config.words). The same file runs under CPython with
# `ethox-uk host @DIR@ --net ...`.
#
#   ethox-uk build @DIR@
#   ethox-uk run -d --name @NAME@ -p 7007:7 -p 7007:7/udp build/@NAME@.elf
#   echo hi | nc -q1 127.0.0.1 7007          # TCP: hi
#   echo hi | nc -u -w1 127.0.0.1 7007       # UDP: hi
from ethox_uk.stack import services

PORT = 7


# A UDP service of your own: net.udp.bind(port, handler), where
#   handler(view, payload_off, payload_len, src_ip_off, src_port, now)
# reads the payload view[payload_off:payload_off + payload_len] in the NIC's buffer
# (valid during the call only); to answer it writes the reply's payload at
# payload_off and returns its length (None: no answer). services.udp_echo_handler is
# one: it also refuses broadcasts and source ports below 1024, so that a spoofed
# datagram cannot start an echo loop with another server.


def main(net):
    port = int(net.config.words.get("port", PORT))
    services.serve_udp_echo(net, port)
    services.serve_echo(net, port)
