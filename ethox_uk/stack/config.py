# The stack's configuration: addresses plus the free `key=value` boot words
# (DESIGN §5). Parsed from the kernel command line in the image and from CLI
# options in host mode; errors raise ValueError naming the word and what is
# expected.
#
# Words the stack itself reads (every other `key=value` is the app's):
#   ip=A.B.C.D/PFX | ip=dhcp   gw=A.B.C.D   mac=xx:..
#   dns=A.B.C.D[,A.B.C.D...]   name servers for the resolver (win over DHCP's)
#   dhcp_timeout=S             with ip=dhcp: give up after S seconds without a
#                              lease (guest status 5); 0 = keep asking forever
#   acd=MS                     with ip=dhcp: the RFC 5227 address check takes at
#                              most MS ms (its timings scaled down); 0 = no check
#   hostname=NAME              sent to the DHCP server (option 12)
# With ip=dhcp the address is 0.0.0.0/0 until a lease is bound (stack/dhcp.py
# fills ip, prefix, gw, dns and mtu in); a gw= word then only stands in when
# the server names no router.
#
# IPv6 words: `ip6=auto` (the default: a link-local address, and a global one
# from a router advertisement's prefix, RFC 4862), `ip6=ADDR/PFX` (a static
# address, plus the link-local; router advertisements still give the default
# router and MTU but no address), `ip6=off` (no IPv6 at all); `gw6=ADDR` a
# static default router (else the advertising router).

DEFAULT_IP = "10.0.2.15/24"
DEFAULT_GW = "10.0.2.2"
DEFAULT_MAC = "52:54:00:12:34:56"
DHCP = "dhcp"
UNSET_IP = b"\x00\x00\x00\x00"
DEFAULT_DHCP_TIMEOUT = 30  # seconds; below `ethox-uk exec`'s 60 s wait for the ready line
ACD_RFC_MS = 7000  # RFC 5227's longest probe: PROBE_WAIT + 2 x PROBE_MAX + ANNOUNCE_WAIT
MAX_DNS = 3


def parse_ip(text):
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError("bad IPv4 address %r: expected a.b.c.d" % text)
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p.isdigit() or len(p) > 3 or int(p) > 255:
            raise ValueError("bad IPv4 address %r: each part must be 0-255" % text)
        out[i] = int(p)
    return bytes(out)


def parse_cidr(text):
    if "/" in text:
        addr, pfx = text.split("/", 1)
        if not pfx.isdigit() or not 0 <= int(pfx) <= 32:
            raise ValueError("bad prefix in %r: expected a.b.c.d/0-32" % text)
        return parse_ip(addr), int(pfx)
    return parse_ip(text), 24


def parse_mac(text):
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC address %r: expected xx:xx:xx:xx:xx:xx" % text)
    out = bytearray(6)
    for i in range(6):
        p = parts[i]
        if len(p) != 2:
            raise ValueError("bad MAC address %r: expected xx:xx:xx:xx:xx:xx" % text)
        try:
            out[i] = int(p, 16)
        except ValueError:
            raise ValueError("bad MAC address %r: expected hex digits" % text)
    if out[0] & 1:
        raise ValueError("bad MAC address %r: a multicast address cannot be a host's" % text)
    return bytes(out)


def parse_ip6(text):
    """16 bytes for an IPv6 address in RFC 4291 §2.2 text form (no zone)."""
    bad = ValueError("bad IPv6 address %r: expected e.g. 2001:db8::15 or fe80::1" % text)
    if not isinstance(text, str) or not 2 <= len(text) <= 45 or ":" not in text:
        raise bad
    tail = b""
    if "." in text:  # an IPv4 tail (::ffff:1.2.3.4)
        c = text.rfind(":")
        try:
            tail = parse_ip(text[c + 1:])
        except ValueError:
            raise bad
        text = text[:c + 1] + "0:0"
    halves = text.split("::")
    if len(halves) > 2:
        raise bad
    words = []
    for h in halves:
        part = []
        if h:
            for g in h.split(":"):
                if not 1 <= len(g) <= 4:
                    raise bad
                for ch in g:
                    if ch not in "0123456789abcdefABCDEF":
                        raise bad
                part.append(int(g, 16))
        words.append(part)
    if len(halves) == 2:
        gap = 8 - len(words[0]) - len(words[1])
        if gap < 1:
            raise bad
        w = words[0] + [0] * gap + words[1]
    else:
        w = words[0]
    if len(w) != 8:
        raise bad
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = w[i] >> 8
        out[2 * i + 1] = w[i] & 255
    if tail:
        out[12:16] = tail
    return bytes(out)


