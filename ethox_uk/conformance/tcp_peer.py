"""A scapy-driven TCP peer for the tcp_* checks: one connection from the peer to the target,
kept in the peer's own sequence space; segments built byte by byte (any flags, options,
reserved bits, data offset or checksum) and the target's segments on that connection read
with bounded waits.

    with TcpConn(ctx, ECHO) as c:          # a fresh source port; RST on the way out
        c.open()                           # SYN, the SYN-ACK checked, ACK
        c.send(b"hello")                   # at SND.NXT, acknowledging RCV.NXT
        data = c.read(5)                   # the target's bytes in order, each ACKed
        s = c.expect(lambda s: s.fin, "the target's FIN")

Segments are judged from the raw bytes (Seg), never from scapy's fixed-up view. Every
segment of the connection ever received stays in c.segs, and a wait never loses one: the
connection reads the peer's frame log from its own cursor, so a barrier or another
connection's wait in between costs nothing.
"""

import os
import struct

from scapy.packet import Raw

from . import wire
from .common import check_ip_header
from .registry import CheckFailed

ECHO, DISCARD, CHARGEN, HTTP = 7, 9, 19, 80

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
MASK = 0xFFFFFFFF
DEFAULT_MSS = 536  # RFC 9293 §3.7.1 (RFC 1122 §4.2.2.6)
_FLAG_LETTERS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK, "U": URG, "E": 0x40,
                 "C": 0x80}


# -- sequence arithmetic ---------------------------------------------------------------

def seq_add(a, n):
    return (a + n) & MASK


def seq_diff(a, b):
    """a - b as a signed distance modulo 2**32."""
    d = (a - b) & MASK
    return d - (1 << 32) if d >= 1 << 31 else d


# -- options ---------------------------------------------------------------------------

def opt_mss(n):
    return struct.pack("!BBH", 2, 4, n)


def opt_wscale(shift):
    return struct.pack("!BBB", 3, 3, shift)


def opt_sack_ok():
    return b"\x04\x02"


def opt_timestamps(val, ecr=0):
    return struct.pack("!BBII", 8, 10, val, ecr)


NOP = b"\x01"
EOL = b"\x00"


def pad_options(raw):
    """raw option bytes NOP-padded at the front to a multiple of 4 bytes."""
    return NOP * (-len(raw) % 4) + raw


def parse_options(raw):
    """[(kind, value bytes)] of well-formed options, or None when the list is malformed
    (a length below 2 or past the end)."""
    out = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(raw):
            return None
        n = raw[i + 1]
        if n < 2 or i + n > len(raw):
            return None
        out.append((kind, bytes(raw[i + 2:i + n])))
        i += n
    return out


def flags_value(flags):
    if isinstance(flags, int):
        return flags
    v = 0
    for ch in flags:
        v |= _FLAG_LETTERS[ch]
    return v


def flags_text(v):
    return "".join(ch for ch in "FSRPAUEC" if v & _FLAG_LETTERS[ch]) or "-"


def tcp_checksum_ok(frame):
    seg = wire.ip_payload(frame)
    return wire.inet_sum(seg, wire.pseudo_sum(frame, 6, len(seg))) == 0xFFFF


# -- a received segment ------------------------------------------------------------------

