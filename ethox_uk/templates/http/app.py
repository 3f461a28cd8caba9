# @NAME@: an HTTP/1.1 server on port 80.
#
# The app contract: main(net) sets up its services and RETURNS; the runtime then
# prints the ready line and keeps polling the stack. Never block or loop forever
# here. `net` is the network stack: net.config holds the address, the MAC and the
# recipe's boot words (net.config.words). The same file runs under CPython with
# `ethox-uk host @DIR@ --net ...`.
#
#   ethox-uk build @DIR@
#   ethox-uk run -d --name @NAME@ -p 8080:80 build/@NAME@.elf
#   curl localhost:8080                # the page below
#   curl localhost:8080/bytes/100      # 100 bytes of the pattern 0x00 0x01 ...
#
# Change GREETING and try it without rebuilding (from this folder):
#   mpremote connect $(ethox-uk ps --format '{pty}' @NAME@) resume mount . exec 'reload()'
from ethox_uk.stack import services

GREETING = "Hello from @NAME@!"
PORT = 80


def page():
    # called for each GET /: returns the body (HEAD, keep-alive and errors are handled)
    return b"<!DOCTYPE html>\n<title>@NAME@</title>\n<p>%s</p>\n" % GREETING.encode()


def main(net):
    port = int(net.config.words.get("port", PORT))
    services.serve_http(net, port, page=page)
