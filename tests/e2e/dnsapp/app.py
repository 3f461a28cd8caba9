# Resolves each name of the boot word names= (AAAA for names starting with "six", else A)
# and prints `resolved NAME ADDR...` or `failed NAME CODE TEXT`, then serves images/echo's
# services. Blocking in main() is fine for a test: the stack already has its DHCP lease.
from ethox_uk.stack import services, socket


def main(net):
    for name in net.config.words.get("names", "").split(","):
        if not name:
            continue
        fam = socket.AF_INET6 if name.startswith("six") else socket.AF_INET
        try:
            ai = socket.getaddrinfo(name, 80, fam)
            print("resolved %s %s" % (name, " ".join([a[4][0] for a in ai])))
        except OSError as e:
            print("failed %s %d %s" % (name, e.args[0], e.args[1] if len(e.args) > 1 else ""))
    services.serve_all(net)
