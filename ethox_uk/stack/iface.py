# The Stack: one NIC, one address, the layers, and the poll loop.
#
# Receive flows upward inside Stack.poll: the NIC lends a frame buffer, the
# Ethernet layer dispatches to ARP or IPv4, IPv4 to ICMP/UDP/TCP. Any layer
# may answer in place: it rewrites the same buffer into a reply and returns the
# reply's total frame length (the Ethernet layer fills the Ethernet header of
# an in-place reply: destination = the frame's source, source = our MAC), and
# the NIC sends it. Returning 0 means consumed or dropped (and counted).
#
# Send flows downward: a layer asks `stack.ip.send_begin()` for a transmit
# buffer, writes its payload at ip.PAYLOAD_OFF and calls
# `stack.ip.send_finish(view, dst, proto, payload_len, now)`, which writes the
# IPv4 header and hands the frame to ARP for the next hop's MAC (sent now, or
# queued while the address is being resolved).
#
# Layer contracts (each layer is a class taking the Stack in __init__):
#   eth.receive(view, length, now) -> reply_len
#   eth.send(view, length, dst_mac, ethertype)      fills Ethernet header, transmits
#   arp.receive(view, length, now) -> reply_len     view = whole frame, ARP at offset 14
#   arp.output(view, length, next_hop_ip, now)      frame with IPv4 inside; resolve + send/queue
#   arp.poll(now)                                   expiry, retries of pending requests
#   ip.receive(view, length, now) -> reply_len      view = whole frame, IPv4 at offset 14
#   ip.poll(now)                                    fragment reassembly timeouts
#   icmp.receive(view, ip_off, ip_hlen, length, now) -> reply_len  (and the error senders)
#   udp.receive(view, ip_off, ip_hlen, length, now) -> reply_len
#   tcp.receive / tcp.poll / tcp.end_batch(now)    (end_batch: after each batch of
#                                                   received frames; tcp.batch is set
#                                                   while it lasts)
# Layers with timers (arp, ip's reassembler, tcp) keep their earliest deadline
# in `timer_at` (absolute ms, -1: none; early is fine, late is not): poll(now)
# runs only when it is due, and next_timeout() reads them without a call.
# They also keep next_timeout(now) -> ms until that timer, or -1.
#
# IPv6 (unless the config says ip6=off): ip6 (layer/ip6.py) with nd (neighbour
# discovery, autoconfiguration), mld and icmp6 beside it; the Ethernet layer
# hands it EtherType 0x86DD. Its timers are one deadline, ip6.timer_at; it
# starts (link-local address, DAD, router solicitation) at the first poll, so
# the boot is not held up and its times are the runner's clock.
#
# The app edge: what sockets (socket/), asyncio (aio/) and the services plug
# into, declared here rather than bolted on from outside --
#   clock, idle, clock_ms()   the driver's ms clock and how a blocking call
#                             waits (socket.use(stack, clock, idle) sets them)
#   batching, flush()         batching > 0 while aio's pump runs (it flushes once at its
#                             end); flush() sends what a call outside poll batched
#   tcp_mux()                 the TcpLayer's one user, made on first use
#   add_poller(fn)            fn(now) every round: the app's own code
#   add_timer(obj)            the services' one timer (timeouts.py)
#   add_timer_source(obj)     obj.next_timeout(now) bounds the loop's sleep (aio)
#   add_client(obj)           DHCP, the resolver: polled like a layer when due
#   aio, service              the pump and the built-in services, once started
#
# `faults` (test-only negative controls, see faults.py): a set of switch names
# kept as stack.faults; each layer reads the ones it honours in __init__.
from .compat import micropython
from .counters import Counters
from .layer.eth import EthLayer
from .layer.arp import ArpLayer
from .layer.ip import IpLayer
from .layer.icmp import IcmpLayer
from .layer.udp import UdpLayer

RX_BUDGET = 32  # frames per poll round: bounds latency for timers and apps


