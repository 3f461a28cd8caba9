# getaddrinfo: numeric addresses and "localhost" without the network, names
# through the stack's DNS resolver (resolver.py, when the image has it). aio
# uses check_port(), numeric() and resolver() for its non-blocking lookups.
from ..compat import ticks_ms
from ..config import parse_ip, format_ip, parse_ip6, format_ip6
from . import (AF_INET, AF_INET6, SOCK_STREAM, EAI_NONAME, EAI_FAIL, EAI_FAMILY,
               EAI_SERVICE, current_stack)


def check_port(port):
    """A port number 0-65535 from an int or a string of digits; OSError(EAI_SERVICE) otherwise."""
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OSError(EAI_SERVICE, "getaddrinfo: port %r is not a number 0-65535" % (port,))
    return port


def numeric(host, port, af, type, proto):
    """getaddrinfo's answer for an address written as one (no network), None
    for a name; OSError(EAI_NONAME) for what is neither."""
    if not isinstance(host, str) or not host:
        raise OSError(EAI_NONAME, "getaddrinfo: %r is neither an address nor a name" % (host,))
    t = type or SOCK_STREAM
    if ":" in host:
        try:
            a = parse_ip6(host.split("%", 1)[0])  # a link-local's %zone: one link here
        except ValueError as e:
            raise OSError(EAI_NONAME, str(e))
        if af == AF_INET:
            raise OSError(EAI_NONAME, "getaddrinfo: %s is an IPv6 address; AF_INET asked"
                          % host)
        return [(AF_INET6, t, proto, "", (format_ip6(a), port))]
    try:
        a = parse_ip(host)
    except ValueError as e:
        last = host.rstrip(".").rsplit(".", 1)[-1]
        if last.isdigit():  # RFC 1123 §2.1: no name ends in a number
            raise OSError(EAI_NONAME, str(e))
        return None
    if af == AF_INET6:
        raise OSError(EAI_NONAME, "getaddrinfo: %s is an IPv4 address; AF_INET6 asked" % host)
    return [(AF_INET, t, proto, "", (format_ip(a), port))]


def resolver(caller="getaddrinfo"):
    """The stack's DNS resolver module; OSError(EAI_FAIL) saying what to do when the
    image was built without it (the recipe's features leave out "dns")."""
    try:
        from .. import resolver as r
    except ImportError:
        raise OSError(EAI_FAIL, "%s: this image has no DNS resolver (its recipe's features "
                      "leave out \"dns\"): add it and rebuild, or use an address" % caller)
    return r


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(family, type, proto, "", (address text, port))], MicroPython's shape
    (2-tuples for IPv6 too). Addresses are taken as they are; "localhost"
    is the loopback address (RFC 6761 §6.3); names are resolved by the
    stack's DNS resolver (resolver.py), blocking and driving the stack: A
    records for AF_INET, AAAA for AF_INET6, A (and AAAA once the stack has
    IPv6) for 0. Errors: OSError(code, text) with code EAI_NONAME (-2),
    EAI_AGAIN (-3), EAI_FAIL (-4), EAI_FAMILY (-6) or EAI_SERVICE (-8)."""
    if af != 0 and af != AF_INET and af != AF_INET6:
        raise OSError(EAI_FAMILY, "getaddrinfo: family %r: use AF_INET, AF_INET6 or 0" % (af,))
    port = check_port(port)
    r = numeric(host, port, af, type, proto)
    if r is not None:
        return r
    t = type or SOCK_STREAM
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        if af == AF_INET6:
            return [(AF_INET6, t, proto, "", ("::1", port))]
        return [(AF_INET, t, proto, "", ("127.0.0.1", port))]
    dns = resolver()
    from ..wire.dns import TYPE_A, TYPE_AAAA

    stack = current_stack()
    kinds = (TYPE_AAAA,) if af == AF_INET6 else (TYPE_A,)
    if af == 0 and getattr(stack, "ip6", None) is not None:
        kinds = (TYPE_A, TYPE_AAAA)
    out = []
    failed = None
    clock = stack.clock if stack.clock is not None else ticks_ms
    for k in kinds:
        q = dns.resolve(stack, host, k, clock, stack.idle)
        if q.error:
            if failed is None or failed.error == EAI_NONAME:
                failed = q
            continue
        for a in q.addrs:
            if k == TYPE_A:
                out.append((AF_INET, t, proto, "", (format_ip(a), port)))
            else:
                out.append((AF_INET6, t, proto, "", (format_ip6(a), port)))
    if not out:
        failed.raise_error()
    return out

