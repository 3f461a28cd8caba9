# VirtioNet: a virtio-net device (mmio or pci transport) behind the stack's NIC
# interface (ethox_uk/stack/nic/base.py).
#
#   nic = VirtioNet(transport)       # negotiates, sets up both queues, DRIVER_OK
#   stack = Stack(nic, config)       # nic.hw_mac: the device's MAC (config space)
#
# Buffers: one pool of rx_size + tx_size slots in a single bytearray, each slot
# the 12-byte virtio-net header (VERSION_1 always has num_buffers) followed by a
# BUF_SIZE frame area; the stack sees a memoryview of the frame area, made once
# per slot. The receive ring always holds rx_size slots. An in-place reply
# moves its slot from the receive ring to the transmit ring (no copy) and the
# receive descriptor takes a free slot instead; a transmitted slot comes back
# to the pool when the device has used it. The pool is exactly large enough:
# free slots == transmit credit, so a reply or tx_buffer() never finds the pool
# empty while it has credit.
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

from ethox_uk.stack.nic.base import BUF_SIZE, Nic

from . import F_VERSION_1, S_DRIVER_OK, S_FAILED, VirtioError, negotiate
from .queue import AVAIL_F_NO_INTERRUPT, DESC_F_WRITE, Virtqueue, need_event

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# virtio-net feature bits (virtio 1.x §5.1.3)
F_CSUM = const(1 << 0)
F_GUEST_CSUM = const(1 << 1)
F_MAC = const(1 << 5)
F_MRG_RXBUF = const(1 << 15)
F_STATUS = const(1 << 16)
F_CTRL_VQ = const(1 << 17)
F_EVENT_IDX = const(1 << 29)

# What we ask for. Not MRG_RXBUF: a 2048-byte buffer holds any 1514-byte frame,
# so merging buys nothing without segmentation offloads. Not CSUM/GUEST_CSUM:
# the stack sums in native code (_ethox.checksum, ~1 us per 1500 bytes), and a
# -netdev dgram peer has no checksum offload to hand the work to.
WANTED = F_VERSION_1 | F_MAC | F_STATUS | F_EVENT_IDX
REQUIRED = F_VERSION_1

HDR = const(12)  # struct virtio_net_hdr_mrg_rxbuf: 12 bytes with VERSION_1
SLOT = const(2060)  # HDR + BUF_SIZE: one buffer as the device sees it
STRIDE = const(2064)  # slots start 16-byte aligned in the pool
RXQ = const(0)
TXQ = const(1)
NO_IRQ_WAIT_MS = const(10)  # longest halt without a usable interrupt (100 Hz)

# slot states (robustness: send/release only take reserved slots)
_FREE = const(0)
_RX = const(1)
_RESERVED = const(2)
_TX = const(3)


