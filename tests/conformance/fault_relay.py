"""A frame relay between the suite and a target that changes traffic on the way: it turns a
correct stack into one that misbehaves in exactly one way, so a test can show that the
checks about that behaviour fail (the suite can fail) without touching the stack.

    relay = Relay(outer, inner)     # outer: the SPEC the suite attaches to (relay binds
                                    # outer.local); inner: the target's SPEC (relay binds
                                    # inner.remote, sends to inner.local)
    relay.mutation = fn             # fn(direction, raw) -> [(direction, raw), ...]
    relay.start(); ...; relay.stop()

direction is "in" (towards the target) or "out" (towards the suite); a mutation returns the
frames to pass on (none: dropped; the other direction: injected as if the target sent it).
"""

import os
import select
import socket
import threading
import time


def passthrough(direction, raw):
    return [(direction, raw)]


class Relay(threading.Thread):
    def __init__(self, outer, inner):
        super().__init__(daemon=True)
        self.outer = outer
        self.inner = inner
        self.mutation = passthrough
        self.errors = []
        self._halt = threading.Event()
        self.s_out = self._bind(outer.local)
        self.s_in = self._bind(inner.remote)

    @staticmethod
    def _bind(path):
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.setblocking(False)
        return s

    def _send(self, direction, raw):
        s, to = (self.s_in, self.inner.local) if direction == "in" else \
            (self.s_out, self.outer.remote)
        deadline = time.monotonic() + 1.0
        while True:
            try:
                s.sendto(raw, to)
                return
            except BlockingIOError:
                # the receiver's queue is full (a unix datagram socket holds only a few
                # frames): wait for it as a wire would not drop a burst a mutation injects
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)
            except OSError:
                return  # the other side is not there (yet): a lost frame, as on a wire

    def run(self):
        while not self._halt.is_set():
            r, _, _ = select.select([self.s_out, self.s_in], [], [], 0.05)
            for s in r:
                try:
                    raw = s.recv(65536)
                except BlockingIOError:
                    continue
                direction = "in" if s is self.s_out else "out"
                try:
                    frames = self.mutation(direction, raw)
                except Exception as e:  # a broken mutation must not stop the relay
                    self.errors.append(repr(e))
                    frames = [(direction, raw)]
                for d, f in frames:
                    self._send(d, bytes(f))

    def stop(self):
        self._halt.set()
        self.join(2)
        for s, p in ((self.s_out, self.outer.local), (self.s_in, self.inner.remote)):
            s.close()
            try:
                os.unlink(p)
            except OSError:
                pass
