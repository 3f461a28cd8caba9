# The one interface every NIC offers the stack (host NICs, the in-memory pair,
# the virtio driver). Buffers are lent, never allocated per packet.
#
#   receive(handler, budget) -> int
#       For up to `budget` received frames call handler(view, length) where
#       `view` is a memoryview of a buffer of at least BUF_SIZE bytes holding
#       the frame at [0:length] (Ethernet header first, no FCS). The handler
#       returns 0 (consumed or dropped) or n > 0: the NIC then transmits
#       view[:n] -- the answer the stack wrote in place. `view` is valid only
#       during the call. Returns the number of frames handled.
#   tx_buffer(size=BUF_SIZE) -> memoryview | None
#       A free transmit buffer of at least `size` bytes (more than BUF_SIZE
#       only from a NIC with tso_max > 0), or None when every such buffer is
#       in flight (the caller counts a drop, retries later or asks for a
#       small one). It stays reserved until passed to send() or release().
#   send(view, length)
#       Transmit view[:length]; view came from tx_buffer().
#   release(view)
#       Give back a buffer from tx_buffer() that will not be sent after all.
#   flush()
#       Push out batched transmissions (one kick per batch); Stack.poll calls
#       it once per round.
#   fileno() -> int | None
#       A descriptor host mode can wait on (select/poll), or None.
#   hw_mac -> bytes | None
#       The device's own MAC address if it has one (virtio config space).
#   close()
#
# Offloads (all off in this base class; virtio-net over tap, the tap NIC with
# a vnet header and the pair's offload mode have them):
#   rx_csum -> int
#       While the handler runs: 0 (check the TCP/UDP checksum), or the frame
#       came with RX_CSUM_VALID (the device checked it) or RX_CSUM_PARTIAL (a
#       sender on this host left it for hardware that never ran: not a sum to
#       check). Frames may then also be longer than MAX_FRAME: TCP segments
#       up to 64 KiB, merged by the host (GRO) or never cut (TSO).
#   tx_csum -> bool
#       The NIC completes TCP checksums of frames marked with tx_offload().
#   tso_max -> int
#       The largest IPv4 datagram a marked TCP frame may be (0: MTU only);
#       the NIC cuts it into gso_size-byte segments.
#   tx_offload(view, csum_start, csum_offset, gso_size, hdr_len)
#       Mark the frame in view (a tx_buffer): the checksum field at
#       csum_start + csum_offset holds the pseudo-header sum and the NIC
#       completes it; gso_size > 0 asks for segmentation (hdr_len: the bytes
#       of Ethernet, IPv4 and TCP headers that every segment repeats).
from ..compat import const

BUF_SIZE = const(2048)  # every frame buffer; >= 1514 + virtio-net header + slack
MAX_FRAME = const(1514)  # Ethernet II without FCS, 1500-byte MTU
RX_CSUM_PARTIAL = const(1)  # virtio-net's NEEDS_CSUM
RX_CSUM_VALID = const(2)  # virtio-net's DATA_VALID


class Nic:
    hw_mac = None
    rx_csum = 0
    tx_csum = False
    tso_max = 0

    def tx_offload(self, view, csum_start, csum_offset, gso_size, hdr_len):
        raise NotImplementedError

    def receive(self, handler, budget):
        raise NotImplementedError

    def tx_buffer(self, size=BUF_SIZE):
        raise NotImplementedError

    def send(self, view, length):
        raise NotImplementedError

    def release(self, view):
        pass

    def flush(self):
        pass

    def fileno(self):
        return None

    def close(self):
        pass


class CopyingNic(Nic):
    """Base for NICs that copy a frame out when it is sent (sockets, tap, the
    in-memory pair): a small pool of transmit buffers, each free again as soon
    as send() returns. Subclasses implement _transmit(view, length); those that
    read frames one at a time from a file or socket into one receive view
    (self._rx) implement _read() and share receive()."""

    rx_limit = MAX_FRAME  # longer frames (or ones the reader marks so) are dropped

    def __init__(self, tx_slots):
        self._tx_bufs = [memoryview(bytearray(BUF_SIZE)) for _ in range(tx_slots)]
        self._tx_free = list(range(tx_slots))
        self.rx_frames = 0
        self.rx_oversize = 0

    def receive(self, handler, budget):
        done = 0
        view = self._rx
        limit = self.rx_limit
        while done < budget:
            n = self._read()
            if n < 0:
                break
            if n > limit:  # longer than the buffer: maybe truncated, never delivered
                self.rx_oversize += 1
                continue
            self.rx_frames += 1
            done += 1
            try:
                reply = handler(view, n)
            finally:
                self.rx_csum = 0  # what _read() said holds for this frame only
            if reply > 0:
                self._transmit(view, reply)
        return done

    def _read(self):
        """Read the next frame into self._rx: its length, -1 when none is waiting,
        or more than rx_limit for one to drop."""
        raise NotImplementedError

    def tx_buffer(self, size=BUF_SIZE):
        if size > BUF_SIZE or not self._tx_free:
            return None
        return self._tx_bufs[self._tx_free.pop()]

    def send(self, view, length):
        self._transmit(view, length)
        self.release(view)

    def release(self, view):
        # In-place replies send a receive buffer: only transmit buffers go back.
        bufs = self._tx_bufs
        for i in range(len(bufs)):
            if bufs[i] is view:
                if i not in self._tx_free:
                    self._tx_free.append(i)
                return

    def _transmit(self, view, length):
        raise NotImplementedError
