# VirtioNet: a virtio-net device (mmio or pci transport) behind the stack's NIC
# interface (ethox_uk/stack/nic/base.py).
#
#   nic = VirtioNet(transport, bus)  # negotiates, sets up both queues, DRIVER_OK
#   stack = Stack(nic, config)       # nic.hw_mac: the device's MAC (config space)
#
# Receive: one arena of rx_size CHUNK-byte buffers, descriptor d fixed to chunk
# d and avail entry i fixed to descriptor i, so handing buffers back is only a
# store of the avail index (no descriptor or ring entry is written after
# set-up). With MRG_RXBUF the device spreads a large frame over consecutive
# buffers -- consecutive chunks of the arena, since it takes avail entries in
# order -- with the 12-byte header in the first; the frame is then contiguous
# in memory from the first chunk on, except when it runs past the arena's
# end: its tail is copied once into a guard area after the last chunk. The
# stack sees a memoryview from the frame's first byte to the end of the arena
# (one per chunk, made once).
#
# Offloads (virtio 1.x §5.1.6.2-4), used when the device offers them (QEMU does
# over tap, which has a vnet header; a -netdev dgram/stream/user backend has
# none, and then the plain path below is all there is):
#   GUEST_CSUM   a received frame's header says the TCP/UDP checksum is valid
#                (DATA_VALID) or not yet computed (NEEDS_CSUM, the host's own
#                partial checksum): `rx_csum` holds that flag while the stack
#                handles the frame, and the layers skip their check.
#   GUEST_TSO4   with MRG_RXBUF, the host hands over TCP segments it merged
#                (GRO) or never cut (TSO), up to 64 KiB: one stack traversal
#                where the plain path takes ~45.
#   CSUM         `tx_csum`: the stack may leave a TCP checksum to the device
#                (the pseudo-header sum in the field, `tx_offload()` marks it).
#   HOST_TSO4    `tso_max` > 0: the stack may send TCP segments up to 64 KiB
#                from big transmit buffers (`tx_buffer(size)`); the host cuts
#                them into gso_size pieces.
#
# Transmit: small slots (a header + BUF_SIZE) for ACKs, replies and plain
# segments, and with HOST_TSO4 a few big ones; each frame is one descriptor. An
# in-place reply is copied from the arena into a small slot (the arena's order
# must stay intact). A slot comes back to its pool when the device has used it.
#
# Device registers are never read on the data path. Received frames are found
# by polling the used ring in memory; notifications are suppressed with
# EVENT_IDX (used_event kept one behind while busy); the transmit queue is
# kicked once per flush() (one register write per poll round with output, not
# per frame), the receive queue only when the device asks (avail_event: it ran
# out of buffers). Interrupts are wanted only when the CPU is about to halt:
# prepare_wait() acknowledges the device's line (the 8259 is edge-triggered:
# a line left high would never interrupt again), asks for an interrupt at the
# next received frame and re-checks the ring. So an idle guest sleeps, and a
# busy one takes no interrupt per packet.
#
# `bus` is the hardware accessor (the runtime's `_ethox`, or virtio.sim.SimBus).
from array import array

from ethox_uk.stack.compat import const, micropython
from ethox_uk.stack.nic.base import BUF_SIZE, Nic
from ethox_uk.stack.wire.copy import copy as _copy

from . import F_VERSION_1, S_DRIVER_OK, S_FAILED, VirtioError, negotiate
from .queue import AVAIL_F_NO_INTERRUPT, DESC_F_WRITE, Virtqueue, need_event

# virtio-net feature bits (virtio 1.x §5.1.3)
F_CSUM = const(1 << 0)
F_GUEST_CSUM = const(1 << 1)
F_MAC = const(1 << 5)
F_GUEST_TSO4 = const(1 << 7)
F_HOST_TSO4 = const(1 << 11)
F_MRG_RXBUF = const(1 << 15)
F_STATUS = const(1 << 16)
F_CTRL_VQ = const(1 << 17)
F_EVENT_IDX = const(1 << 29)