def parse_cidr6(text):
    if "/" in text:
        addr, pfx = text.split("/", 1)
        if not pfx.isdigit() or not 0 < int(pfx) <= 128:
            raise ValueError("bad prefix in %r: expected ADDR/1-128" % text)
        return parse_ip6(addr), int(pfx)
    return parse_ip6(text), 64


def format_ip6(a, off=0):
    """RFC 5952 text: lower case, the longest run (>= 2) of zero words as ::."""
    w = [(a[off + 2 * i] << 8) | a[off + 2 * i + 1] for i in range(8)]
    best = -1
    blen = 1
    i = 0
    while i < 8:
        if w[i] == 0:
            j = i
            while j < 8 and w[j] == 0:
                j += 1
            if j - i > blen:
                best = i
                blen = j - i
            i = j
        else:
            i += 1
    if best < 0:
        return ":".join(["%x" % x for x in w])
    return (":".join(["%x" % x for x in w[:best]]) + "::"
            + ":".join(["%x" % x for x in w[best + blen:]]))


def format_ip(ip):
    return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])


def format_mac(mac):
    return ":".join(["%02x" % b for b in mac])


def parse_dns(text):
    """[4-byte address, ...] from 'A.B.C.D[,A.B.C.D...]' (at most MAX_DNS)."""
    try:
        out = [parse_ip(p) for p in text.split(",")]
    except ValueError as e:
        raise ValueError("dns=%s: %s (write dns=A.B.C.D[,A.B.C.D])" % (text, e))
    if len(out) > MAX_DNS:
        raise ValueError("dns=%s names %d servers: give at most %d" % (text, len(out), MAX_DNS))
    for a in out:
        if a[0] == 0 or a[0] >= 224:
            raise ValueError("dns=%s: %s cannot be a name server (not a unicast address)"
                             % (text, format_ip(a)))
    return out


def _number(words, key, default, low, high, what):
    v = words.get(key)
    if v is None:
        return default
    if not v.isdigit() or not low <= int(v) <= high:
        raise ValueError("bad %s=%s: expected %s" % (key, v, what))
    return int(v)


def _hostname(text):
    if text is None:
        return None
    ok = 0 < len(text) <= 63 and text[0] != "-" and text[-1] != "-"
    for ch in text:
        if not (ch.isalpha() or ch.isdigit() or ch == "-") or ord(ch) > 127:
            ok = False
    if not ok:
        raise ValueError("bad hostname=%s: expected 1-63 letters, digits and inner '-'"
                         % text)
    return text.encode()


