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
#   tx_buffer() -> memoryview | None
#       A free transmit buffer (>= BUF_SIZE bytes), or None when every buffer
#       is in flight (the caller counts a drop or retries later). It stays
#       reserved until passed to send().
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
from ..compat import const

BUF_SIZE = const(2048)  # every frame buffer; >= 1514 + virtio-net header + slack
MAX_FRAME = const(1514)  # Ethernet II without FCS, 1500-byte MTU


class Nic:
    hw_mac = None

    def receive(self, handler, budget):
        raise NotImplementedError

    def tx_buffer(self):
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
    as send() returns. Subclasses implement _transmit(view, length)."""

    def __init__(self, tx_slots):
        self._tx_bufs = [memoryview(bytearray(BUF_SIZE)) for _ in range(tx_slots)]
        self._tx_free = list(range(tx_slots))

    def tx_buffer(self):
        if not self._tx_free:
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
