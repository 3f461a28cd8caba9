# The DHCPv4 client (RFC 2131) with the address check of RFC 5227: `ip=dhcp`.
#
#   client = dhcp.start(stack, now, log=print)   binds UDP 68, sends DISCOVER
#   ok = dhcp.wait_bound(stack, client, clock, idle)   the runners' boot wait
#
# States (RFC 2131 figure 5): SELECTING (DISCOVER, retransmitted after 4, 8,
# 16, 32, 64 s, each +-1 s at random, §4.1) -> REQUESTING (the first usable
# OFFER; REQUEST broadcast, the same backoff, back to INIT after
# REQUEST_TRIES) -> CHECKING (RFC 5227 §2.1: ARP probes from 0.0.0.0 for the
# offered address; an ARP packet from another station claiming or probing it
# is a conflict: DECLINE, and INIT again after 10 s, §3.1.5) -> BOUND (the
# stack takes the address, subnet, router, DNS servers and MTU; two
# gratuitous ARP announcements, RFC 5227 §2.3) -> RENEWING at T1 (REQUEST
# unicast to the server, ciaddr set) -> REBINDING at T2 (broadcast) -> at
# expiry the address is dropped and the client starts over (§4.4.5); a NAK
# does the same. Lease times count from when the REQUEST went out (§4.4.1).
#
# Before the first lease the runners wait in wait_bound(): the app starts
# and the ready line is printed once the address is bound. Without a lease
# after config.dhcp_timeout seconds the client gives up (state FAILED,
# `failure` says what happened): the runner prints that and exits with
# status 5 -- a service without an address cannot serve, and a silent hang
# would look like a slow boot (dhcp_timeout=0 keeps asking forever). Once
# the app runs, a lost lease is only logged and the client keeps asking.
#
# Not done: no initial random wait before the first DISCOVER (§4.4.1's SHOULD
# of 1-10 s: boot time matters here, and virtual NICs do not all power on at
# once); no INIT-REBOOT (nothing survives a boot); no DHCPRELEASE; no ongoing
# address defence once bound (RFC 5227 §2.4).
#
# Time is the callers' `now` (ms); the client is a stack client: Stack.poll
# calls poll(now) only when `timer_at` is due, so an idle bound client costs
# nothing until T1.
from .compat import const
from .config import UNSET_IP, format_ip, format_mac
from .layer.udp import PAYLOAD_OFF
from .rand import Rand
from .wire import dhcp as W

INIT = const(0)
SELECTING = const(1)
REQUESTING = const(2)
CHECKING = const(3)
BOUND = const(4)
RENEWING = const(5)
REBINDING = const(6)
FAILED = const(7)
STATE_NAMES = ("init", "selecting", "requesting", "checking", "bound", "renewing",
               "rebinding", "failed")

FIRST_RETRY_MS = const(4000)  # RFC 2131 §4.1: 4 s, doubling, at most 64 s, +-1 s
MAX_RETRY_MS = const(64000)
JITTER_MS = const(1000)
REQUEST_TRIES = const(4)  # REQUESTs for one OFFER before starting over
DECLINE_WAIT_MS = const(10000)  # §3.1.5: at least 10 s after a DECLINE
NAK_WAIT_MS = const(1000)  # a server that NAKs everything must not make us spin
MIN_RENEW_RETRY_MS = const(60000)  # §4.4.5
INFINITE = const(0xFFFFFFFF)

# RFC 5227 §1.1 (ms); the probe timings are scaled by config.acd_ms / ACD_RFC_MS
PROBE_WAIT = const(1000)
PROBE_NUM = const(3)
PROBE_MIN = const(1000)
PROBE_MAX = const(2000)
ANNOUNCE_WAIT = const(2000)
ANNOUNCE_NUM = const(2)
ANNOUNCE_INTERVAL = const(2000)

EXIT_NO_LEASE = const(5)  # the runners' exit status when no lease came in time


