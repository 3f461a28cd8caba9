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


def on_datagram(view, payload_off, payload_len, src_ip_off, src_port, now):
    # The payload is view[payload_off:payload_off + payload_len], in the NIC's
    # buffer (valid during this call only). To answer, write the reply's payload at
    # payload_off and return its length; None sends nothing. Echo: it is already there.
    return payload_len


def main(net):
    port = int(net.config.words.get("port", PORT))
    net.udp.bind(port, on_datagram)
    services.serve_echo(net, port)
