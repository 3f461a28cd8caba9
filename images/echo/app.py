# images/echo: the conformance target (DESIGN §5, "Services").
#
# THE APP CONTRACT (the same file runs in host mode and frozen into the image):
#   The app module defines `main(net)`. `net` is the Stack (ethox_uk/stack/iface.py),
#   already configured: address and MAC in `net.config`, the free boot words
#   (`key=value` from the recipe's cmdline / the kernel command line) in
#   `net.config.words`. main() sets up its services -- UDP bindings
#   (`net.udp.bind(port, handler)`), sockets (ethox_uk.stack.socket), periodic
#   work (`net.add_poller(fn)`, fn(now_ms) runs once per poll round) -- and
#   RETURNS. The runner (`ethox-uk host`, or the image's runtime) then prints the
#   ready line (`net.config.ready_line()`) and keeps polling the stack. Nothing
#   here may block or loop forever; an exception escaping main() ends the run
#   with status 1.
#
# Services: ICMP echo (answered by the stack itself) and UDP echo on port 7
# (RFC 862), answered in place with no allocation per datagram.
# TCP echo (7), discard (9), chargen (19) and HTTP (80) arrive with the TCP issue.

ECHO_PORT = 7


def udp_echo(view, payload_off, payload_len, src_ip_off, src_port, now):
    # The payload already sits where the reply's goes: answer with the same bytes.
    return payload_len


def main(net):
    net.udp.bind(ECHO_PORT, udp_echo)