class Stack:
    def __init__(self, nic, config, counters=None, seed=None, faults=()):
        self.nic = nic
        self.config = config
        if nic.hw_mac is not None:
            config.mac = bytes(nic.hw_mac)  # the device's own address wins
        self.mac = config.mac
        self.ip_addr = config.ip
        self.counters = counters if counters is not None else Counters()
        self.now = 0
        self.last_error = None  # the exception behind the latest internal_error
        self.rng_seed = seed
        self.faults = frozenset(faults)  # test-only (negative controls); the image sets none
        self.eth = EthLayer(self)
        self.arp = ArpLayer(self)
        self.ip = IpLayer(self)
        self.icmp = IcmpLayer(self)
        self.udp = UdpLayer(self)
        self.tcp = None
        self.ip6 = self.nd = self.mld = self.icmp6 = None
        if config.ip6_mode != "off":
            from .layer.ip6 import Ip6Layer
            from .layer.ndp import NdLayer
            from .layer.mld import MldLayer
            from .layer.icmp6 import Icmp6Layer

            ip6 = self.ip6 = Ip6Layer(self)
            ip6.nd = self.nd = NdLayer(self)
            ip6.mld = self.mld = MldLayer(self)
            ip6.icmp6 = self.icmp6 = Icmp6Layer(self)
            ip6.timer_at = 0  # start() at the first poll
        # -- the app edge (see the top of this file) --
        self.clock = None  # ms clock for calls made outside poll (socket.use sets it)
        self.idle = None  # idle(ms): how a blocking call waits between polls
        self.batching = 0  # > 0 while aio's pump runs: sends wait for its one flush
        self.aio = None  # aio's pump, once the app runs asyncio tasks
        self.service = None  # the image's built-in services (services.start)
        self._mux = None
        self._pollers = []
        self._timer_sources = []
        self._clients = []  # the stack's own clients with timers (DHCP, the resolver)
        self._timer = None  # the services' timer (add_timer), one per stack
        self._on_frame_cb = self._on_frame  # bound once: no allocation per poll

    # -- the app edge ---------------------------------------------------------------
    def clock_ms(self):
        """Now, for a call from outside a poll round: the clock socket.use()
        gave, else the time of the last poll."""
        c = self.clock
        return c() if c is not None else self.now

    def flush(self):
        """Send what the NIC batched (virtio kicks once per batch) after a call
        from outside poll -- unless aio's pump runs: it flushes once at its end."""
        if not self.batching:
            self.nic.flush()

    def tcp_mux(self):
        """The TCP connection multiplexer (layer/tcp/mux.py) that sockets and
        services share; the TCP layer is made with it, on first use."""
        m = self._mux
        if m is None or m.layer is not self.tcp:  # (a test may have swapped the layer)
            from .layer.tcp.mux import attach

            m = self._mux = attach(self)
        return m

    def has_pollers(self):
        return len(self._pollers) > 0

    def add_poller(self, fn):
        """Run fn(now) once per poll round (the app's services). Exceptions
        from fn propagate out of poll(): they are the app's, not the stack's."""
        self._pollers.append(fn)

    def add_client(self, obj):
        """A protocol client of the stack (DHCP, the DNS resolver) with a
        `timer_at` (absolute ms, -1: none) and poll(now): polled like a layer,
        only when its timer is due; its exceptions count as internal_error."""
        if obj not in self._clients:
            self._clients.append(obj)

    @micropython.native
    def _on_frame(self, view, length):
        c = self.counters.c
        c["rx_frames"] += 1
        try:
            n = self.eth.receive(view, length, self.now)
        except Exception as e:  # a bug, never bad input: count it loudly
            c["internal_error"] += 1
            self.last_error = e
            return 0
        if n:
            c["tx_frames"] += 1
        return n

    @micropython.native
    def poll(self, now):
        """One round: receive up to RX_BUDGET frames, run the timers that are
        due, push out what was sent, run the app's pollers. Layers with timers
        keep their earliest deadline in `timer_at` (absolute ms, -1: none), so
        a round with nothing due calls none of them (the idle guest's wake-up
        path is this function: under TCG every call costs microseconds)."""
        self.now = now
        tcp = self.tcp
        if tcp is not None:
            tcp.batch = True  # one ACK per connection for the whole batch
        n = self.nic.receive(self._on_frame_cb, RX_BUDGET)
        try:
            if tcp is not None:
                if tcp.acks:
                    tcp.end_batch(now)
                tcp.batch = False
                if tcp.due or 0 <= tcp.timer_at <= now:
                    tcp.poll(now)
            t = self.arp.timer_at
            if 0 <= t <= now:
                self.arp.poll(now)
            t = self.ip.frag.timer_at
            if 0 <= t <= now:
                self.ip.poll(now)
            for cl in self._clients:
                t = cl.timer_at
                if 0 <= t <= now:
                    cl.poll(now)
            ip6 = self.ip6
            if ip6 is not None and 0 <= ip6.timer_at <= now:
                ip6.poll(now)
            if self._timer is not None:
                self._run_timer(now)
        except Exception as e:
            self.counters.c["internal_error"] += 1
            self.last_error = e
        self.nic.flush()
        # The app's own code: its exceptions are the app's and propagate to the
        # runner (an uncaught exception in the app means exit status 1).
        for p in self._pollers:
            p(now)
        return n

    def ready_line(self):
        """DESIGN §5's ready line; with IPv6 on it ends in ` ip6=ADDR/PFX`: the
        static address, else the link-local one (known from the MAC before the
        first poll; duplicate address detection confirms it about a second
        after the line)."""
        a = None
        if self.ip6 is not None:
            a = self.ip6.boot_address()
        return self.config.ready_line(a)

    def add_timer(self, obj):
        """Run obj.poll(now) in the round where obj.timer_at (absolute ms, -1:
        none; early is fine, late is not) has come, as the layers' timers
        run, and let it bound next_timeout(). For the stack's own services
        (timeouts.py): unlike a poller, which runs every round and keeps the
        image waking every 50 ms, it wakes an idle guest only when something
        is due. Its exceptions are bugs: counted as internal_error. One per
        stack: timeouts.sweeper(net) is it, and serves every connection."""
        self._timer = obj

    # (kept out of the native poll/next_timeout: a call there is smaller code)
    def _run_timer(self, now):
        t = self._timer.timer_at
        if 0 <= t <= now:
            self._timer.poll(now)

    def _timer_bound(self, best):
        t = self._timer.timer_at
        return t if t >= 0 and (best < 0 or t < best) else best

    def add_timer_source(self, obj):
        """Let obj.next_timeout(now) bound how long the owner of the loop may
        sleep (an asyncio pump whose tasks are due at a time, say)."""
        self._timer_sources.append(obj)

    @micropython.native
    def next_timeout(self, now):
        """Milliseconds until the earliest timer of any layer or timer source,
        or -1 for none: how long the loop's owner (host runner, the image's
        poll hook) may sleep when no frame arrives."""
        best = self.arp.timer_at
        t = self.ip.frag.timer_at
        if t >= 0 and (best < 0 or t < best):
            best = t
        ip6 = self.ip6
        if ip6 is not None:
            t = ip6.timer_at
            if t >= 0 and (best < 0 or t < best):
                best = t
        if self._timer is not None:
            best = self._timer_bound(best)
        tcp = self.tcp
        if tcp is not None:
            if tcp.due:
                return 0
            t = tcp.timer_at
            if t >= 0 and (best < 0 or t < best):
                best = t
        for cl in self._clients:
            t = cl.timer_at
            if t >= 0 and (best < 0 or t < best):
                best = t
        if best >= 0:
            best = best - now if best > now else 0
        for src in self._timer_sources:
            t = src.next_timeout(now)
            if t >= 0 and (best < 0 or t < best):
                best = t
        return best
