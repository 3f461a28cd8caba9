"""Published ports of `--net user`: `-p/--publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]`.

    p = parse_publish("8080:80")          # Publish(127.0.0.1, 8080, 80, "tcp")
    p.hostfwd("10.0.2.15")                # "tcp:127.0.0.1:8080-10.0.2.15:80" (QEMU's hostfwd)
    check_free([p, ...])                  # ValueError naming a taken port, before QEMU starts

HOSTIP defaults to 127.0.0.1: a published port is reachable from this machine only unless
the user names another local address. QEMU's user-mode network (slirp) listens on the host
side and forwards each connection (or datagram) to the guest; with `restrict=on` the guest
itself reaches nothing outside.
"""

import errno
import socket

from .stack.config import parse_ip

DEFAULT_HOST_IP = "127.0.0.1"
PROTOS = ("tcp", "udp")
EXAMPLE = "-p 8080:80 or -p 127.0.0.1:5353:53/udp"


class Publish:
    def __init__(self, host_ip, host_port, guest_port, proto="tcp", text=None):
        self.host_ip = host_ip
        self.host_port = host_port
        self.guest_port = guest_port
        self.proto = proto
        self.text = text  # as the user wrote it (for messages)

    def hostfwd(self, guest_ip):
        return "%s:%s:%d-%s:%d" % (self.proto, self.host_ip, self.host_port, guest_ip,
                                    self.guest_port)

    def key(self):
        return (self.proto, self.host_ip, self.host_port)

    def as_dict(self):
        return {"host_ip": self.host_ip, "host_port": self.host_port,
                "guest_port": self.guest_port, "proto": self.proto}

    @classmethod
    def from_dict(cls, d):
        return cls(d["host_ip"], d["host_port"], d["guest_port"], d["proto"])

    def __str__(self):
        """As `ps` shows it, e.g. 127.0.0.1:8080->80/tcp."""
        return "%s:%d->%d/%s" % (self.host_ip, self.host_port, self.guest_port, self.proto)

    def given(self):
        return self.text or "%s:%d:%d/%s" % (self.host_ip, self.host_port, self.guest_port,
                                             self.proto)

    def __repr__(self):
        return "Publish(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, Publish) and self.as_dict() == other.as_dict()

    def __hash__(self):
        return hash(self.key())


def _port(text, what, spec):
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("%r: %s %r is not a port number 1-65535 (e.g. %s)"
                         % (spec, what, text, EXAMPLE))
    return int(text)


def parse_publish(spec):
    """One -p value -> Publish; ValueError saying what to write."""
    text = spec.strip()
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
        proto = proto.lower()
        if proto not in PROTOS:
            raise ValueError("%r: protocol %r: expected /tcp or /udp (e.g. %s)"
                             % (spec, proto, EXAMPLE))
    parts = text.split(":")
    if len(parts) == 2:
        host_ip, host, guest = DEFAULT_HOST_IP, parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host, guest = parts
        try:
            parse_ip(host_ip)
        except ValueError:
            raise ValueError("%r: HOSTIP %r is not an IPv4 address (e.g. 127.0.0.1)"
                             % (spec, host_ip)) from None
    else:
        raise ValueError("%r: expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp] (e.g. %s)"
                         % (spec, EXAMPLE))
    return Publish(host_ip, _port(host, "HOSTPORT", spec), _port(guest, "GUESTPORT", spec),
                   proto, text=spec.strip())


def check_unique(publishes):
    seen = {}
    for p in publishes:
        if p.key() in seen:
            raise ValueError("-p %s and -p %s both take %s port %s:%d: give each its own "
                             "host port" % (seen[p.key()].given(), p.given(), p.proto.upper(),
                                            p.host_ip, p.host_port))
        seen[p.key()] = p


def port_taken(p):
    """None if p's host port can be bound now, else why not (a few words)."""
    kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # as slirp binds it: a listener elsewhere still conflicts, TIME-WAIT does not
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((p.host_ip, p.host_port))
        return None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return "already in use"
        if e.errno == errno.EADDRNOTAVAIL:
            return "not an address of this machine"
        if e.errno == errno.EACCES:
            return "a privileged port (below 1024) needs root"
        return e.strerror or str(e)
    finally:
        s.close()


def check_free(publishes, owner=None):
    """ValueError for the first host port that cannot be bound. owner(publish) may name
    who holds it (e.g. another ethox-uk VM)."""
    for p in publishes:
        why = port_taken(p)
        if why is None:
            continue
        held = owner(p) if owner is not None and why == "already in use" else None
        hint = ("pick another host port, e.g. -p %d:%d%s"
                % (p.host_port + 1, p.guest_port, "/udp" if p.proto == "udp" else ""))
        if why.startswith("not an address"):
            hint = "use 127.0.0.1 (the default) or an address `ip addr` shows"
        raise ValueError("-p %s: %s %s:%d is %s%s: %s"
                         % (p.given(), p.proto.upper(), p.host_ip, p.host_port, why,
                            " (by %s)" % held if held else "", hint))