class Seg:
    """One TCP segment from a received frame, parsed from its raw bytes."""

    def __init__(self, f):
        r = f.raw
        self.frame = f
        self.index = f.index
        self.t = f.t
        o = 14 + (r[14] & 15) * 4
        end = 14 + (r[16] << 8 | r[17])
        self.src = "%d.%d.%d.%d" % tuple(r[26:30])
        self.dst = "%d.%d.%d.%d" % tuple(r[30:34])
        self.ttl = r[22]
        self.sport, self.dport, self.seq, self.ack = struct.unpack("!HHII", r[o:o + 12])
        self.doff = (r[o + 12] >> 4) * 4
        self.reserved = r[o + 12] & 0x0F
        self.flags = r[o + 13]
        self.window, self.cksum, self.urgent = struct.unpack("!HHH", r[o + 14:o + 20])
        self.opt_bytes = bytes(r[o + 20:o + max(self.doff, 20)])
        self.options = parse_options(self.opt_bytes)
        self.data = bytes(r[o + max(self.doff, 20):end])
        self.checksum_ok = tcp_checksum_ok(r)

    syn = property(lambda s: bool(s.flags & SYN))
    fin = property(lambda s: bool(s.flags & FIN))
    rst = property(lambda s: bool(s.flags & RST))
    has_ack = property(lambda s: bool(s.flags & ACK))
    pure_ack = property(lambda s: s.flags & (SYN | FIN | RST | ACK) == ACK and not s.data)

    @property
    def seglen(self):
        return len(self.data) + (1 if self.syn else 0) + (1 if self.fin else 0)

    @property
    def end(self):
        return seq_add(self.seq, self.seglen)

    def option(self, kind):
        """The value bytes of option `kind`, or None."""
        for k, v in self.options or ():
            if k == kind:
                return v
        return None

    @property
    def mss(self):
        v = self.option(2)
        return struct.unpack("!H", v)[0] if v is not None and len(v) == 2 else None

    @property
    def wscale(self):
        v = self.option(3)
        return v[0] if v is not None and len(v) == 1 else None

    @property
    def timestamps(self):
        v = self.option(8)
        return struct.unpack("!II", v) if v is not None and len(v) == 8 else None

    @property
    def sack_ok(self):
        return self.option(4) is not None

    def words(self):
        opts = ""
        if self.opt_bytes:
            opts = " options %s" % ("malformed" if self.options is None else ",".join(
                _opt_name(k, v) for k, v in self.options) or "padding")
        return "#%d [%s] seq=%d ack=%d win=%d %dB%s" % (
            self.index, flags_text(self.flags), self.seq, self.ack, self.window,
            len(self.data), opts)

    def __repr__(self):
        return "Seg(%s)" % self.words()


def _opt_name(kind, v):
    if kind == 2 and len(v) == 2:
        return "MSS=%d" % struct.unpack("!H", v)[0]
    if kind == 3 and len(v) == 1:
        return "WS=%d" % v[0]
    if kind == 4:
        return "SACK-permitted"
    if kind == 5:
        return "SACK"
    if kind == 8:
        return "TS"
    return "kind%d(%dB)" % (kind, len(v))


def is_tcp(f):
    r = f.raw
    return (len(r) >= 54 and r[12:14] == b"\x08\x00" and r[14] >> 4 == 4 and r[23] == 6
            and not (r[20] << 8 | r[21]) & 0x3FFF and len(r) >= 14 + (r[14] & 15) * 4 + 20)


def tcp_ports(f):
    o = 14 + (f.raw[14] & 15) * 4
    return struct.unpack("!HH", f.raw[o:o + 4])


def tcp_from(sport, dport):
    """A matcher: a TCP segment from the target's port `sport` to the peer's `dport`."""
    return lambda f: is_tcp(f) and tcp_ports(f) == (sport, dport)


# -- building segments ---------------------------------------------------------------------

def tcp_bytes(ctx, sport, dport, seq, ack, flags, window, data=b"", options=b"", doff=None,
              reserved=0, urgent=0, checksum=None, src=None, dst=None):
    """The raw TCP segment; checksum None: correct; an int: that value; "bad": wrong."""
    if len(options) % 4:
        options = pad_options(options)
    hlen = 20 + len(options)
    d = hlen // 4 if doff is None else doff
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & MASK, ack & MASK,
                      (d << 4) | (reserved & 0x0F), flags_value(flags), window & 0xFFFF, 0,
                      urgent)
    seg = bytearray(hdr + options + data)
    if checksum is None or checksum == "bad":
        ps = wire.inet_sum(_aton(src or ctx.peer_ip) + _aton(dst or ctx.target_ip)
                           + struct.pack("!BBH", 0, 6, len(seg)))
        ck = wire.inet_checksum(bytes(seg), ps)
        if checksum == "bad":
            ck ^= 0x5A5A
    else:
        ck = checksum
    struct.pack_into("!H", seg, 16, ck)
    return bytes(seg)


def _aton(text):
    return bytes(int(x) for x in text.split("."))