class VirtioNet(Nic):
    def __init__(self, transport, bus, rx_size=256, tx_size=128, kick_tx_always=True):
        assert HDR + BUF_SIZE == SLOT
        t = transport
        self.t = t
        self.bus = bus
        self.features = negotiate(t, WANTED, REQUIRED)
        ev = bool(self.features & F_EVENT_IDX)
        self.event_idx = ev
        try:
            rx_n = _queue_size(t, RXQ, rx_size)
            tx_n = _queue_size(t, TXQ, tx_size)
            rxq = Virtqueue(bus, RXQ, rx_n)
            txq = Virtqueue(bus, TXQ, tx_n)
        except (VirtioError, ValueError) as e:
            t.add_status(S_FAILED)
            raise VirtioError("%r: %s" % (t, e))
        self.rxq = rxq
        self.txq = txq
        self._rx_last = 0  # next used entry to look at (receive / transmit)
        self._tx_last = 0

        # -- the buffer pool: one allocation (512 small ones take ~40 ms under TCG)
        n = rx_n + tx_n
        self._mem = bytearray(n * STRIDE)
        mv = memoryview(self._mem)
        self._frames = [mv[i * STRIDE + HDR:i * STRIDE + SLOT] for i in range(n)]
        base = bus.addressof(self._mem)
        if (base + n * STRIDE) >> 32:  # the runtime identity-maps 0-4 GiB only
            raise VirtioError("buffers above 4 GiB (0x%x)" % base)
        self._addr = [base + i * STRIDE for i in range(n)]
        self._slot_of = {}
        for i in range(n):
            self._slot_of[id(self._frames[i])] = i
        self._state = bytearray(n)
        self._free = array("H", range(n))
        self._nfree = n  # == transmit credit once the receive ring is filled

        # -- receive ring: every descriptor holds a slot
        self._rx_slot = array("H", range(rx_n))
        for d in range(rx_n):
            s = self._take()
            self._rx_slot[d] = s
            self._state[s] = _RX
            rxq.set_buffer(d, self._addr[s], SLOT, DESC_F_WRITE)
            rxq.publish(d)
        # -- transmit ring: descriptors are taken from a free stack at send time
        self._tx_slot = array("H", range(tx_n))
        self._txd_free = array("H", range(tx_n))
        self._ntxd = tx_n

        # hot-path references (attribute loads beat method calls in MicroPython)
        self._rxd = rxq.desc
        self._rxa = rxq.avail
        self._rxu = rxq.used
        self._rx_mask = rx_n - 1
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
        if self.features & F_MAC:
            self.hw_mac = bytes([t.config8(i) for i in range(6)])
        self.link_up = True
        if self.features & F_STATUS:
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

        t.add_status(S_DRIVER_OK)
        self.rxq.notified_idx = self.rxq.avail_idx
        self._kick(self._rx_kick)  # the receive ring is full: tell the device once
        self.rx_kicks += 1

    def __repr__(self):
        return "VirtioNet(%r, rx %d, tx %d)" % (self.t, self.rxq.size, self.txq.size)

    # -- pool -------------------------------------------------------------------
    def _take(self):
        n = self._nfree - 1
        self._nfree = n
        return self._free[n]

    def _kick(self, where):
        self._notify(where[0], where[1])

    # -- receive ------------------------------------------------------------------
    def receive(self, handler, budget):
        u = self._rxu
        last = self._rx_last
        idx = u[1]
        if idx == last:
            return 0
        frames = self._frames
        rslot = self._rx_slot
        mask = self._rx_mask
        a = self._rxa
        ai = self.rxq.avail_idx
        done = 0
        cur = -1  # the descriptor whose frame is being handled
        try:
            while done < budget:
                if last == idx:
                    idx = u[1]
                    if last == idx:
                        break
                e = 2 + ((last & mask) << 2)
                d = u[e]
                n = u[e + 2] - HDR
                last = (last + 1) & 0xFFFF
                done += 1
                cur = d
                if n > 0:
                    r = handler(frames[rslot[d]], n)
                    if r > 0:
                        self._reply(d, r)
                else:
                    self.rx_runts += 1
                a[2 + (ai & mask)] = d
                ai = (ai + 1) & 0xFFFF
                cur = -1
        finally:
            if cur >= 0:  # the handler raised: the buffer still goes back to the ring
                a[2 + (ai & mask)] = cur
                ai = (ai + 1) & 0xFFFF
            self._rx_last = last
            self.rxq.avail_idx = ai
            a[1] = ai  # publish the refilled descriptors at once
            self.rx_frames += done
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

    def _reply(self, d, length):
        """Send receive descriptor d's slot (an in-place reply); refill d."""
        if self._nfree == 0:
            self._reclaim()
            if self._nfree == 0:
                self.tx_ring_full += 1
                return
        slot = self._rx_slot[d]
        n = self._nfree - 1
        self._nfree = n
        new = self._free[n]
        self._rx_slot[d] = new
        self._state[new] = _RX
        self._rxd[d << 2] = self._addr[new]
        self._post(slot, length)

    # -- transmit ---------------------------------------------------------------
    def tx_buffer(self):
        n = self._nfree
        if n == 0:
            self._reclaim()
            n = self._nfree
            if n == 0:
                return None
        n -= 1
        self._nfree = n
        s = self._free[n]
        self._state[s] = _RESERVED
        return self._frames[s]

    def send(self, view, length):
        s = self._slot_of[id(view)]
        if self._state[s] != _RESERVED:
            raise ValueError("send: not a buffer from tx_buffer()")
        self._post(s, length)

    def release(self, view):
        s = self._slot_of.get(id(view), -1)
        if s >= 0 and self._state[s] == _RESERVED:
            self._state[s] = _FREE
            n = self._nfree
            self._free[n] = s
            self._nfree = n + 1

    def _post(self, s, length):
        m = self._mem
        o = s * STRIDE
        m[o] = 0  # flags: no checksum to complete
        m[o + 1] = 0  # gso_type: none
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
        free = self._free
        state = self._state
        tslot = self._tx_slot
        dfree = self._txd_free
        nf = self._nfree
        nd = self._ntxd
        while last != idx:
            d = u[2 + ((last & mask) << 2)]
            s = tslot[d]
            state[s] = _FREE
            free[nf] = s
            nf += 1
            dfree[nd] = d
            nd += 1
            last = (last + 1) & 0xFFFF
        self._nfree = nf
        self._ntxd = nd
        self._tx_last = last
        if self.event_idx:
            self._txa[self._tx_ev_at] = (last - 1) & 0xFFFF  # still no interrupts

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
    def rx_ready(self):
        """A received frame is waiting in the used ring."""
        return self._rxu[1] != self._rx_last

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
            "rx_runts": self.rx_runts, "tx_free": self._nfree,
        }

    def close(self):
        """Stop the device (reset): it no longer touches our buffers."""
        self.t.reset()
        if self.irq is not None:
            self.bus.irq_enable(self.irq, False)


def _queue_size(t, index, want):
    m = t.queue_max(index)
    if m == 0:
        raise VirtioError("queue %d is not available" % index)
    n = 1
    while n * 2 <= min(want, m):
        n *= 2
    return n