FEATURE_NAMES = ((F_CSUM, "csum"), (F_GUEST_CSUM, "guest_csum"), (F_HOST_TSO4, "host_tso4"),
                 (F_GUEST_TSO4, "guest_tso4"), (F_MRG_RXBUF, "mrg_rxbuf"),
                 (F_EVENT_IDX, "event_idx"))

BASE = F_VERSION_1 | F_MAC | F_STATUS | F_EVENT_IDX | F_MRG_RXBUF
OFFLOADS = F_CSUM | F_GUEST_CSUM | F_HOST_TSO4
REQUIRED = F_VERSION_1
# (feature, what it needs): the spec's dependencies, and GUEST_TSO4 only with
# MRG_RXBUF (without it every receive buffer would have to hold 64 KiB)
DEPENDS = ((F_HOST_TSO4, F_CSUM), (F_GUEST_TSO4, F_GUEST_CSUM), (F_GUEST_TSO4, F_MRG_RXBUF))

# struct virtio_net_hdr_mrg_rxbuf (12 bytes with VERSION_1)
HDR = const(12)
HDR_F_NEEDS_CSUM = const(1)
HDR_F_DATA_VALID = const(2)
GSO_TCPV4 = const(1)

CHUNK = const(2048)  # one receive buffer; holds HDR + a 1514-byte frame whole
STRIDE = const(2064)  # small transmit slot: HDR + BUF_SIZE, 16-byte aligned
BIG_FRAME = const(65536 + 64)  # a 64 KiB TCP segment with its headers
BIG_STRIDE = const(65616)  # HDR + BIG_FRAME, 16-byte aligned
MAX_MERGED = const(33)  # chunks of the largest frame (HDR + 14 + 65535 bytes)
TSO_MAX = const(65535)  # the largest IPv4 datagram
RXQ = const(0)
TXQ = const(1)
NO_IRQ_WAIT_MS = const(10)  # longest halt without a usable interrupt (100 Hz)

_BROKEN = const(-0x10000)  # a used entry that breaks the device contract

# transmit slot states (robustness: send/release only take reserved slots)
_FREE = const(0)
_RESERVED = const(2)
_TX = const(3)