def _usable(a):
    """An address a server may hand out: not 0/8, loopback, multicast or class E."""
    return a[0] != 0 and a[0] != 127 and a[0] < 224


def _classful(a):
    return 8 if a[0] < 128 else 16 if a[0] < 192 else 24


def _on_link(a, ip, prefix):
    m = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    x = ((a[0] ^ ip[0]) << 24) | ((a[1] ^ ip[1]) << 16) | ((a[2] ^ ip[2]) << 8) | (a[3] ^ ip[3])
    return not (x & m)


class DhcpClient:
    def __init__(self, stack, log=None, seed=None):
        self.stack = stack
        self.config = stack.config
        self.c = stack.counters.c
        self.log = log  # log(text): console lines ("ethox-uk: dhcp: ...")
        self.rand = Rand(stack.rng_seed if seed is None else seed)
        self.opts = W.Options()
        self.state = INIT
        self.timer_at = -1
        self.xid = 0
        self.started = 0  # when this exchange's first DISCOVER went out
        self.deadline = -1  # give up then (before the first lease only)
        self.tries = 0
        self.ever_bound = False
        self.failure = None  # why the client gave up (state FAILED)
        self.discovers = 0
        self.declines = 0
        # the lease being acquired or held
        self.addr = None
        self.server = None
        self.prefix = 0
        self.router = None
        self.dns = []
        self.mtu = 0
        self.lease = 0
        self.t1 = 0
        self.t2 = 0
        self.request_at = 0
        self.t1_at = self.t2_at = self.expire_at = -1
        self.step = 0  # probes or announcements sent in CHECKING / BOUND
        self.scale = self.config.acd_ms  # /7000: RFC 5227's timings scaled
        # test-only fault switches (negative controls of the conformance suite)
        f = stack.faults
        if "dhcp_no_probe" in f:
            self.scale = 0
        self.any_xid = "dhcp_any_xid" in f
        self.no_renew = "dhcp_no_renew" in f
        self.fast_retry = "dhcp_fast_retry" in f
        self.ignore_nak = "dhcp_ignore_nak" in f
        self.no_server_id = "dhcp_no_server_id" in f
        self.chaddr = bytes(6) if "dhcp_zero_chaddr" in f else stack.mac
        stack.udp.bind(W.CLIENT_PORT, self._on_reply)
        stack.add_client(self)

    def state_name(self):
        return STATE_NAMES[self.state]

    def _say(self, text):
        if self.log is not None:
            self.log("ethox-uk: dhcp: " + text)

    def _acd(self, ms):
        return ms * self.scale // 7000

    def _backoff(self, k):
        if self.fast_retry:  # test-only fault switch
            return 1000
        d = FIRST_RETRY_MS << k if k < 5 else MAX_RETRY_MS
        if d > MAX_RETRY_MS:
            d = MAX_RETRY_MS
        return d - JITTER_MS + self.rand.below(2 * JITTER_MS + 1)

    # -- sending -----------------------------------------------------------------
    def _send(self, kind, dst, now, ciaddr=None, requested=None, server=None, flags=0):
        udp = self.stack.udp
        buf = udp.send_begin(W.SEND_LEN)
        if buf is None:
            return False
        secs = (now - self.started) // 1000
        n = W.write_message(buf, PAYLOAD_OFF, kind, self.xid, self.chaddr,
                            secs if secs < 0xFFFF else 0xFFFF, flags, ciaddr, requested,
                            server, self.config.hostname)
        self.c["dhcp_tx"] += 1
        return udp.send_finish(buf, dst, W.SERVER_PORT, W.CLIENT_PORT, n, now)

    def _discover(self, now):
        self.rand.stir(now)
        self.xid = self.rand.u32()
        self.started = now
        self.state = SELECTING
        self.tries = 0
        self._send_discover(now)

    def _send_discover(self, now):
        self.discovers += 1
        self._send(W.DISCOVER, b"\xff\xff\xff\xff", now, flags=W.FLAG_BROADCAST)
        self._arm(now + self._backoff(self.tries))
        self.tries += 1

    def _send_request(self, now):
        st = self.state
        if st == REQUESTING:  # answering an OFFER: broadcast, from 0.0.0.0
            if self.no_server_id:  # test-only fault switch
                return self._send(W.REQUEST, b"\xff\xff\xff\xff", now, flags=W.FLAG_BROADCAST)
            self._send(W.REQUEST, b"\xff\xff\xff\xff", now, requested=self.addr,
                       server=self.server, flags=W.FLAG_BROADCAST)
        elif st == RENEWING:  # to the server that leased it, from the address
            self._send(W.REQUEST, self.server, now, ciaddr=self.addr)
        else:  # REBINDING: to any server
            self._send(W.REQUEST, b"\xff\xff\xff\xff", now, ciaddr=self.addr)

    # -- timers ------------------------------------------------------------------
    def start(self, now):
        t = self.config.dhcp_timeout
        self.deadline = now + 1000 * t if t else -1
        self._discover(now)

    def _arm(self, at):
        """Set the timer; before the first lease never past the deadline."""
        d = self.deadline
        if not self.ever_bound and 0 <= d < at:
            at = d
        self.timer_at = at

    def poll(self, now):
        st = self.state
        if st <= REQUESTING and not self.ever_bound and 0 <= self.deadline <= now:
            return self._fail(now)
        if st == INIT:
            self._discover(now)
        elif st == SELECTING:
            self._send_discover(now)
        elif st == REQUESTING:
            if self.tries >= REQUEST_TRIES:
                self._say("no answer to %d REQUESTs for %s: starting over"
                          % (self.tries, format_ip(self.addr)))
                return self._discover(now)
            self.request_at = now
            self._send_request(now)
            self._arm(now + self._backoff(self.tries))
            self.tries += 1
        elif st == CHECKING:
            self._check_step(now)
        elif st == BOUND:
            if self.step < ANNOUNCE_NUM:
                self._announce(now)
            elif 0 <= self.t1_at <= now:
                self.state = RENEWING
                self.tries = 0
                self._renew(now)
            else:
                self.timer_at = self.t1_at
        elif st == RENEWING or st == REBINDING:
            if now >= self.expire_at:
                return self._lose(now, "the lease expired without an answer from a server")
            if st == RENEWING and now >= self.t2_at:
                self.state = REBINDING
                self.tries = 0
            self._renew(now)

    def _renew(self, now):
        if self.tries == 0:  # a new transaction for each of RENEWING and REBINDING
            self.rand.stir(now)
            self.xid = self.rand.u32()
            self.started = now
        self.request_at = now
        self._send_request(now)
        self.tries += 1
        end = self.t2_at if self.state == RENEWING else self.expire_at
        wait = (end - now) // 2
        if wait < MIN_RENEW_RETRY_MS:
            wait = MIN_RENEW_RETRY_MS
        self.timer_at = now + wait if now + wait < end else end

    def _fail(self, now):
        st = self.state
        t = self.config.dhcp_timeout
        if st == REQUESTING:
            why = "%s offered %s but did not confirm it" % (format_ip(self.server),
                                                             format_ip(self.addr))
        elif self.declines:
            why = "every address offered was in use (%d declined)" % self.declines
        else:
            why = "no DHCP server answered %d DISCOVER%s" % (
                self.discovers, "" if self.discovers == 1 else "s")
        self.state = FAILED
        self.timer_at = -1
        self.failure = "%s within %d s" % (why, t)

    # -- receive -----------------------------------------------------------------
    def _on_reply(self, view, off, n, src_off, sport, now):
        c = self.c
        st = self.state
        if st != SELECTING and st != REQUESTING and st != RENEWING and st != REBINDING:
            c["dhcp_unexpected"] += 1  # nothing asked: a late copy, or not for us
            return None
        if self.any_xid and n >= 34:  # test-only fault switch: whatever they say
            r = W.check_reply(view, off, n, W.u32(view, off + 4), view[off + 28:off + 34])
        else:
            r = W.check_reply(view, off, n, self.xid, self.stack.mac)
        if r is None:
            r = W.parse_options(view, off, n, self.opts)
        if r is not None:
            c[r] += 1
            return None
        c["dhcp_rx"] += 1
        o = self.opts
        t = o.msg_type
        yi = bytes(view[off + 16:off + 20])
        if st == SELECTING:
            if t != W.OFFER:
                c["dhcp_unexpected"] += 1
            elif not _usable(yi) or o.server_id is None:
                c["dhcp_bad_reply"] += 1
            else:
                self.addr = yi
                self.server = o.server_id
                self.state = REQUESTING
                self.tries = 0
                self.timer_at = now  # the REQUEST goes out from poll() in this round
            return None
        if t == W.NAK and self.ignore_nak:  # test-only fault switch
            c["dhcp_unexpected"] += 1
            return None
        if t == W.NAK:
            if st == REQUESTING and o.server_id is not None and o.server_id != self.server:
                c["dhcp_unexpected"] += 1  # another server's NAK to our broadcast
                return None
            self._lose(now, "the server refused the address (DHCPNAK)")
            return None
        if t != W.ACK:
            c["dhcp_unexpected"] += 1
            return None
        if (not _usable(yi) or o.lease < 1 or (st == REQUESTING and yi != self.addr)
                or (st == REQUESTING and o.server_id is not None
                    and o.server_id != self.server)):
            c["dhcp_bad_reply"] += 1
            return None
        self._take(o, yi, now)
        if st == REQUESTING or yi != self.stack.ip_addr:
            self._check_start(now)
        else:
            self._bind(now)
        return None

    def _take(self, o, yi, now):
        """The lease's parameters from an ACK (options already validated)."""
        self.addr = yi
        if o.server_id is not None:
            self.server = o.server_id
        self.prefix = o.prefix if 0 < o.prefix <= 32 else _classful(yi)
        gw = o.router
        if gw is None:
            gw = self.config.static_gw
        if gw is not None and (not _usable(gw) or not _on_link(gw, yi, self.prefix)):
            gw = None  # RFC 2132 §3.5: routers are on the client's subnet
        self.router = gw
        self.dns = o.dns
        self.mtu = o.mtu if o.mtu > 0 else 1500
        lease = o.lease
        self.lease = lease
        if lease == INFINITE:
            self.t1 = self.t2 = INFINITE
            return
        t1, t2 = o.t1, o.t2
        if not 0 < t2 < lease:
            t2 = lease * 7 // 8
        if not 0 < t1 < t2:
            t1 = lease // 2 if lease // 2 < t2 else t2
        self.t1 = t1
        self.t2 = t2

    # -- RFC 5227 address check ----------------------------------------------------
    def _check_start(self, now):
        if self.scale <= 0:
            return self._bind(now)
        self.state = CHECKING
        self.step = 0
        arp = self.stack.arp
        arp.watch = (self.addr[0] << 24) | (self.addr[1] << 16) | (self.addr[2] << 8) | self.addr[3]
        arp.on_conflict = self._conflict
        self.timer_at = now + self._acd(self.rand.below(PROBE_WAIT + 1))

    def _check_step(self, now):
        if self.step < PROBE_NUM:
            self.stack.arp.probe(self.addr, now)
            self.step += 1
            if self.step < PROBE_NUM:
                d = PROBE_MIN + self.rand.below(PROBE_MAX - PROBE_MIN + 1)
            else:
                d = ANNOUNCE_WAIT
            self.timer_at = now + self._acd(d)
        else:
            self._bind(now)

    def _conflict(self, mac, now):
        arp = self.stack.arp
        arp.watch = 0
        arp.on_conflict = None
        if self.state != CHECKING:
            return
        self.c["dhcp_conflicts"] += 1
        self.declines += 1
        self._say("%s is in use by %s (ARP): declined; asking again in %d s"
                  % (format_ip(self.addr), format_mac(mac), DECLINE_WAIT_MS // 1000))
        self._send(W.DECLINE, b"\xff\xff\xff\xff", now, requested=self.addr, server=self.server)
        self._unbind()
        self.state = INIT
        self._arm(now + DECLINE_WAIT_MS)

    # -- the address -------------------------------------------------------------
    def _bind(self, now):
        arp = self.stack.arp
        arp.watch = 0
        arp.on_conflict = None
        stack = self.stack
        cfg = self.config
        fresh = stack.ip_addr != self.addr
        cfg.ip = self.addr
        cfg.prefix = self.prefix
        cfg.gw = self.router
        cfg.mtu = self.mtu
        if not cfg.static_dns:
            cfg.dns = self.dns
        stack.ip_addr = bytes(self.addr)  # a new object: every layer re-reads the config
        stack.ip.refresh()
        self.state = BOUND
        self.ever_bound = True
        self.tries = 0
        start = self.request_at
        if self.lease == INFINITE or self.no_renew:  # (no_renew: test-only fault switch)
            self.t1_at = self.t2_at = self.expire_at = -1
        else:
            self.t1_at = start + 1000 * self.t1
            self.t2_at = start + 1000 * self.t2
            self.expire_at = start + 1000 * self.lease
        if fresh:
            self._say("bound %s/%d%s%s%s, lease %s from %s"
                      % (format_ip(self.addr), self.prefix,
                         " gw " + format_ip(self.router) if self.router else "",
                         " dns " + ",".join([format_ip(d) for d in cfg.dns]) if cfg.dns else "",
                         " mtu %d" % self.mtu if self.mtu != 1500 else "",
                         "infinite" if self.lease == INFINITE else "%d s" % self.lease,
                         format_ip(self.server)))
            self.step = 0
            self._announce(now)
        else:
            self.step = ANNOUNCE_NUM
            self.timer_at = self.t1_at

    def _announce(self, now):
        self.stack.arp.announce(now)
        self.step += 1
        if self.step < ANNOUNCE_NUM:
            self.timer_at = now + self._acd(ANNOUNCE_INTERVAL)
        else:
            self.timer_at = self.t1_at

    def _unbind(self):
        stack = self.stack
        if stack.ip_addr == UNSET_IP:
            return
        cfg = self.config
        cfg.ip = UNSET_IP
        cfg.prefix = 0
        cfg.gw = None
        if not cfg.static_dns:
            cfg.dns = []
        stack.ip_addr = bytes(4)
        stack.ip.refresh()

    def _lose(self, now, why):
        was = self.stack.ip_addr
        self._unbind()
        if was != UNSET_IP:
            self._say("%s: %s released; asking again" % (why, format_ip(was)))
        self.state = INIT
        self._arm(now + NAK_WAIT_MS)


def start(stack, now, log=None):
    """A DhcpClient on `stack` (bound to UDP 68), its first DISCOVER sent."""
    client = DhcpClient(stack, log)
    stack.dhcp = client
    client.start(now)
    return client


def wait_bound(stack, client, clock, idle, max_wait_ms=50, stop=None):
    """Poll the stack until the client holds a lease (True) or gives up
    (False): the runners' wait before the app starts. idle(ms) waits for a
    frame or the time (the NIC's wait); stop() true ends the wait (None)."""
    while True:
        if stop is not None and stop():
            return None
        now = clock()
        stack.poll(now)
        st = client.state
        if BOUND <= st <= REBINDING:
            return True
        if st == FAILED:
            return False
        t = stack.next_timeout(now)
        idle(t if 0 <= t < max_wait_ms else max_wait_ms)


def failure_message(client):
    """The console line for a client that gave up (status EXIT_NO_LEASE)."""
    return ("ethox-uk: dhcp: %s (MAC %s): no address, exiting with status %d. Check that "
            "a DHCP server serves this network, raise dhcp_timeout=S (0: keep asking), "
            "or give a static address: ip=A.B.C.D/PFX gw=A.B.C.D"
            % (client.failure, format_mac(client.stack.mac), EXIT_NO_LEASE))