class Config:
    def __init__(self, ip=DEFAULT_IP, gw=DEFAULT_GW, mac=DEFAULT_MAC, words=None, ip6="off",
                 gw6=None):
        # ip6: boot words default to "auto" (from_words); a Config built in code
        # is IPv4 only unless it asks (tests and tools that count frames)
        self.dhcp = ip == DHCP
        if self.dhcp:
            self.ip, self.prefix = UNSET_IP, 0
        else:
            self.ip, self.prefix = parse_cidr(ip) if isinstance(ip, str) else ip
        self.gw = parse_ip(gw) if isinstance(gw, str) else gw
        self.static_gw = self.gw
        self.mac = parse_mac(mac) if isinstance(mac, str) else mac
        self.words = words = words or {}
        self.mtu = 1500
        self.dns = parse_dns(words["dns"]) if words.get("dns") else []
        self.static_dns = bool(self.dns)
        self.dhcp_timeout = _number(words, "dhcp_timeout", DEFAULT_DHCP_TIMEOUT, 0, 86400,
                                    "seconds 0-86400 (0: keep asking)")
        self.acd_ms = _number(words, "acd", ACD_RFC_MS, 0, 60000,
                              "the longest address check in ms, 0-60000 (0: none)")
        self.hostname = _hostname(words.get("hostname"))
        # ip6_mode: "auto", "static" (ip6 = 16 bytes, prefix6) or "off"
        self.ip6 = None
        self.prefix6 = 64
        if ip6 in ("auto", "off", ""):
            self.ip6_mode = ip6 or "auto"
        else:
            self.ip6_mode = "static"
            try:
                self.ip6, self.prefix6 = parse_cidr6(ip6)
            except ValueError as e:
                raise ValueError("ip6=%s: %s (or ip6=auto / ip6=off)" % (ip6, e))
            if self.ip6[0] == 0xFF or not any(self.ip6):
                raise ValueError("ip6=%s: a host address is unicast, not :: or multicast" % ip6)
        self.gw6 = None
        if gw6:
            try:
                self.gw6 = parse_ip6(gw6)
            except ValueError as e:
                raise ValueError("gw6=%s: %s" % (gw6, e))
            if self.gw6[0] == 0xFF or not any(self.gw6):
                raise ValueError("gw6=%s: a router address is unicast" % gw6)
        if self.gw is not None and not self.on_link(self.gw):
            raise ValueError("gateway %s is not inside %s/%d: pick a gateway on the local network"
                             % (format_ip(self.gw), format_ip(self.ip), self.prefix))

    @property
    def netmask(self):
        m = (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF
        return bytes(((m >> 24) & 255, (m >> 16) & 255, (m >> 8) & 255, m & 255))

    @property
    def broadcast(self):
        m = self.netmask
        return bytes([self.ip[i] | (~m[i] & 255) for i in range(4)])

    def on_link(self, addr):
        m = self.netmask
        for i in range(4):
            if (addr[i] ^ self.ip[i]) & m[i]:
                return False
        return True

    def word_int(self, key, default):
        """Boot word key=N as a whole number >= 0, or default when absent."""
        v = self.words.get(key)
        if v is None:
            return default
        if not v.isdigit() or len(v) > 12:
            raise ValueError("boot word %s=%r: expected a whole number >= 0" % (key, v))
        return int(v)

    def word_ms(self, key, default_ms):
        """Boot word key=SECONDS (a whole number, 0: off) in milliseconds, or
        default_ms when absent."""
        v = self.words.get(key)
        if v is None:
            return default_ms
        if not v.isdigit() or len(v) > 9:
            raise ValueError("boot word %s=%r: expected whole seconds, e.g. %s=30" % (key, v, key))
        return int(v) * 1000

    @classmethod
    def from_words(cls, cmdline, ip=None, gw=None, mac=None, dns=None):
        """Build from boot words; explicit ip/gw/mac/dns arguments win (CLI options)."""
        words = {}
        for w in cmdline.split():
            if "=" not in w:
                words[w] = ""
                continue
            k, v = w.split("=", 1)
            words[k] = v
        if dns:
            words["dns"] = dns
        return cls(ip=ip or words.get("ip", DEFAULT_IP),
                   gw=gw or words.get("gw", DEFAULT_GW),
                   mac=mac or words.get("mac", DEFAULT_MAC),
                   words=words, ip6=words.get("ip6", "auto"), gw6=words.get("gw6"))

    def ready_line(self, ip6=None):
        """DESIGN §5's line; ` ip6=ADDR/PFX` follows when IPv6 is on (the stack
        passes its address: the static one, else the link-local, which is still
        tentative at boot -- duplicate address detection ends after the line)."""
        line = "ethox-uk: ready ip=%s mac=%s" % (format_ip(self.ip), format_mac(self.mac))
        if ip6 is not None:
            line += " ip6=%s/%d" % (format_ip6(ip6[0]), ip6[1])
        return line