class VirtioNet(Nic):
    def __init__(self, transport, bus, rx_size=256, tx_size=128, big_tx=16, offloads=True,
                 gro=True, kick_tx_always=True):
        t = transport
        self.t = t
        self.bus = bus
        wanted = BASE
        if offloads:
            wanted |= OFFLOADS
            if gro:
                wanted |= F_GUEST_TSO4
        if not big_tx:
            wanted &= ~F_HOST_TSO4
        f = negotiate(t, wanted, REQUIRED, DEPENDS)
        self.features = f
        ev = bool(f & F_EVENT_IDX)
        self.event_idx = ev
        self.mrg = bool(f & F_MRG_RXBUF)
        big = big_tx if f & F_HOST_TSO4 else 0
        try:
            rx_n = _queue_size(t, RXQ, rx_size)
            tx_n = _queue_size(t, TXQ, tx_size + big)
            if tx_n < tx_size + big:
                tx_size = tx_n - big if tx_n > big + 1 else tx_n
                big = tx_n - tx_size
            rxq = Virtqueue(bus, RXQ, rx_n)
            txq = Virtqueue(bus, TXQ, tx_n)
        except (VirtioError, ValueError) as e:
            t.add_status(S_FAILED)
            raise VirtioError("%r: %s" % (t, e))
        self.rxq = rxq
        self.txq = txq
        self._rx_last = 0  # next used entry to look at (receive / transmit)
        self._tx_last = 0

        # -- capabilities the stack asks for (nic/base.py)
        self.tx_csum = bool(f & F_CSUM)
        self.tso_max = TSO_MAX if big else 0
        self.rx_csum = 0  # the received frame's header flags while the stack has it

        # -- the receive arena: chunk d at d * CHUNK; a guard after the last
        # chunk holds the tail of a merged frame that ran past the end
        guard = (MAX_MERGED * CHUNK) if f & F_GUEST_TSO4 else CHUNK
        self._arena = bytearray(rx_n * CHUNK + guard)
        am = memoryview(self._arena)
        self._arena_mv = am
        self._rx_frames = [am[d * CHUNK + HDR:] for d in range(rx_n)]
        base = bus.addressof(self._arena)
        _below_4g(base + len(self._arena))
        for d in range(rx_n):
            rxq.set_buffer(d, base + d * CHUNK, CHUNK, DESC_F_WRITE)
            rxq.publish(d)  # avail entry i holds descriptor i, for good

        # -- transmit slots: tx_size small ones, then `big` big ones
        n = tx_size + big
        self._small = tx_size
        self._txmem = bytearray(tx_size * STRIDE)
        sm = memoryview(self._txmem)
        tb = bus.addressof(self._txmem)
        _below_4g(tb + len(self._txmem))
        self._frames = [sm[i * STRIDE + HDR:i * STRIDE + HDR + BUF_SIZE] for i in range(tx_size)]
        self._hdrs = [sm[i * STRIDE:i * STRIDE + HDR] for i in range(tx_size)]
        self._addr = [tb + i * STRIDE for i in range(tx_size)]
        self._bigmem = None
        if big:
            self._bigmem = bytearray(big * BIG_STRIDE)
            bm = memoryview(self._bigmem)
            bb = bus.addressof(self._bigmem)
            _below_4g(bb + len(self._bigmem))
            for i in range(big):
                o = i * BIG_STRIDE
                self._frames.append(bm[o + HDR:o + HDR + BIG_FRAME])
                self._hdrs.append(bm[o:o + HDR])
                self._addr.append(bb + o)
        self._slot_of = {}
        for i in range(n):
            self._slot_of[id(self._frames[i])] = i
        self._state = bytearray(n)
        self._free = array("H", range(tx_size))  # small slots (a stack)
        self._nfree = tx_size
        self._bfree = array("H", range(tx_size, n))  # big slots
        self._nbfree = big
        self._tx_slot = array("H", range(tx_n))
        self._txd_free = array("H", range(tx_n))
        self._ntxd = tx_n

        # hot-path references (attribute loads beat method calls in MicroPython)
        self._rxa = rxq.avail
        self._rxu = rxq.used
        self._rx_mask = rx_n - 1
        self._rx_n = rx_n
        self._txd = txq.desc
        self._txa = txq.avail
        self._txu = txq.used
        self._tx_mask = tx_n - 1
        self._rx_ev_at = rxq.used_event_at
        self._rx_aev_at = rxq.avail_event_at
        self._tx_ev_at = txq.used_event_at
        self._tx_aev_at = txq.avail_event_at
        # no interrupts until prepare_wait() asks for one; never for transmit
        rxq.suppress(ev)
        txq.suppress(ev)

        try:
            t.setup_queue(rxq)
            t.setup_queue(txq)
            self._rx_kick = t.notify_address(RXQ)
            self._tx_kick = t.notify_address(TXQ)
        except VirtioError:
            t.add_status(S_FAILED)
            raise
        self._notify = bus.write32 if t.notify_width == 32 else bus.write16
        self._mfence = bus.mfence
        self.kick_tx_always = kick_tx_always

        self.hw_mac = None
        if f & F_MAC:
            self.hw_mac = bytes([t.config8(i) for i in range(6)])
        self.link_up = True
        if f & F_STATUS:
            self.link_up = bool(t.config8(6) & 1)

        # interrupts: only to end an idle halt
        self.irq = t.irq
        self._irq_bit = 0 if t.irq is None else 1 << t.irq
        self._ack_next = True  # the line may be high from before: lower it first
        self._armed_rx = -1  # used idx at the last arming (-1: not armed)
        self._armed_tx = -1
        self.max_wait_ms = NO_IRQ_WAIT_MS if t.irq is None else -1
        # (the IRQ is unmasked at the first wait: the runtime's interrupt set-up
        # costs ~1.6 ms of trapped port I/O under this KVM, after the first replies)

        # statistics (register accesses = kicks + acks; none other after set-up)
        self.rx_frames = 0
        self.tx_frames = 0
        self.rx_kicks = 0
        self.tx_kicks = 0
        self.irq_acks = 0
        self.tx_ring_full = 0
        self.rx_runts = 0
        self.rx_bad = 0  # used entries that break the device contract
        self.rx_merged = 0  # frames that took more than one buffer
        self.rx_wraps = 0  # ... of which ran past the arena's end
        self.tx_tso = 0  # frames sent for the device to segment

        t.add_status(S_DRIVER_OK)
        self.rxq.notified_idx = self.rxq.avail_idx
        self._kick(self._rx_kick)  # the receive ring is full: tell the device once
        self.rx_kicks += 1

    def __repr__(self):
        return "VirtioNet(%r, rx %d, tx %d)" % (self.t, self.rxq.size, self.txq.size)

    def offloads(self):
        """Names of the negotiated features that shape the data path."""
        return [name for bit, name in FEATURE_NAMES if self.features & bit]

    def _kick(self, where):
        self._notify(where[0], where[1])

    # -- receive ------------------------------------------------------------------
    @micropython.native
    def receive(self, handler, budget):
        u = self._rxu
        last = self._rx_last
        idx = u[1]
        if idx == last:
            return 0
        frames = self._rx_frames
        arena = self._arena
        mask = self._rx_mask
        mrg = self.mrg
        ai = self.rxq.avail_idx
        done = 0
        nb = 0  # buffers of the frame being handled (0: none)
        try:
            while done < budget:
                if last == idx:
                    idx = u[1]
                    if last == idx:
                        break
                e = 2 + ((last & mask) << 2)
                d = u[e]
                n = u[e + 2] - HDR
                nb = 1
                if mrg:
                    o = d * CHUNK
                    k = arena[o + 10] | (arena[o + 11] << 8)
                    if k != 1:
                        m = self._merged(d, n, k, last, idx)
                        if m == -2:  # not all of its buffers are published yet
                            idx = u[1]
                            m = self._merged(d, n, k, last, idx)
                            if m == -2:
                                nb = 0
                                break
                        if m < 0:
                            n = _BROKEN  # give back this one buffer
                        else:
                            nb = k
                            n = m
                last = (last + nb) & 0xFFFF
                done += 1
                if n > 0 and d == ((last - nb) & mask):
                    self.rx_csum = arena[d * CHUNK]
                    r = handler(frames[d], n)
                    if r > 0:
                        self._reply(frames[d], r)
                elif n == _BROKEN or n > 0:
                    self.rx_bad += 1
                else:
                    self.rx_runts += 1
                ai = (ai + nb) & 0xFFFF
                nb = 0
        finally:
            if nb:  # the handler raised: its frame's buffers still go back to the ring
                ai = (ai + nb) & 0xFFFF
            self.rx_csum = 0
            self._rx_last = last
            self.rxq.avail_idx = ai
            self._rxa[1] = ai  # hand the buffers back at once
            self.rx_frames += done
        a = self._rxa
        if self.event_idx:
            a[self._rx_ev_at] = (last - 1) & 0xFFFF  # busy: no interrupts
            self._mfence()
            old = self.rxq.notified_idx
            self.rxq.notified_idx = ai
            if need_event(u[self._rx_aev_at], ai, old):
                self._kick(self._rx_kick)
                self.rx_kicks += 1
        else:
            a[0] = AVAIL_F_NO_INTERRUPT  # busy: no interrupts
            self._mfence()
            if self.rxq.should_notify(False):
                self._kick(self._rx_kick)
                self.rx_kicks += 1
        return done

    def _merged(self, d, n, nb, last, idx):
        """Length of the frame spread over nb buffers from chunk d (n: the
        first one's payload), -2 when not all nb are used yet, -1 when the
        entries break the contract (not consecutive, a short middle buffer)."""
        if nb < 1 or nb > MAX_MERGED:
            return -1
        if ((idx - last) & 0xFFFF) < nb:
            return -2
        u = self._rxu
        mask = self._rx_mask
        total = n
        for j in range(1, nb):
            e = 2 + (((last + j) & mask) << 2)
            if u[e] != ((d + j) & mask) or (j < nb - 1 and u[e + 2] != CHUNK):
                return -1
            total += u[e + 2]
        if n != CHUNK - HDR:
            return -1
        over = d + nb - self._rx_n
        if over > 0:
            # the frame ran past the arena's end: bring its tail after the last chunk
            a = self._arena
            _copy(a, self._rx_n * CHUNK, a, 0, over * CHUNK)
            self.rx_wraps += 1
        self.rx_merged += 1
        return total

    @micropython.native
    def _reply(self, view, length):
        """Send the in-place reply view[:length] (a receive buffer) from a small slot."""
        s = self._take_small()
        if s < 0:
            self.tx_ring_full += 1
            return
        h = self._hdrs[s]
        h[0] = 0
        h[1] = 0
        _copy(self._frames[s], 0, view, 0, length)
        self._post(s, length)

    # -- transmit ---------------------------------------------------------------
    def _take_small(self):
        n = self._nfree
        if n == 0:
            self._reclaim()
            n = self._nfree
            if n == 0:
                return -1
        n -= 1
        self._nfree = n
        return self._free[n]

    def tx_buffer(self, size=BUF_SIZE):
        if size > BUF_SIZE:
            n = self._nbfree
            if n == 0:
                self._reclaim()
                n = self._nbfree
                if n == 0:
                    return None
            n -= 1
            self._nbfree = n
            s = self._bfree[n]
        else:
            s = self._take_small()
            if s < 0:
                return None
        self._state[s] = _RESERVED
        h = self._hdrs[s]
        h[0] = 0  # flags: no checksum to complete
        h[1] = 0  # gso_type: none
        return self._frames[s]

    def tx_offload(self, view, csum_start, csum_offset, gso_size, hdr_len):
        """Mark the frame in view (from tx_buffer()): the device completes the
        checksum at csum_start + csum_offset (the field holds the pseudo-header
        sum) and, with gso_size > 0, cuts the TCP segment into gso_size pieces."""
        s = self._slot_of[id(view)]
        h = self._hdrs[s]
        h[0] = HDR_F_NEEDS_CSUM
        h[1] = GSO_TCPV4 if gso_size else 0
        h[2] = hdr_len & 0xFF
        h[3] = hdr_len >> 8
        h[4] = gso_size & 0xFF
        h[5] = gso_size >> 8
        h[6] = csum_start & 0xFF
        h[7] = csum_start >> 8
        h[8] = csum_offset & 0xFF
        h[9] = csum_offset >> 8
        if gso_size:
            self.tx_tso += 1

    def send(self, view, length):
        s = self._slot_of[id(view)]
        if self._state[s] != _RESERVED:
            raise ValueError("send: not a buffer from tx_buffer()")
        self._post(s, length)

    def release(self, view):
        s = self._slot_of.get(id(view), -1)
        if s >= 0 and self._state[s] == _RESERVED:
            self._give_back(s)

    def _give_back(self, s):
        self._state[s] = _FREE
        if s < self._small:
            n = self._nfree
            self._free[n] = s
            self._nfree = n + 1
        else:
            n = self._nbfree
            self._bfree[n] = s
            self._nbfree = n + 1

    @micropython.native
    def _post(self, s, length):
        self._state[s] = _TX
        t = self._ntxd - 1
        self._ntxd = t
        d = self._txd_free[t]
        self._tx_slot[d] = s
        w = self._txd
        i = d << 2
        w[i] = self._addr[s]
        w[i + 2] = length + HDR
        q = self.txq
        ai = q.avail_idx
        a = self._txa
        a[2 + (ai & self._tx_mask)] = d
        ai = (ai + 1) & 0xFFFF
        q.avail_idx = ai
        a[1] = ai
        self.tx_frames += 1

    def _reclaim(self):
        """Take back the slots and descriptors the device has transmitted."""
        u = self._txu
        idx = u[1]
        last = self._tx_last
        if idx == last:
            return
        mask = self._tx_mask
        tslot = self._tx_slot
        dfree = self._txd_free
        nd = self._ntxd
        while last != idx:
            d = u[2 + ((last & mask) << 2)]
            self._give_back(tslot[d])
            dfree[nd] = d
            nd += 1
            last = (last + 1) & 0xFFFF
        self._ntxd = nd
        self._tx_last = last
        if self.event_idx:
            self._txa[self._tx_ev_at] = (last - 1) & 0xFFFF  # still no interrupts

    @micropython.native
    def flush(self):
        q = self.txq
        ai = q.avail_idx
        old = q.notified_idx
        if ai != old:
            q.notified_idx = ai
            if self.kick_tx_always:
                self._kick(self._tx_kick)
                self.tx_kicks += 1
            else:
                self._mfence()
                if self.event_idx:
                    asked = need_event(self._txu[self._tx_aev_at], ai, old)
                else:
                    asked = not self._txu[0] & 1
                if asked:
                    self._kick(self._tx_kick)
                    self.tx_kicks += 1
        if self._txu[1] != self._tx_last:
            self._reclaim()

    # -- waiting ------------------------------------------------------------------
    @micropython.native
    def rx_ready(self):
        """A received frame is waiting in the used ring."""
        return self._rxu[1] != self._rx_last

    @micropython.native
    def prepare_wait(self):
        """Before the CPU halts: lower the device's interrupt line if it may be
        high, ask for an interrupt at the next received frame (and at the next
        transmit completion when no transmit buffer is free), then look again.
        True when nothing is waiting (halting is safe), False otherwise.

        The line can only have risen after an arming (while busy, used_event
        stays one behind what we consumed, and the device can never get 65536
        entries ahead of it): so it is high exactly when a ring moved since we
        armed it -- known from memory, without reading the ISR. The runtime's
        pending bit is checked too (a configuration-change interrupt)."""
        if self._irq_bit:
            at = self._armed_tx
            if self._ack_next:
                self.bus.irq_enable(self.irq)
            if (self._ack_next or self._rxu[1] != self._armed_rx
                    or (at >= 0 and self._txu[1] != at)
                    or self.bus.irq_pending() & self._irq_bit):
                self._ack_next = False
                self._armed_tx = -1
                self.t.ack_interrupt()
                self.irq_acks += 1
        ev = self.event_idx
        last = self._rx_last
        self.rxq.last_used = last
        self.rxq.enable(ev)
        self._armed_rx = last
        starved = self._nfree == 0
        if starved:
            self.txq.last_used = self._tx_last
            self.txq.enable(ev)
            self._armed_tx = self._tx_last
        self._mfence()
        if self._rxu[1] != last:
            return False
        if starved and self._txu[1] != self._tx_last:
            return False
        return True

    def wait(self, ms):
        """Idle for up to ms milliseconds or until a frame arrives (the socket
        layer's idle hook). Halts the CPU through the runtime (which also runs
        the poll hook first); never spins."""
        if self.max_wait_ms >= 0 and (ms < 0 or ms > self.max_wait_ms):
            ms = self.max_wait_ms
        if self.prepare_wait():
            self.bus.idle(ms)

    def stats(self):
        return {
            "rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
            "rx_kicks": self.rx_kicks, "tx_kicks": self.tx_kicks,
            "irq_acks": self.irq_acks, "tx_ring_full": self.tx_ring_full,
            "rx_runts": self.rx_runts, "rx_bad": self.rx_bad, "rx_merged": self.rx_merged,
            "rx_wraps": self.rx_wraps, "tx_tso": self.tx_tso, "tx_free": self._nfree,
            "offloads": " ".join(self.offloads()),
        }

    def close(self):
        """Stop the device (reset): it no longer touches our buffers."""
        self.t.reset()
        if self.irq is not None:
            self.bus.irq_enable(self.irq, False)


def _below_4g(end):
    if end >> 32:  # the runtime identity-maps 0-4 GiB only
        raise VirtioError("buffers above 4 GiB (0x%x)" % end)


def _queue_size(t, index, want):
    m = t.queue_max(index)
    if m == 0:
        raise VirtioError("queue %d is not available" % index)
    n = 1
    while n * 2 <= min(want, m):
        n *= 2
    return n