class TcpConn:
    """The peer's side of one connection to the target's port `dport`."""

    def __init__(self, ctx, dport, sport=None, window=65535, iss=None):
        self.ctx = ctx
        self.dport = dport
        self.sport = ctx.new_port() if sport is None else sport
        self.iss = int.from_bytes(os.urandom(4), "big") if iss is None else iss
        self.snd_nxt = self.iss
        self.window = window  # the window field we send
        self.irs = None  # the target's ISN, once its SYN is seen
        self.rcv_nxt = None
        self.synack = None
        self.segs = []  # every segment of this connection received
        self.received = bytearray()  # the target's data in order (every segment taken)
        self.rpos = 0  # how much of it read() returned
        self.auto_take = True  # put every arriving segment's data into `received`
        self.last_ack = None  # the acknowledgment number we sent last
        self.ooo = {}  # seq -> data received beyond rcv_nxt
        self.fin_seen = False  # the target's FIN reached (in order)
        self.peer_ack = None  # the latest acknowledgment number the target sent
        self.cursor = ctx.mark()
        self.closed = False  # nothing to reset any more

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()

    # -- receiving --------------------------------------------------------------------
    def mine(self, f):
        return is_tcp(f) and tcp_ports(f) == (self.dport, self.sport)

    def _next(self, deadline):
        ctx = self.ctx
        log = ctx.peer.rx_log
        while True:
            while self.cursor < len(log):
                f = log[self.cursor]
                self.cursor += 1
                if self.mine(f):
                    s = Seg(f)
                    self.segs.append(s)
                    if s.has_ack:
                        self.peer_ack = s.ack
                    if self.auto_take and not s.syn and not s.rst:
                        self.take(s)
                    return s
            left = deadline - ctx.peer.clock()
            if left <= 0:
                return None
            if ctx.peer.recv(left) is None:
                return None

    def wait(self, pred=None, timeout=None, what="a segment"):
        """The next segment of this connection for which pred(seg) holds, or None."""
        t = self.ctx.reply if timeout is None else timeout
        deadline = self.ctx.peer.clock() + t
        while True:
            s = self._next(deadline)
            if s is None:
                self.ctx.peer._check_deadline()
                self.ctx.peer._line("←", "nothing (%s) within %.2f s" % (what, t))
                return None
            if pred is None or pred(s):
                return s

    def expect(self, pred=None, what="a segment", timeout=None):
        s = self.wait(pred, timeout, what)
        if s is None:
            bare = what
            for article in ("a ", "an ", "the "):
                if bare.startswith(article):
                    bare = bare[len(article):]
            raise CheckFailed("no %s within %.1f s" % (
                bare, self.ctx.reply if timeout is None else timeout))
        return s

    def collect(self, duration, until=None):
        """Every segment of this connection within `duration` s (until(seg): stop early)."""
        out = []
        deadline = self.ctx.peer.clock() + duration
        while True:
            s = self._next(deadline)
            if s is None:
                break
            out.append(s)
            if until is not None and until(s):
                break
        self.ctx.peer._check_deadline()
        return out

    def pending(self):
        """Segments already received but not yet read by a wait (no waiting)."""
        return self.collect(0)

    def mark(self):
        """A position in c.segs (for since())."""
        return len(self.segs)

    def since(self, mark):
        """Every segment of this connection received after mark() (reads what is queued)."""
        self.pending()
        return self.segs[mark:]

    # -- sending ----------------------------------------------------------------------
    def packet(self, flags="A", seq=None, ack=None, data=b"", window=None, options=b"",
               doff=None, reserved=0, urgent=0, checksum=None, ip=None, eth=None):
        """A scapy packet of a segment on this connection (defaults: SND.NXT, RCV.NXT)."""
        fv = flags_value(flags)
        if seq is None:
            seq = self.snd_nxt
        if ack is None:
            ack = self.rcv_nxt if (fv & ACK and self.rcv_nxt is not None) else 0
        win = self.window if window is None else window
        ipl = ip if ip is not None else self.ctx.ip(proto=6)
        raw = tcp_bytes(self.ctx, self.sport, self.dport, seq, ack, fv, win, data, options,
                        doff, reserved, urgent, checksum, src=ipl.src, dst=ipl.dst)
        return (eth if eth is not None else self.ctx.eth()) / ipl / Raw(raw)

    def send_seg(self, flags="A", note=None, advance=False, **kw):
        """Send one segment (see packet()); advance=True moves SND.NXT past it."""
        fv = flags_value(flags)
        data = kw.get("data", b"")
        pkt = self.packet(fv, **kw)
        extra = []
        if data:
            extra.append("%dB" % len(data))
        if kw.get("options"):
            extra.append("options")
        if kw.get("checksum") is not None:
            extra.append("checksum %s" % kw["checksum"])
        if note:
            extra.append(note)
        f = self.ctx.send(pkt, note=", ".join(extra) if extra else None)
        # read what is queued already: a unix datagram socket holds only a few frames
        # (net.unix.max_dgram_qlen), and a relay in between drops what does not fit
        while self.ctx.peer.recv(0) is not None:
            pass
        if fv & ACK:
            self.last_ack = kw["ack"] if kw.get("ack") is not None else self.rcv_nxt
        if advance:
            seq = self.snd_nxt if kw.get("seq") is None else kw["seq"]
            end = seq_add(seq, len(data) + (1 if fv & SYN else 0) + (1 if fv & FIN else 0))
            if seq_diff(end, self.snd_nxt) > 0:
                self.snd_nxt = end
        return f

    def syn(self, options=None, flags="S", timeout=None, **kw):
        """Send our SYN (MSS 1460 unless options are given); the target's SYN-ACK or RST
        (None when nothing came). A SYN-ACK sets IRS/RCV.NXT."""
        opts = opt_mss(1460) if options is None else options
        self.snd_nxt = self.iss
        self.send_seg(flags, seq=self.iss, ack=0, options=opts, advance=True, **kw)
        s = self.wait(lambda s: s.syn or s.rst, timeout, "SYN-ACK")
        if s is not None and s.syn and s.has_ack:
            self.synack = s
            self.irs = s.seq
            self.rcv_nxt = seq_add(s.seq, 1)
        if s is not None and s.rst:
            self.closed = True
        return s

    def open(self, options=None, check=True, **kw):
        """The three-way handshake; returns the SYN-ACK."""
        s = self.syn(options, **kw)
        ctx = self.ctx
        if s is None:
            ctx.fail("no SYN-ACK from port %d within %.1f s" % (self.dport, ctx.reply))
        ctx.require(not s.rst, "port %d answered the SYN with a RST (%s): is the service "
                    "there?" % (self.dport, s.words()))
        if check:
            ctx.require(s.checksum_ok, "%s: bad TCP checksum" % s.words())
            ctx.require(s.has_ack and s.ack == seq_add(self.iss, 1), "%s: the SYN-ACK "
                        "acknowledges %d, expected ISN+1 = %d"
                        % (s.words(), s.ack, seq_add(self.iss, 1)))
            ctx.require(s.options is not None, "%s: malformed options" % s.words())
        self.ack()
        return s

    def peer_seq(self):
        """The sequence number the target's next new segment carries (its SND.NXT as far
        as we have seen: our RCV.NXT)."""
        return self.rcv_nxt

    def ack(self, **kw):
        """A pure ACK of RCV.NXT."""
        return self.send_seg("A", **kw)

    def send(self, data, flags="PA", **kw):
        """Data at SND.NXT (and SND.NXT moves past it)."""
        return self.send_seg(flags, data=data, advance=True, **kw)

    def fin(self, data=b"", **kw):
        return self.send_seg("FA" if not data else "FPA", data=data, advance=True, **kw)

    def abort(self):
        """Reset the connection at the target (an exact RST: no challenge ACK), once."""
        if self.closed or self.rcv_nxt is None and self.snd_nxt == self.iss:
            return
        self.closed = True
        try:
            self.send_seg("R", seq=self.snd_nxt, ack=0, window=0, note="clean-up")
            if self.peer_ack is not None and self.peer_ack != self.snd_nxt:
                self.send_seg("R", seq=self.peer_ack, ack=0, window=0, note="clean-up")
        except Exception:
            pass  # the target is gone: the check's own verdict says so

    # -- reading the target's stream ----------------------------------------------------------
    def take(self, s):
        """Put segment s into the in-order stream; True when RCV.NXT moved."""
        if self.rcv_nxt is None:
            return False
        moved = False
        if s.data:
            d = seq_diff(s.seq, self.rcv_nxt)
            if d <= 0 and len(s.data) + d > 0:
                self.received += s.data[-d:]
                self.rcv_nxt = seq_add(self.rcv_nxt, len(s.data) + d)
                moved = True
            elif d > 0:
                self.ooo[s.seq] = s.data
            while True:  # pull in what was held beyond a hole
                for seq, data in list(self.ooo.items()):
                    dd = seq_diff(seq, self.rcv_nxt)
                    if dd <= 0:
                        del self.ooo[seq]
                        if len(data) + dd > 0:
                            self.received += data[-dd:]
                            self.rcv_nxt = seq_add(self.rcv_nxt, len(data) + dd)
                            moved = True
                        break
                else:
                    break
        if s.fin and seq_add(s.seq, len(s.data)) == self.rcv_nxt:
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            self.fin_seen = True
            moved = True
        return moved

    def read(self, n, timeout=None, ack=True, what=None, fin=False):
        """The target's next n unread bytes of the stream (fin=True: everything up to its
        FIN), ACKing each segment as it comes when ack is true. Fails when they do not all
        come within the timeout or the target resets the connection."""
        t = self.ctx.reply if timeout is None else timeout
        deadline = self.ctx.peer.clock() + t
        while not (self.fin_seen if fin else len(self.received) - self.rpos >= n):
            s = self._next(deadline)
            if s is None:
                self.ctx.peer._check_deadline()
                got = len(self.received) - self.rpos
                raise CheckFailed("%s: %d%s bytes%s within %.1f s" % (
                    what or "the target's data", got, "" if fin else " of %d" % n,
                    " and no FIN" if fin else "", t))
            if s.rst:
                raise CheckFailed("the target reset the connection (%s) after %d bytes"
                                  % (s.words(), len(self.received) - self.rpos))
            if ack and (s.data or s.fin):
                self.ack()
        end = len(self.received) if fin else self.rpos + n
        out = bytes(self.received[self.rpos:end])
        self.rpos = end
        if ack and self.last_ack != self.rcv_nxt:
            self.ack()
        return out


