# The stack's configuration: addresses plus the free `key=value` boot words
# (DESIGN §5). Parsed from the kernel command line in the image and from CLI
# options in host mode; errors raise ValueError naming the word and what is
# expected.

DEFAULT_IP = "10.0.2.15/24"
DEFAULT_GW = "10.0.2.2"
DEFAULT_MAC = "52:54:00:12:34:56"


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


def format_ip(ip):
    return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])


def format_mac(mac):
    return ":".join(["%02x" % b for b in mac])


class Config:
    def __init__(self, ip=DEFAULT_IP, gw=DEFAULT_GW, mac=DEFAULT_MAC, words=None):
        self.ip, self.prefix = parse_cidr(ip) if isinstance(ip, str) else ip
        self.gw = parse_ip(gw) if isinstance(gw, str) else gw
        self.mac = parse_mac(mac) if isinstance(mac, str) else mac
        self.words = words or {}
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
    def from_words(cls, cmdline, ip=None, gw=None, mac=None):
        """Build from boot words; explicit ip/gw/mac arguments win (CLI options)."""
        words = {}
        for w in cmdline.split():
            if "=" not in w:
                words[w] = ""
                continue
            k, v = w.split("=", 1)
            words[k] = v
        return cls(ip=ip or words.get("ip", DEFAULT_IP),
                   gw=gw or words.get("gw", DEFAULT_GW),
                   mac=mac or words.get("mac", DEFAULT_MAC),
                   words=words)

    def ready_line(self):
        return "ethox-uk: ready ip=%s mac=%s" % (format_ip(self.ip), format_mac(self.mac))
