# One split virtqueue (virtio 1.x §2.7) in preallocated arrays.
#
#   desc   array('I'), 4 words per descriptor: addr low, addr high, len,
#          flags | next << 16                      (16-byte entries)
#   avail  array('H'): [0] flags, [1] idx, [2 + i] ring[i], [2 + size] used_event
#   used   array('H'): [0] flags, [1] idx, entry i at [2 + 4i] (id low, id high,
#          len low, len high), [2 + 4 * size] avail_event
#
# Arrays keep every ring access a small-int load/store (no big-int, no struct);
# their storage comes from the GC heap, 16-byte aligned and never moved (the
# queue keeps the references). The driver's hot paths (net.py) index these
# arrays directly; this class holds the set-up and the bookkeeping.
from array import array

from ethox_uk.stack.compat import const


DESC_F_NEXT = const(1)
DESC_F_WRITE = const(2)
AVAIL_F_NO_INTERRUPT = const(1)
USED_F_NO_NOTIFY = const(1)


def need_event(event, new, old):
    """virtio's vring_need_event: has idx moved from old to new past event?"""
    return ((new - event - 1) & 0xFFFF) < ((new - old) & 0xFFFF)


def zeros(typecode, n):
    # array(tc, bytearray) copies raw bytes under both interpreters
    # (array(tc, bytes) would make one element per byte in MicroPython).
    size = 4 if typecode == "I" else 2
    return array(typecode, bytearray(size * n))


class Virtqueue:
    def __init__(self, bus, index, size):
        if size < 2 or size & (size - 1) or size > 32768:
            raise ValueError("queue size %d: must be a power of two, 2..32768" % size)
        self.index = index
        self.size = size
        self.mask = size - 1
        self.desc = zeros("I", 4 * size)
        self.avail = zeros("H", size + 3)
        self.used = zeros("H", 4 * size + 3)
        self.desc_addr = bus.addressof(self.desc)
        self.avail_addr = bus.addressof(self.avail)
        self.used_addr = bus.addressof(self.used)
        if self.desc_addr & 15 or self.avail_addr & 1 or self.used_addr & 3:
            raise ValueError("virtqueue arrays are not aligned")
        self.used_event_at = 2 + size  # in avail
        self.avail_event_at = 2 + 4 * size  # in used
        self.last_used = 0  # next used entry the driver will look at
        self.avail_idx = 0  # the driver's producer index (published in avail[1])
        self.notified_idx = 0  # avail idx at the last notification decision

    def set_buffer(self, d, addr, length, flags):
        """Point descriptor d at addr/length (set-up; hot paths write desc directly)."""
        w = self.desc
        i = d << 2
        w[i] = addr & 0xFFFFFFFF
        w[i + 1] = addr >> 32
        w[i + 2] = length
        w[i + 3] = flags

    def publish(self, d):
        """Add descriptor chain head d to the avail ring and publish the new idx."""
        a = self.avail
        i = self.avail_idx
        a[2 + (i & self.mask)] = d
        i = (i + 1) & 0xFFFF
        self.avail_idx = i
        a[1] = i

    def pending(self):
        """Used entries the driver has not consumed yet."""
        return (self.used[1] - self.last_used) & 0xFFFF

    def should_notify(self, event_idx):
        """After publishing: does the device want a notification? (needs a full
        barrier between the avail idx store and this read; the caller fences)."""
        new = self.avail_idx
        old = self.notified_idx
        self.notified_idx = new
        if new == old:
            return False
        if event_idx:
            return need_event(self.used[self.avail_event_at], new, old)
        return not (self.used[0] & USED_F_NO_NOTIFY)

    def suppress(self, event_idx):
        """Ask the device for no interrupts (until the next enable)."""
        if event_idx:
            self.avail[self.used_event_at] = (self.last_used - 1) & 0xFFFF
        else:
            self.avail[0] = AVAIL_F_NO_INTERRUPT

    def enable(self, event_idx):
        """Ask for an interrupt at the next used entry."""
        if event_idx:
            self.avail[self.used_event_at] = self.last_used
        else:
            self.avail[0] = 0