# -- verdicts and exchanges several tcp_* groups share -----------------------------------

def check_seg(ctx, s):
    """Fail unless segment s is well formed: a valid IPv4 header from the target, a right
    TCP checksum, reserved bits zero, a data offset within the segment, parseable options
    (RFC 9293 §3.1)."""
    check_ip_header(ctx, s.frame, 6)
    ctx.require(s.checksum_ok, "%s has a bad TCP checksum %#06x" % (s.words(), s.cksum))
    ctx.require(s.reserved == 0, "%s has reserved bits %#x set (they must be zero in "
                "generated segments)" % (s.words(), s.reserved))
    ctx.require(s.doff >= 20, "%s has data offset %d" % (s.words(), s.doff // 4))
    ctx.require(s.options is not None, "%s carries malformed options %s"
                % (s.words(), s.opt_bytes.hex()))


def data_segs(segs):
    return [s for s in segs if s.data]


def extent(segs, base):
    """How far past sequence number `base` the data in segs reaches (0: none)."""
    best = 0
    for s in segs:
        if s.data:
            best = max(best, seq_diff(seq_add(s.seq, len(s.data)), base))
    return best


def quiet_collect(c, bound, gap=0.15):
    """Segments of c until none came for `gap` s (at most `bound` s in all; both scaled
    by the session's timescale)."""
    out = []
    gap *= c.ctx.timescale
    bound *= c.ctx.timescale
    clock = c.ctx.peer.clock
    end = clock() + bound
    while True:
        left = end - clock()
        if left <= 0:
            break
        got = c.collect(min(gap, left))
        if not got:
            break
        out += got
    return out


def echo_roundtrip(ctx, c, data, what="the echo"):
    """Send data on an open echo connection and read it back; fail if it differs."""
    c.send(data)
    got = c.read(len(data), what=what)
    if got != data:
        first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]),
                     min(len(got), len(data)))
        ctx.fail("%s returned %d bytes differing from the %d sent at byte %d"
                 % (what, len(got), len(data), first))


def still_alive(ctx, c, what="the connection after that"):
    """The echo connection c still works: a short round trip."""
    echo_roundtrip(ctx, c, b"still there?", what=what)


def http_request(path="/bytes/64"):
    return ("GET %s HTTP/1.1\r\nHost: target\r\nConnection: close\r\n\r\n"
            % path).encode()

